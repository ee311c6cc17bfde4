"""The strategy API: what a user writes.

A strategy is a class with typed params and one numba kernel::

    from dataclasses import dataclass
    from numba import njit
    from phantom_pipeline.strategy import Strategy

    @njit(cache=True)
    def on_tick(tick, pools, state, params, out):
        ...                      # decide; write up to len(out) intents into out
        return n_intents

    class MyStrategy(Strategy):
        @dataclass
        class Params:
            min_profit: int = 1_000
        kernel = on_tick

The kernel is called by the runtime's numba loop for every market record, never from
Python, and must not allocate. It receives:

* ``tick`` — the ``MarketUpdate`` record (read-only view of the ring slot);
* ``pools`` — a process-local, seqlock-consistent copy of the ``pools`` table (structured
  array of ``PoolState``, indexed by pool id), refreshed for ``tick.pool_id`` before the call
  (and entirely after a ``Resync``);
* ``state`` — the strategy's own array(s) from ``make_state`` (persist across ticks; start
  fresh after a swap unless the new strategy rebuilds them from ``pools``);
* ``params`` — a 1-element structured array built from ``Params`` (``params[0].min_profit``),
  updated in place when params are reloaded;
* ``out`` — an ``OrderIntent`` array to fill: ``route_id``, ``amount_in``, ``min_out``,
  ``cu_price_micro_lamports``, ``tip_lamports``, ``expected_profit``, ``flags``,
  ``tick_array_variant`` (0: the signer picks the Whirlpool tick arrays for the pool's
  current tick; other values name one of the route's templates). The runtime fills
  ``seq``, ``epoch``, ``tick_seq`` and the timestamps, and publishes them.

It returns how many intents it wrote (0 for none).
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any, ClassVar

import numpy as np

_PARAM_TYPES: dict[type, np.dtype[Any]] = {
    int: np.dtype(np.int64),
    float: np.dtype(np.float64),
    bool: np.dtype(np.bool_),
}


class StrategyError(Exception):
    """A strategy could not be loaded, configured or compiled; the message says why."""


@dataclasses.dataclass
class NoParams:
    """A strategy without parameters."""


class Strategy:
    """Base class of strategies. Subclasses set ``Params`` (a dataclass) and ``kernel``."""

    Params: ClassVar[type[Any]] = NoParams
    kernel: ClassVar[Any] = None
    #: Intents one tick may produce at most (size of ``out``).
    max_intents_per_tick: ClassVar[int] = 4

    def __init__(
        self, params: Any | None = None, routes: list[dict[str, Any]] | None = None
    ) -> None:
        self.params = params if params is not None else self.Params()
        #: The instance's ``[[routes]]`` (route id = position), for strategies that trade them.
        self.routes: list[dict[str, Any]] = list(routes or [])

    def make_state(self, n_pools: int) -> np.ndarray[Any, Any]:
        """The strategy's own state array (default: one int64 per pool)."""
        return np.zeros(max(n_pools, 1), dtype=np.int64)

    @classmethod
    def params_dtype(cls) -> np.dtype[np.void]:
        """Structured dtype of ``Params``: int -> int64, float -> float64, bool -> bool."""
        fields = []
        hints = _resolved_hints(cls.Params)
        for f in dataclasses.fields(cls.Params):
            typ = hints.get(f.name, f.type)
            if typ not in _PARAM_TYPES:
                raise StrategyError(
                    f"{cls.__name__}.Params.{f.name}: type {typ!r} is not supported; use int, "
                    "float or bool"
                )
            fields.append((f.name, _PARAM_TYPES[typ]))
        if not fields:
            fields.append(("_unused", np.dtype(np.int64)))
        return np.dtype(fields)

    def params_array(self) -> np.ndarray[Any, Any]:
        """``params`` as the 1-element structured array the kernel receives."""
        arr = np.zeros(1, dtype=self.params_dtype())
        fill_params(arr, self.params)
        return arr

    @classmethod
    def parse_params(cls, values: dict[str, Any]) -> Any:
        """Build ``Params`` from a mapping (e.g. a TOML table); unknown keys and wrong
        types are errors naming the key."""
        known = {f.name: f for f in dataclasses.fields(cls.Params)}
        hints = _resolved_hints(cls.Params)
        kwargs = {}
        for key, value in values.items():
            if key not in known:
                raise StrategyError(
                    f"params.{key}: unknown parameter of {cls.__name__} "
                    f"(known: {', '.join(known) or 'none'})"
                )
            typ = hints.get(key, known[key].type)
            ok = isinstance(value, typ) and not (typ is int and isinstance(value, bool))
            if typ is float and isinstance(value, int) and not isinstance(value, bool):
                value, ok = float(value), True
            if not ok:
                raise StrategyError(
                    f"params.{key}: expected {getattr(typ, '__name__', typ)}, got {value!r}"
                )
            kwargs[key] = value
        return cls.Params(**kwargs)


def _resolved_hints(params_cls: type) -> dict[str, Any]:
    import typing

    try:
        return typing.get_type_hints(params_cls)
    except Exception as e:  # a forward reference that does not resolve
        raise StrategyError(f"{params_cls.__qualname__}: cannot resolve field types: {e}") from e


def fill_params(arr: np.ndarray[Any, Any], params: Any) -> None:
    """Write the dataclass ``params`` into the structured array ``arr`` (in place)."""
    for f in dataclasses.fields(params):
        arr[0][f.name] = getattr(params, f.name)


def load_strategy_class(spec: str) -> type[Strategy]:
    """Import ``MODULE:CLASS`` and check it is a usable strategy."""
    module_name, sep, cls_name = spec.partition(":")
    if not sep or not module_name or not cls_name:
        raise StrategyError(
            f"{spec!r}: expected MODULE:CLASS, e.g. phantom_pipeline.strategies.two_pool:TwoPoolArb"
        )
    try:
        module = importlib.import_module(module_name)
    except Exception as e:
        raise StrategyError(f"{spec}: cannot import {module_name}: {type(e).__name__}: {e}") from e
    cls = getattr(module, cls_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise StrategyError(
            f"{spec}: {cls_name} is not a phantom_pipeline.strategy.Strategy subclass"
        )
    if cls.kernel is None or not hasattr(cls.kernel, "py_func"):
        raise StrategyError(f"{spec}: {cls_name}.kernel must be a numba @njit(cache=True) function")
    return cls

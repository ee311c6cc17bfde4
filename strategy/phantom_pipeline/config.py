"""The instance config (TOML): the supervisor's and the strategy's tables, validated here.

One file configures an instance. Each process reads only its own tables: ``[supervisor]``
and ``[strategy]`` here; ``[feeder]`` and ``[signer]`` (and the shared ``[[pools]]`` and
``[[routes]]``) by the Rust executables, which validate them with ``--check-config``, so
their schema lives in one place. Unknown keys are errors; every error names the key.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TOP_LEVEL = ("supervisor", "strategy", "feeder", "signer", "pools", "routes")


class ConfigError(Exception):
    """The config is invalid; the message names the key and the problem."""


def redact_url(url: str) -> str:
    """``scheme://host[:port]`` of ``url``; the rest (path, query, fragment, user info: where
    API keys live) becomes ``/…``. The same rule as the Rust ``phantom_config::redact_url``;
    every URL the CLI shows (``status``, ``status --json``) goes through it."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "<not a URL>"
    authority = rest
    for stop in "/?#":
        authority = authority.split(stop, 1)[0]
    host = authority.rsplit("@", 1)[-1]
    tail = "/…" if len(rest) > len(authority) or "@" in authority else ""
    return f"{scheme}://{host}{tail}"


def _pow2(v: int) -> bool:
    return v > 0 and v & (v - 1) == 0


@dataclass
class SupervisorConfig:
    """``[supervisor]``: segment sizes, restarts, timeouts."""

    market_capacity: int = 65536
    intents_capacity: int = 4096
    reports_capacity: int = 4096
    mlock: bool = False
    restart_backoff_min_ms: int = 200
    restart_backoff_max_ms: int = 10_000
    heartbeat_timeout_ms: int = 5_000
    swap_timeout_ms: int = 5_000
    swap_warmup_timeout_ms: int = 300_000
    stale_after_ms: int = 5_000
    #: More restarts of one process than this within ``restart_window_s`` halts the
    #: instance: the kill switch goes on and nothing is restarted any more.
    max_restarts: int = 5
    restart_window_s: int = 60
    #: Where ``start`` puts the processes when no ``--cpus`` is given: ``"auto"`` chooses
    #: from the core count (:func:`auto_cpus`), ``"off"`` (the default: measured better on a
    #: shared VM, docs/benchmarks.md) leaves them to the scheduler.
    placement: str = "off"


@dataclass
class StrategyConfig:
    """``[strategy]``: which strategy runs and how it waits."""

    name: str = "phantom_pipeline.strategies.arb:TwoPoolArb"
    params: dict[str, Any] = field(default_factory=dict)
    wait: str = "adaptive"
    batch: int = 256
    #: "enforce": the strategy runs in the sandbox (phantom_pipeline.sandbox); "off": not.
    sandbox: str = "enforce"
    #: Directories strategies are imported from (relative to the config's directory).
    import_path: list[str] = field(default_factory=list)


@dataclass
class Config:
    """A validated instance config. ``raw`` keeps every table for the Rust processes."""

    path: Path | None
    supervisor: SupervisorConfig
    strategy: StrategyConfig
    raw: dict[str, Any]

    @property
    def n_pools(self) -> int:
        return len(self.raw.get("pools", []))

    def spinners(self) -> list[str]:
        """Processes configured to busy-poll (each needs a core of its own)."""
        out = []
        if self.strategy.wait == "spin":
            out.append("strategy")
        for proc in ("feeder", "signer"):
            table = self.raw.get(proc, {})
            if isinstance(table, dict) and table.get("wait") == "spin":
                out.append(proc)
        return out


def _fill(cls: type, table: Any, where: str, checks: dict[str, Any]) -> Any:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: must be a table")
    fields = cls.__dataclass_fields__  # type: ignore[attr-defined]
    kwargs = {}
    for key, value in table.items():
        if key not in fields:
            raise ConfigError(f"{where}.{key}: unknown key (known: {', '.join(fields)})")
        expected = type(getattr(cls(), key))
        if expected is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise ConfigError(f"{where}.{key}: expected an integer, got {value!r}")
        if expected is not int and not isinstance(value, expected):
            raise ConfigError(
                f"{where}.{key}: expected {expected.__name__}, got {type(value).__name__}"
            )
        check = checks.get(key)
        if check is not None:
            problem = check(value)
            if problem:
                raise ConfigError(f"{where}.{key}: {problem}, got {value!r}")
        kwargs[key] = value
    return cls(**kwargs)


_SUPERVISOR_CHECKS = {
    "market_capacity": lambda v: None if _pow2(v) else "must be a power of two",
    "intents_capacity": lambda v: None if _pow2(v) else "must be a power of two",
    "reports_capacity": lambda v: None if _pow2(v) else "must be a power of two",
    "restart_backoff_min_ms": lambda v: None if v > 0 else "must be positive",
    "restart_backoff_max_ms": lambda v: None if v > 0 else "must be positive",
    "heartbeat_timeout_ms": lambda v: None if v > 0 else "must be positive",
    "swap_timeout_ms": lambda v: None if v > 0 else "must be positive",
    "swap_warmup_timeout_ms": lambda v: None if v > 0 else "must be positive",
    "stale_after_ms": lambda v: None if v > 0 else "must be positive",
    "max_restarts": lambda v: None if v >= 0 else "must not be negative",
    "restart_window_s": lambda v: None if v > 0 else "must be positive",
    "placement": lambda v: None if v in ("auto", "off") else 'expected "auto" or "off"',
}

_STRATEGY_CHECKS = {
    "name": lambda v: None if v.count(":") == 1 and all(v.split(":")) else "expected MODULE:CLASS",
    "wait": lambda v: None if v in ("spin", "adaptive") else 'expected "spin" or "adaptive"',
    "batch": lambda v: None if 1 <= v <= 65536 else "must be between 1 and 65536",
    "sandbox": lambda v: None if v in ("enforce", "off") else 'expected "enforce" or "off"',
    "import_path": lambda v: (
        None if all(isinstance(p, str) and p for p in v) else "expected a list of directories"
    ),
}


#: Per-route keys whose values the strategies read too (the signer validates the rest of
#: ``[[routes]]``): the floors on a route's last ``min_out``.
_ROUTE_FLOORS = {
    "min_profit_raw": 0,  # smallest allowed value
    "min_out_per_in_ppm": 1,
}


def _check_route_floors(routes: list[dict[str, Any]]) -> None:
    for i, route in enumerate(routes):
        for key, lowest in _ROUTE_FLOORS.items():
            if key not in route:
                continue
            v = route[key]
            if isinstance(v, bool) or not isinstance(v, int) or not lowest <= v < 2**64:
                raise ConfigError(
                    f"routes[{i}].{key}: expected an integer from {lowest} to 2**64 - 1, got {v!r}"
                )


def parse(text: str, path: Path | None = None) -> Config:
    """Validate a config's text (the supervisor's and strategy's tables, and the shape of
    the shared ones)."""
    where = str(path) if path else "config"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{where}: not valid TOML: {e}") from e
    for key in raw:
        if key not in TOP_LEVEL:
            raise ConfigError(f"{key}: unknown top-level key (known: {', '.join(TOP_LEVEL)})")
    for key in ("pools", "routes"):
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
            raise ConfigError(f"{key}: must be an array of tables ([[{key}]])")
    _check_route_floors(raw.get("routes", []))
    sup = _fill(SupervisorConfig, raw.get("supervisor", {}), "supervisor", _SUPERVISOR_CHECKS)
    if sup.restart_backoff_min_ms > sup.restart_backoff_max_ms:
        raise ConfigError(
            "supervisor.restart_backoff_min_ms: must not exceed restart_backoff_max_ms"
        )
    strat = _fill(StrategyConfig, raw.get("strategy", {}), "strategy", _STRATEGY_CHECKS)
    return Config(path=path, supervisor=sup, strategy=strat, raw=raw)


def load(path: Path) -> Config:
    """Read and validate ``path``; a missing or unreadable file is a ConfigError."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from e
    return parse(text, path)


def usable_cpus(requested: list[int] | None) -> list[int]:
    """The CPUs the instance may use: ``requested`` (checked against the affinity mask) or
    every CPU this process may run on."""
    allowed = sorted(os.sched_getaffinity(0))
    if requested is None:
        return allowed
    bad = [c for c in requested if c not in allowed]
    if bad:
        raise ConfigError(f"--cpus: CPU(s) {bad} not available (allowed: {allowed})")
    return sorted(set(requested))


def check_spinners(config: Config, cpus: list[int]) -> None:
    """Refuse ``spin`` unless every spinning process can have a core of its own."""
    spinners = config.spinners()
    if len(spinners) > len(cpus):
        raise ConfigError(
            f'wait = "spin" for {", ".join(spinners)} needs {len(spinners)} cores of their '
            f"own, but only {len(cpus)} are available ({cpus}): spinners sharing a core "
            'preempt each other and latency collapses. Use wait = "adaptive" or give more '
            "cores with --cpus."
        )


#: Up to this many usable cores, ``placement = "auto"`` puts feeder, signer and strategy on one.
AUTO_SHARED_CORE_MAX = 4


def auto_cpus(config: Config, allowed: list[int]) -> list[int] | None:
    """The CPUs ``start`` pins the processes to when ``--cpus`` is not given (None: leave them
    to the scheduler). ``placement = "auto"`` (opt-in) on a machine with at most
    :data:`AUTO_SHARED_CORE_MAX` usable cores, every process waiting ``adaptive``: all three on
    the last usable core, so that each hop's producer wakes its consumer on its own core (a
    local wake-up, no inter-processor interrupt to an idle vCPU) and, the learned wait
    sleeping at once at these rates, the consumer runs as soon as the producer waits
    (issue 16). Spinners need cores of their own (``check_spinners``); more cores than that
    are left to the scheduler."""
    if config.supervisor.placement != "auto" or config.spinners() or not allowed:
        return None
    if len(allowed) > AUTO_SHARED_CORE_MAX:
        return None
    return [allowed[-1]]


def parse_cpus(spec: str | None) -> list[int] | None:
    """``--cpus`` syntax: ``2,3`` or ``2-5`` or a mix; None when not given."""
    if spec is None:
        return None
    cpus: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        try:
            if "-" in part:
                lo, hi = (int(x) for x in part.split("-", 1))
                if lo > hi:
                    raise ValueError
                cpus.extend(range(lo, hi + 1))
            else:
                cpus.append(int(part))
        except ValueError:
            raise ConfigError(f"--cpus: {part!r} is not a CPU number or range like 2-5") from None
    return cpus

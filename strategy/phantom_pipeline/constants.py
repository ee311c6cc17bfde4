"""Named values of the schema (record kinds, statuses, lease states, wait steps, program ids),
taken from the Rust definitions at import so the two sides cannot disagree, and so no name or
value is written twice. Module-level ints, so numba code freezes them into compiled (and
cached) functions.

Each Rust group becomes ``PREFIX_NAME`` here, with the prefix the Rust side gives it: e.g.
``market_kind::POOL_UPDATE`` is :data:`MARKET_POOL_UPDATE`, ``lease_state::HELD`` is
``LEASE_HELD``, ``wait_step::YIELD`` is ``WAIT_STEP_YIELD``. :data:`GROUPS` holds every group
as ``{group: {NAME: value}}``; :data:`PROGRAM_IDS` the known programs by name (base58).
"""

from __future__ import annotations

from typing import Any

from phantom_pipeline import _native

_C = _native.constants()
_PREFIX: dict[str, str] = _C.pop("_prefix")

GROUPS: dict[str, dict[str, int]] = _C
PROGRAM_IDS: dict[str, str] = _native.program_ids()
#: The Whirlpool program's sqrt-price bounds (Q64.64): the limits of unbounded swaps.
WHIRLPOOL_MIN_SQRT_PRICE_X64, WHIRLPOOL_MAX_SQRT_PRICE_X64 = _native.whirlpool_sqrt_price_bounds()

for _group, _prefix in _PREFIX.items():
    for _name, _value in GROUPS[_group].items():
        globals()[f"{_prefix}_{_name}"] = _value


def __getattr__(name: str) -> Any:
    # Only reached for a name the loop above did not define: say which ones exist.
    raise AttributeError(
        f"phantom_pipeline.constants has no {name!r}; names are PREFIX_NAME with PREFIX in "
        f"{sorted(set(_PREFIX.values()))}"
    )

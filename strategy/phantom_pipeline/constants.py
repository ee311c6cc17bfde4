"""Named values of the schema (record kinds, statuses, lease states), taken from the Rust
definitions at import so the two sides cannot disagree. Module-level ints, so numba code
freezes them into compiled (and cached) functions."""

from __future__ import annotations

from phantom_pipeline import _native

_C = _native.constants()

MARKET_POOL_UPDATE: int = _C["market_kind"]["POOL_UPDATE"]
MARKET_SLOT: int = _C["market_kind"]["SLOT"]
MARKET_RESYNC: int = _C["market_kind"]["RESYNC"]
MARKET_GAP: int = _C["market_kind"]["GAP"]
MARKET_HEARTBEAT: int = _C["market_kind"]["HEARTBEAT"]

POOL_RAYDIUM_AMM_V4: int = _C["pool_kind"]["RAYDIUM_AMM_V4"]
POOL_RAYDIUM_CPMM: int = _C["pool_kind"]["RAYDIUM_CPMM"]
POOL_ORCA_WHIRLPOOL: int = _C["pool_kind"]["ORCA_WHIRLPOOL"]

EXEC_ACCEPTED: int = _C["exec_status"]["ACCEPTED"]
EXEC_REJECTED: int = _C["exec_status"]["REJECTED"]
EXEC_SIGNED: int = _C["exec_status"]["SIGNED"]
EXEC_SENT: int = _C["exec_status"]["SENT"]
EXEC_LANDED: int = _C["exec_status"]["LANDED"]
EXEC_FAILED: int = _C["exec_status"]["FAILED"]

LEASE_FREE: int = _C["lease_state"]["FREE"]
LEASE_HELD: int = _C["lease_state"]["HELD"]
LEASE_STEP_DOWN_REQUESTED: int = _C["lease_state"]["STEP_DOWN_REQUESTED"]
LEASE_RELEASED: int = _C["lease_state"]["RELEASED"]

INTENT_SIMULATE: int = _C["intent_flags"]["SIMULATE"]

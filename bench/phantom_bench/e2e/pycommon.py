"""Shared parts of the Python comparison systems (see ``pysystems``).

Everything here does what the pipeline's own components do, in plain Python:

* the instance config (``[feeder]``, ``[[pools]]``, ``[[routes]]``, ``[strategy].params``,
  ``[signer].keypair_path``) and the feeder's watched-account list;
* account decoders written from the layouts in ``feeder/src/decode`` (``struct``), and the
  feeder's pool assembly under the two-vault rule (``feeder/src/pool_state.rs``);
* the ``TwoPoolArb`` maths of ``strategies/arb.py`` in Python ints, with the numba kernel's
  64/128-bit truncations, so the same opportunities fire with the same amounts;
* the signer's transaction (``signer/src/template.rs`` and ``signer/src/programs``): built
  from instructions with ``solders`` every time (:class:`SoldersSigner`), or compiled once
  per route and patched in place, signed with libsodium via PyNaCl (:class:`TemplateSigner`).
  Both give the Rust signer's bytes for the same intent and blockhash.

A published pool state travels as a flat tuple of ints (u128 values as (lo, hi) halves, like
the shared-memory ``PoolState`` record), so it crosses a ``multiprocessing`` queue or a
msgpack frame unchanged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import os
import struct
import tomllib
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from time import monotonic_ns
from typing import Any, Final

from solders.hash import Hash
from solders.pubkey import Pubkey

from phantom_pipeline.constants import (
    WHIRLPOOL_MAX_SQRT_PRICE_X64,
    WHIRLPOOL_MIN_SQRT_PRICE_X64,
)

# ----------------------------------------------------------------------------- constants

KIND_AMM_V4: Final = 0
KIND_CPMM: Final = 1
KIND_WHIRLPOOL: Final = 2
KINDS: Final = {"raydium_amm_v4": KIND_AMM_V4, "raydium_cpmm": KIND_CPMM,
                "orca_whirlpool": KIND_WHIRLPOOL}  # fmt: skip

ROLE_POOL: Final = 0
ROLE_VAULT_A: Final = 1
ROLE_VAULT_B: Final = 2

M64: Final = (1 << 64) - 1
M128: Final = (1 << 128) - 1
TWO64F: Final = 18446744073709551616.0

SPL_TOKEN_ID: Final = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"
PROGRAM_IDS: Final = {
    "raydium_amm_v4": "675kPX9MHTjS2zt1qfr1NYHuzeLXfQM9H24wFSUt1Mp8",
    "raydium_cpmm": "CPMMoo8L3F4NbTegBCKVNunggL7H1ZpdTHKxQB5qKP1C",
    "orca_whirlpool": "whirLbMiicVdio4qvUfM5KAg6Ct8VwpYzGff3uctyCc",
}
# The Whirlpool program's bounds, defined once (phantom_ringbuf::programs).
MIN_SQRT_PRICE_X64: Final = WHIRLPOOL_MIN_SQRT_PRICE_X64
MAX_SQRT_PRICE_X64: Final = WHIRLPOOL_MAX_SQRT_PRICE_X64

#: A published pool state: (is_whirlpool, reserve_a, reserve_b, fee_num, fee_den,
#: sqrt_price_lo, sqrt_price_hi, liquidity_lo, liquidity_hi).
PoolState = tuple[int, int, int, int, int, int, int, int, int]
#: A tick: (pool_id, state, frame_idx, t_recv_ns, t_decoded_ns). ``frame_idx`` and
#: ``t_recv_ns`` are those of the latest account update the state includes (-1 for the
#: JSON-RPC refetch), as the Rust feeder stamps its records.
Tick = tuple[int, PoolState, int, int, int]
#: An intent: (route_id, amount_in x3, min_out x3, cu_price_micro_lamports, tip_lamports,
#: expected_profit), flat.
Intent = tuple[int, int, int, int, int, int, int, int, int, int]


class DecodeError(ValueError):
    """Account bytes that the layout refuses (the message names the account and field)."""


class E2EConfigError(ValueError):
    """The instance config cannot drive a comparison system; the message names the key."""


# ----------------------------------------------------------------------------- config


@dataclass(frozen=True)
class PoolConfig:
    """One ``[[pools]]`` entry."""

    name: str
    kind: int
    address: str
    vaults: tuple[str, str] | None
    fee: tuple[int, int] | None
    decimals: tuple[int, int] | None


@dataclass(frozen=True)
class LegConfig:
    """One leg of a route (``[[routes.legs]]``)."""

    pool: int
    a_to_b: bool
    program: str
    program_id: str
    accounts: dict[str, str]
    #: The tick arrays of the leg's first ``tick_array_variants`` entry (Whirlpool legs): the
    #: arbitrage kernel always asks for variant 0.
    tick_arrays: tuple[str, str, str] | None


@dataclass(frozen=True)
class LookupTable:
    """An address lookup table and its contents (``[[routes.address_lookup_tables]]``)."""

    address: str
    addresses: tuple[str, ...]


@dataclass(frozen=True)
class RouteConfig:
    """One ``[[routes]]`` entry."""

    name: str
    compute_unit_limit: int
    max_amount_in_raw: int
    legs: tuple[LegConfig, ...]
    tip_account: str | None
    lookup_tables: tuple[LookupTable, ...]
    min_profit_raw: int = 0
    min_out_per_in_ppm: int = 0


@dataclass(frozen=True)
class ArbParams:
    """``TwoPoolArb``'s params with the same names and defaults as
    ``phantom_pipeline.strategies.arb.ArbParams`` (kept apart so that these systems do not
    import numba; a test checks that the two agree)."""

    min_profit: int = 1_000
    max_amount_in: int = 1_000_000_000_000
    slippage_bps: int = 30
    cu_limit: int = 200_000
    cu_price_micro_lamports: int = 10_000
    tip_lamports: int = 0
    base_fee_lamports: int = 5_000
    costs_in_input: bool = True


@dataclass(frozen=True)
class Watched:
    """One subscribed account: its pool, its role there and its address."""

    pool: int
    role: int
    address: str


@dataclass(frozen=True)
class SystemConfig:
    """What a comparison system needs from the instance config."""

    ws: str
    rpc: str
    commitment: str
    pools: tuple[PoolConfig, ...]
    routes: tuple[RouteConfig, ...]
    params: ArbParams
    keypair: bytes = field(repr=False)
    watched: tuple[Watched, ...]


def _table(v: Any, where: str) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise E2EConfigError(f"{where}: must be a table")
    return v


def _int(v: Any, where: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise E2EConfigError(f"{where}: expected an integer, got {v!r}")
    return v


def _address(v: Any, where: str) -> str:
    if not isinstance(v, str):
        raise E2EConfigError(f"{where}: expected a base58 address, got {v!r}")
    try:
        Pubkey.from_string(v)
    except ValueError:
        raise E2EConfigError(f"{where}: {v!r} is not a base58 address of 32 bytes") from None
    return v


def parse_pools(raw: dict[str, Any]) -> tuple[PoolConfig, ...]:
    pools = []
    for i, p in enumerate(raw.get("pools", [])):
        key = f"pools[{i}]"
        p = _table(p, key)
        kind = KINDS.get(p.get("kind", ""))
        if kind is None:
            raise E2EConfigError(f"{key}.kind: expected one of {', '.join(KINDS)}")
        vaults = None
        if kind != KIND_WHIRLPOOL:
            v = p.get("vaults")
            if not isinstance(v, list) or len(v) != 2:
                raise E2EConfigError(f"{key}.vaults: a vault-priced pool needs two vaults")
            vaults = (_address(v[0], f"{key}.vaults[0]"), _address(v[1], f"{key}.vaults[1]"))
        fee = None
        if "fee_numerator" in p and "fee_denominator" in p:
            fee = (_int(p["fee_numerator"], f"{key}.fee_numerator"),
                   _int(p["fee_denominator"], f"{key}.fee_denominator"))  # fmt: skip
        dec = p.get("decimals")
        decimals = (int(dec[0]), int(dec[1])) if isinstance(dec, list) and len(dec) == 2 else None
        pools.append(PoolConfig(name=str(p.get("name", key)), kind=kind,
                                address=_address(p.get("address"), f"{key}.address"),
                                vaults=vaults, fee=fee, decimals=decimals))  # fmt: skip
    return tuple(pools)


def parse_routes(raw: dict[str, Any], n_pools: int | None = None) -> tuple[RouteConfig, ...]:
    """The routes; a leg without ``program`` takes its pool's ``kind``. A leg given by pool
    and direction only has no accounts here: see :func:`derive_accounts`."""
    kinds = [p.get("kind") if isinstance(p, dict) else None for p in raw.get("pools", [])]
    routes = []
    for r, route in enumerate(raw.get("routes", [])):
        key = f"routes[{r}]"
        route = _table(route, key)
        legs = []
        for j, leg in enumerate(route.get("legs", [])):
            lkey = f"{key}.legs[{j}]"
            leg = _table(leg, lkey)
            program = leg.get("program")
            if program is None and isinstance(leg.get("pool"), int) and leg["pool"] < len(kinds):
                program = kinds[leg["pool"]]
            if program not in PROGRAM_IDS:
                raise E2EConfigError(f"{lkey}.program: {program!r} is not a swap program")
            pool = _int(leg.get("pool"), f"{lkey}.pool")
            if n_pools is not None and not 0 <= pool < n_pools:
                raise E2EConfigError(f"{lkey}.pool: {pool} is not a pool index")
            direction = leg.get("direction")
            if direction not in ("a_to_b", "b_to_a"):
                raise E2EConfigError(f'{lkey}.direction: expected "a_to_b" or "b_to_a"')
            named = _table(leg.get("accounts", {}), f"{lkey}.accounts")
            accounts = {k: _address(v, f"{lkey}.accounts.{k}") for k, v in named.items()}
            tick_arrays = None
            variants = leg.get("tick_array_variants", [])
            if program == "orca_whirlpool":
                arrays = variants[0]["tick_arrays"] if variants else []
                padded = [*arrays, *(["11111111111111111111111111111111"] * 3)][:3]
                tick_arrays = (padded[0], padded[1], padded[2])
            program_id = leg.get("program_id") or PROGRAM_IDS[program]
            legs.append(LegConfig(pool=pool, a_to_b=direction == "a_to_b", program=program,
                                  program_id=_address(program_id, f"{lkey}.program_id"),
                                  accounts=accounts, tick_arrays=tick_arrays))  # fmt: skip
        if not 1 <= len(legs) <= 3:
            raise E2EConfigError(f"{key}.legs: expected 1 to 3 legs, got {len(legs)}")
        tip = route.get("tip_account")
        tables = tuple(
            LookupTable(address=_address(t["address"], f"{key}.address_lookup_tables"),
                        addresses=tuple(t.get("addresses", [])))
            for t in route.get("address_lookup_tables", [])
        )  # fmt: skip
        routes.append(RouteConfig(
            name=str(route.get("name", key)),
            compute_unit_limit=_int(route.get("compute_unit_limit"), f"{key}.compute_unit_limit"),
            max_amount_in_raw=_int(route.get("max_amount_in_raw", 0), f"{key}.max_amount_in_raw"),
            legs=tuple(legs),
            tip_account=None if tip is None else _address(tip, f"{key}.tip_account"),
            lookup_tables=tables,
            min_profit_raw=_int(route.get("min_profit_raw", 0), f"{key}.min_profit_raw"),
            min_out_per_in_ppm=_int(route.get("min_out_per_in_ppm", 0),
                                    f"{key}.min_out_per_in_ppm"),
        ))  # fmt: skip
    return tuple(routes)


def parse_params(values: dict[str, Any]) -> ArbParams:
    known = {f.name: f for f in fields(ArbParams)}
    kwargs: dict[str, Any] = {}
    for k, v in values.items():
        if k not in known:
            raise E2EConfigError(f"strategy.params.{k}: unknown parameter of TwoPoolArb")
        if k == "costs_in_input":
            if not isinstance(v, bool):
                raise E2EConfigError(f"strategy.params.{k}: expected a bool, got {v!r}")
            kwargs[k] = v
        else:
            kwargs[k] = _int(v, f"strategy.params.{k}")
    return ArbParams(**kwargs)


def watched_accounts(pools: Sequence[PoolConfig]) -> tuple[Watched, ...]:
    """The feeder's subscriptions, in its order (``feeder/src/engine.rs``): per pool, the
    pool account, then vault A and vault B for vault-priced kinds."""
    out = []
    for i, p in enumerate(pools):
        out.append(Watched(i, ROLE_POOL, p.address))
        if p.vaults is not None:
            out.append(Watched(i, ROLE_VAULT_A, p.vaults[0]))
            out.append(Watched(i, ROLE_VAULT_B, p.vaults[1]))
    return tuple(out)


def read_keypair(path: Path) -> bytes:
    """A solana-keygen JSON keypair: 64 bytes, the 32-byte seed then the public key."""
    try:
        values = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise E2EConfigError(f"signer.keypair_path: cannot read {path}: {e}") from None
    if not isinstance(values, list) or len(values) != 64:
        raise E2EConfigError(f"signer.keypair_path: {path} is not a 64-byte keypair")
    return bytes(values)


def derive_accounts(path: Path, routes: tuple[RouteConfig, ...]) -> tuple[RouteConfig, ...]:
    """Fills the accounts of legs given by pool and direction from ``phantom-signer
    --print-routes`` (the signer's derivation: the baselines sign the same accounts)."""
    if all(leg.accounts for r in routes for leg in r.legs):
        return routes
    import subprocess

    from phantom_pipeline.binaries import executable

    out = subprocess.run([str(executable("phantom-signer")), "--config", str(path),
                          "--print-routes"], capture_output=True, text=True, timeout=120,
                         check=False)  # fmt: skip
    if out.returncode != 0:
        raise E2EConfigError(f"deriving the routes' accounts: {out.stderr.strip()}")
    report = json.loads(out.stdout)["routes"]
    resolved = []
    for r, route in enumerate(routes):
        legs = []
        for j, leg in enumerate(route.legs):
            got = report[r]["legs"][j]
            arrays = leg.tick_arrays
            if leg.program == "orca_whirlpool" and not leg.accounts:
                by_name = {a["name"]: a["address"] for a in got["accounts"]}
                arrays = (by_name["tick_array_0"], by_name["tick_array_1"],
                          by_name["tick_array_2"])  # fmt: skip
            legs.append(replace(leg, accounts=leg.accounts or dict(got["named"]),
                                tick_arrays=arrays))  # fmt: skip
        resolved.append(replace(route, legs=tuple(legs)))
    return tuple(resolved)


def load_config(path: Path) -> SystemConfig:
    raw = tomllib.loads(path.read_text())
    feeder = _table(raw.get("feeder", {}), "feeder")
    endpoints = feeder.get("endpoints", [])
    if not endpoints:
        raise E2EConfigError("feeder.endpoints: at least one endpoint is needed")
    ep = _table(endpoints[0], "feeder.endpoints[0]")
    pools = parse_pools(raw)
    strategy = _table(raw.get("strategy", {}), "strategy")
    signer = _table(raw.get("signer", {}), "signer")
    if "keypair_path" not in signer:
        raise E2EConfigError("signer.keypair_path: required")
    return SystemConfig(
        ws=str(ep["ws"]),
        rpc=str(ep["rpc"]),
        commitment=str(feeder.get("commitment", "processed")),
        pools=pools,
        routes=derive_accounts(path, parse_routes(raw, len(pools))),
        params=parse_params(_table(strategy.get("params", {}), "strategy.params")),
        keypair=read_keypair(Path(signer["keypair_path"])),
        watched=watched_accounts(pools),
    )


# ----------------------------------------------------------------------------- decoders

TOKEN_LEN: Final = 165
AMM_V4_LEN: Final = 752
CPMM_LEN: Final = 637
WHIRLPOOL_LEN: Final = 653
CPMM_DISCRIMINATOR: Final = hashlib.sha256(b"account:PoolState").digest()[:8]
WHIRLPOOL_DISCRIMINATOR: Final = hashlib.sha256(b"account:Whirlpool").digest()[:8]

_TOKEN_TAGS = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_TWO_U64 = struct.Struct("<QQ")
_FOUR_U64 = struct.Struct("<QQQQ")
_WP_PRICE = struct.Struct("<QQQQi")
_U16 = struct.Struct("<H")


def token_amount(data: bytes) -> int:
    """The balance of an SPL Token / Token-2022 account, accepting what the feeder's
    ``token::amount`` accepts (length, account type, the three option tags, the state)."""
    n = len(data)
    if n < TOKEN_LEN:
        raise DecodeError(f"SPL Token account: data is {n} bytes, expected at least 165")
    if n > TOKEN_LEN and (n == 355 or data[TOKEN_LEN] != 2):
        raise DecodeError("SPL Token account: not a token account (account_type)")
    for off, name in ((72, "delegate"), (109, "is_native"), (129, "close_authority")):
        if _TOKEN_TAGS.unpack_from(data, off)[0] > 1:
            raise DecodeError(f"SPL Token account: field {name} has an invalid tag")
    if data[108] > 2:
        raise DecodeError("SPL Token account: field state has an invalid value")
    return int(_U64.unpack_from(data, 64)[0])


def decode_amm_v4(data: bytes) -> tuple[int, int, int, int]:
    """``AmmInfo`` (752 bytes): (need_take_pnl_coin, need_take_pnl_pc, swap_fee_numerator,
    swap_fee_denominator)."""
    if len(data) != AMM_V4_LEN:
        raise DecodeError(f"Raydium AMM v4 AmmInfo: data is {len(data)} bytes, expected 752")
    fee_num, fee_den = _TWO_U64.unpack_from(data, 176)
    owed_a, owed_b = _TWO_U64.unpack_from(data, 192)
    return owed_a, owed_b, fee_num, fee_den


def decode_cpmm(data: bytes) -> tuple[int, int]:
    """CPMM ``PoolState`` (637 bytes): the fees owed in vault 0 and vault 1 (protocol + fund
    + creator, saturating like the feeder)."""
    if len(data) != CPMM_LEN:
        raise DecodeError(f"Raydium CPMM PoolState: data is {len(data)} bytes, expected 637")
    if data[:8] != CPMM_DISCRIMINATOR:
        raise DecodeError("Raydium CPMM PoolState: wrong discriminator")
    p0, p1, f0, f1 = _FOUR_U64.unpack_from(data, 341)
    c0, c1 = _TWO_U64.unpack_from(data, 397)
    return min(p0 + f0 + c0, M64), min(p1 + f1 + c1, M64)


def decode_whirlpool(data: bytes) -> tuple[int, int, int, int, int, int]:
    """``Whirlpool`` (653 bytes): (sqrt_price, liquidity, tick_current_index, tick_spacing,
    fee_rate, fee denominator 1e6)."""
    if len(data) != WHIRLPOOL_LEN:
        raise DecodeError(f"Orca Whirlpool: data is {len(data)} bytes, expected 653")
    if data[:8] != WHIRLPOOL_DISCRIMINATOR:
        raise DecodeError("Orca Whirlpool: wrong discriminator")
    liq_lo, liq_hi, sp_lo, sp_hi, tick = _WP_PRICE.unpack_from(data, 49)
    spacing = _U16.unpack_from(data, 41)[0]
    fee_rate = _U16.unpack_from(data, 45)[0]
    return (sp_hi << 64) | sp_lo, (liq_hi << 64) | liq_lo, tick, spacing, fee_rate, 1_000_000


# ----------------------------------------------------------------------------- assembly


class PoolAssembler:
    """One pool under the feeder's rules (``feeder/src/pool_state.rs``): an account never
    goes back a slot; a vault-priced pool is published when both vaults of slot S are in, or
    when slot S+1 begins (a slot notification or a later update of the pool), with the latest
    state of each account; an update of an already-ended slot is published at once; a
    Whirlpool is published on every update; a pool owing more than its vault holds is counted,
    not published."""

    __slots__ = ("arrival", "current_slot", "fee", "inconsistent", "is_whirlpool", "kind",
                 "pending", "pool", "pool_slot", "vault_a", "vault_a_slot", "vault_b",
                 "vault_b_slot")  # fmt: skip

    def __init__(self, config: PoolConfig) -> None:
        self.kind = config.kind
        self.is_whirlpool = config.kind == KIND_WHIRLPOOL
        #: CPMM: the trade fee from the config (the account does not hold it).
        self.fee = config.fee if config.fee is not None else (0, 1)
        self.pool: tuple[int, ...] | None = None
        self.pool_slot = -1
        self.vault_a: int | None = None
        self.vault_a_slot = -1
        self.vault_b: int | None = None
        self.vault_b_slot = -1
        self.current_slot = 0
        self.pending: int | None = None
        self.arrival = (-1, 0)
        self.inconsistent = 0

    def on_slot(self, slot: int, publish: Callable[[PoolState, tuple[int, int]], None]) -> None:
        if slot > self.current_slot:
            self.current_slot = slot
        p = self.pending
        if p is not None and slot > p:
            self.pending = None
            self._emit(publish)

    def on_account(
        self,
        slot: int,
        role: int,
        value: Any,
        arrival: tuple[int, int],
        publish: Callable[[PoolState, tuple[int, int]], None],
    ) -> bool:
        """Apply one decoded update; False when refused (older slot than the account's)."""
        if role == ROLE_POOL:
            account_slot = self.pool_slot
        elif self.is_whirlpool:
            return False  # a Whirlpool has no vault accounts
        else:
            account_slot = self.vault_a_slot if role == ROLE_VAULT_A else self.vault_b_slot
        if slot < account_slot:
            return False
        self.on_slot(slot, publish)  # a later slot's arrival ends the pending one first
        if role == ROLE_POOL:
            self.pool, self.pool_slot = value, slot
        elif role == ROLE_VAULT_A:
            self.vault_a, self.vault_a_slot = value, slot
        else:
            self.vault_b, self.vault_b_slot = value, slot
        self.arrival = arrival
        if (
            self.is_whirlpool
            or (self.vault_a_slot == slot and self.vault_b_slot == slot)
            or slot < self.current_slot
        ):
            self.pending = None
            self._emit(publish)
        else:
            self.pending = slot
        return True

    def snapshot(self) -> PoolState | None:
        """The pool as it stands; None until complete or while it owes more than it holds."""
        pool = self.pool
        if pool is None:
            return None
        if self.is_whirlpool:
            sp, liq, _tick, _spacing, fee_num, fee_den = pool
            return (1, 0, 0, fee_num, fee_den, sp & M64, sp >> 64, liq & M64, liq >> 64)
        a, b = self.vault_a, self.vault_b
        if a is None or b is None:
            return None
        if self.kind == KIND_AMM_V4:
            owed_a, owed_b, fee_num, fee_den = pool
        else:
            owed_a, owed_b = pool
            fee_num, fee_den = self.fee
        if owed_a > a or owed_b > b:
            self.inconsistent += 1
            return None
        return (0, a - owed_a, b - owed_b, fee_num, fee_den, 0, 0, 0, 0)

    def _emit(self, publish: Callable[[PoolState, tuple[int, int]], None]) -> None:
        s = self.snapshot()
        if s is not None:
            publish(s, self.arrival)


class Feeder:
    """The feeder's work on one PubSub connection: subscription requests and replies,
    notification frames in (numbered in order of receipt), ticks out.

    ``fast`` picks the tuned decode path (``binascii`` base64, no per-frame closures);
    the results are the same.
    """

    def __init__(self, config: SystemConfig, fast: bool = False) -> None:
        self.config = config
        self.watched = config.watched
        self.assemblers = [PoolAssembler(p) for p in config.pools]
        self.subs: dict[int, int] = {}
        self.slot_sub: int | None = None
        self.confirmed = 0
        self.frames = 0
        self.ticks = 0
        self.errors = 0
        self.refused = 0
        self.setup_error: str | None = None
        self._b64 = binascii.a2b_base64 if fast else base64.b64decode
        self._seen: dict[tuple[int, int, int], None] = {}
        self._newest_slot = 0
        self._out: list[Tick] = []
        self._publishers = [self._publisher(i) for i in range(len(config.pools))]

    # -- subscriptions

    def subscribe_requests(self) -> list[str]:
        """``accountSubscribe`` per watched account (id = index + 1), then ``slotSubscribe``."""
        opts = {"encoding": "base64", "commitment": self.config.commitment}
        reqs = [
            json.dumps({"jsonrpc": "2.0", "id": i + 1, "method": "accountSubscribe",
                        "params": [w.address, opts]})
            for i, w in enumerate(self.watched)
        ]  # fmt: skip
        reqs.append(json.dumps({"jsonrpc": "2.0", "id": len(self.watched) + 1,
                                "method": "slotSubscribe"}))  # fmt: skip
        return reqs

    @property
    def subscribed(self) -> bool:
        return self.confirmed == len(self.watched) + 1

    # -- frames

    def _publisher(self, pool_id: int) -> Callable[[PoolState, tuple[int, int]], None]:
        def publish(state: PoolState, arrival: tuple[int, int]) -> None:
            self.ticks += 1
            self._out.append((pool_id, state, arrival[0], arrival[1], monotonic_ns()))

        return publish

    def on_frame(self, text: str | bytes, t_recv_ns: int) -> list[Tick]:
        """Handle one text frame received at ``t_recv_ns``; returns the ticks it published."""
        out = self._out = []
        try:
            msg = json.loads(text)
            method = msg.get("method")
            if method is None:
                self._reply(msg)
                return out
            params = msg["params"]
            result = params["result"]
            if method == "accountNotification":
                sub = params["subscription"]
                slot = result["context"]["slot"]
                b64, encoding = result["value"]["data"]
                if encoding != "base64":
                    raise DecodeError(f"account data encoded as {encoding}")
                frame_idx = self.frames
                self.frames += 1
                account = self.subs.get(sub)
                if account is None:
                    self.errors += 1
                    return out
                if self._duplicate(account, slot, b64):
                    return out
                self.apply(account, slot, self._b64(b64), (frame_idx, t_recv_ns))
            elif method == "slotNotification":
                slot = result["slot"]
                self.frames += 1
                for a, publish in zip(self.assemblers, self._publishers, strict=True):
                    a.on_slot(slot, publish)
            else:
                self.errors += 1
        except (ValueError, KeyError, TypeError, IndexError, AttributeError, binascii.Error):
            self.errors += 1
        return out

    def _reply(self, msg: dict[str, Any]) -> None:
        rid = msg.get("id")
        if "error" in msg:
            self.setup_error = f"request {rid}: {msg['error']}"
            self.errors += 1
            return
        sub = msg["result"]
        if not isinstance(rid, int) or isinstance(sub, bool):
            return
        if 1 <= rid <= len(self.watched):
            self.subs[sub] = rid - 1
            self.confirmed += 1
        elif rid == len(self.watched) + 1:
            self.slot_sub = sub
            self.confirmed += 1

    def _duplicate(self, account: int, slot: int, b64: str) -> bool:
        """The feeder's dedupe: a copy of (account, slot, data) already applied is dropped."""
        seen = self._seen
        if slot > self._newest_slot:
            self._newest_slot = slot
            if len(seen) > 4096:
                floor = slot - 128
                self._seen = seen = {k: None for k in seen if k[1] >= floor}
        key = (account, slot, hash(b64))
        if key in seen:
            return True
        seen[key] = None
        return False

    def apply(self, account: int, slot: int, data: bytes, arrival: tuple[int, int]) -> None:
        """Decode watched account ``account``'s data of ``slot`` and feed its pool."""
        w = self.watched[account]
        asm = self.assemblers[w.pool]
        try:
            if w.role != ROLE_POOL:
                value: Any = token_amount(data)
            elif asm.kind == KIND_AMM_V4:
                value = decode_amm_v4(data)
            elif asm.kind == KIND_CPMM:
                value = decode_cpmm(data)
            else:
                value = decode_whirlpool(data)
        except (DecodeError, struct.error):
            self.errors += 1
            return
        if not asm.on_account(slot, w.role, value, arrival, self._publishers[w.pool]):
            self.refused += 1

    def apply_refetch(self, fetched: Sequence[tuple[int, bytes | None]]) -> list[Tick]:
        """Apply a ``getMultipleAccounts`` refetch (watched-account order), as the Rust
        feeder does on connect; its ticks carry frame index -1."""
        out = self._out = []
        t = monotonic_ns()
        for account, (slot, data) in enumerate(fetched):
            if data is not None:
                self.apply(account, slot, data, (-1, t))
        return out


# ----------------------------------------------------------------------------- JSON-RPC


def rpc_call(url: str, method: str, params: list[Any], timeout: float = 30.0) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        answer = json.loads(r.read())
    if "error" in answer:
        raise RuntimeError(f"{url}: {method}: {answer['error']}")
    return answer["result"]


def latest_blockhash(rpc: str) -> bytes:
    """``getLatestBlockhash`` (commitment confirmed, as the signer asks)."""
    result = rpc_call(rpc, "getLatestBlockhash", [{"commitment": "confirmed"}])
    return bytes(Hash.from_string(result["value"]["blockhash"]))


def get_multiple_accounts(
    rpc: str, addresses: Sequence[str], commitment: str
) -> list[tuple[int, bytes | None]]:
    """``getMultipleAccounts`` (base64) in chunks of 100: (context slot, data or None)."""
    out: list[tuple[int, bytes | None]] = []
    for i in range(0, len(addresses), 100):
        chunk = list(addresses[i : i + 100])
        result = rpc_call(rpc, "getMultipleAccounts",
                          [chunk, {"encoding": "base64", "commitment": commitment}])  # fmt: skip
        slot = int(result["context"]["slot"])
        for item in result["value"]:
            out.append((slot, None if item is None else base64.b64decode(item["data"][0])))
    return out


# ----------------------------------------------------------------------------- strategy


def mul_div(a: int, b: int, c: int) -> int:
    """``mul_div_u64``: floor(a b / c) truncated to 64 bits, 0 when c == 0."""
    return 0 if c == 0 else (a * b // c) & M64


def cp_out(amount_in: int, r_in: int, r_out: int, fee_num: int, fee_den: int) -> int:
    """``amm.cp_out``: constant product, fee taken from the input rounded up."""
    if amount_in == 0 or r_in == 0 or r_out == 0 or fee_den == 0:
        return 0
    fee = (-(-amount_in * fee_num // fee_den)) & M64
    if fee >= amount_in:
        return 0
    net = amount_in - fee
    den = (r_in + net) & M64
    return 0 if den == 0 else (r_out * net // den) & M64


def whirlpool_out(amount_in: int, a_to_b: bool, s: int, liq: int, fee_ppm: int) -> int:
    """``amm.whirlpool_out`` with its u128 truncations."""
    if amount_in == 0 or liq == 0 or s == 0:
        return 0
    fee = (-(-amount_in * fee_ppm // 1_000_000)) & M64
    if fee >= amount_in:
        return 0
    net = amount_in - fee
    if a_to_b:
        den = (liq + ((net * s >> 64) & M128)) & M128
        q = 0 if den == 0 else (-(-liq * s // den)) & M128
        if q >= s:
            return 0
        o = (liq * (s - q) >> 64) & M128
        return o if o <= M64 else M64
    ds = ((net << 64) // liq) & M128
    if ds == 0:
        return 0
    n = (s + ds) & M128
    t = (liq * ds // s) & M128
    o = 0 if n == 0 else ((t << 64) // n) & M128
    return o if o <= M64 else M64


def apply_slippage(amount: int, slippage_bps: int) -> int:
    bps = min(slippage_bps & M64, 10_000)
    return (amount * (10_000 - bps) // 10_000) & M64


def quote_leg(pool: PoolState | None, a_to_b: bool, amount_in: int) -> int:
    """``routes.quote_leg``: one leg's exact output (0 for a pool not yet published)."""
    if pool is None:
        return 0
    if pool[0]:
        fee_ppm = mul_div(pool[3], 1_000_000, pool[4])
        return whirlpool_out(amount_in, a_to_b, (pool[6] << 64) | pool[5],
                             (pool[8] << 64) | pool[7], fee_ppm)  # fmt: skip
    if a_to_b:
        return cp_out(amount_in, pool[1], pool[2], pool[3], pool[4])
    return cp_out(amount_in, pool[2], pool[1], pool[3], pool[4])


def leg_mobius(pool: PoolState | None, a_to_b: bool) -> tuple[float, float, float]:
    """``routes._leg_mobius``, the same float operations in the same order."""
    if pool is None or pool[4] == 0:
        return 0.0, 1.0, 0.0
    gamma = 1.0 - float(pool[3]) / float(pool[4])
    if pool[0]:
        s = (float(pool[6]) * TWO64F + float(pool[5])) / TWO64F
        liq = float(pool[8]) * TWO64F + float(pool[7])
        if s <= 0.0 or liq <= 0.0:
            return 0.0, 1.0, 0.0
        if a_to_b:
            return gamma * liq * s * s, liq, gamma * s
        return gamma / (s * s), 1.0, gamma / (liq * s)
    r_in = float(pool[1] if a_to_b else pool[2])
    r_out = float(pool[2] if a_to_b else pool[1])
    return r_out * gamma, r_in, gamma


def route_optimal_in(legs: Sequence[tuple[int, bool]], pools: Sequence[PoolState | None]) -> int:
    """``routes.route_optimal_in``: the Moebius optimum, located in float."""
    kk, dd, gg = 1.0, 1.0, 0.0
    for pool_id, a_to_b in legs:
        k, d, g = leg_mobius(pools[pool_id], a_to_b)
        kk, dd, gg = kk * k, dd * d, d * gg + g * kk
    if kk <= dd or gg <= 0.0:
        return 0
    x = (math.sqrt(kk) * math.sqrt(dd) - dd) / gg
    if x < 1.0 or x != x:  # (NaN: only from absurd inputs, where numba's cast is undefined)
        return 0
    if x >= 1.8e19:
        return 18_000_000_000_000_000_000
    return int(x)


def _i64(v: int) -> int:
    v &= M64
    return v - (1 << 64) if v >> 63 else v


class Arb:
    """``TwoPoolArb``: the pools table and the routes; one call per tick."""

    def __init__(
        self, routes: Sequence[RouteConfig], params: ArbParams, n_pools: int, n_legs: int = 2
    ) -> None:
        self.pools: list[PoolState | None] = [None] * n_pools
        self.n_legs = n_legs
        self.by_pool: list[list[tuple[int, tuple[tuple[int, bool], ...]]]] = [
            [] for _ in range(n_pools)
        ]
        # The signer's floors on each route's last min_out: (min_profit_raw, ppm).
        self.floors = [(r.min_profit_raw, r.min_out_per_in_ppm) for r in routes]
        for rid, route in enumerate(routes):
            if len(route.legs) != n_legs:
                continue
            legs = tuple((leg.pool, leg.a_to_b) for leg in route.legs)
            for pool_id in sorted({p for p, _ in legs}):
                self.by_pool[pool_id].append((rid, legs))
        for lst in self.by_pool:
            lst.sort(key=lambda r: r[0])
        p = params
        self.params = p
        self.max_in = p.max_amount_in & M64
        cost = 0
        if p.costs_in_input:
            cu = mul_div(p.cu_price_micro_lamports & M64, p.cu_limit & M64, 1_000_000)
            cost = _i64(_i64(p.base_fee_lamports + p.tip_lamports) + _i64(cu))
        self.cost = cost
        self.start_profit = _i64(p.min_profit - 1)
        self.slippage = p.slippage_bps
        self.floor_extra = ((cost & M64) + (p.min_profit & M64)) & M64

    def on_tick(self, pool_id: int, state: PoolState) -> Intent | None:
        """Update the pool and price every route touching it; the best intent, if any."""
        pools = self.pools
        pools[pool_id] = state
        bps = self.slippage
        best_r = -1
        best_x = 0
        best_profit = self.start_profit
        best_legs: tuple[tuple[int, bool], ...] = ()
        for rid, legs in self.by_pool[pool_id]:
            x = route_optimal_in(legs, pools)
            if x > self.max_in:
                x = self.max_in
            if x == 0:
                continue
            amount = x
            for pid, a_to_b in legs:
                amount = apply_slippage(quote_leg(pools[pid], a_to_b, amount), bps)
            profit = _i64(_i64(_i64(amount) - _i64(x)) - self.cost)
            if profit > best_profit:
                best_r, best_x, best_profit, best_legs = rid, x, profit, legs
        if best_r < 0:
            return None
        amount_in = [0, 0, 0]
        min_out = [0, 0, 0]
        amount = best_x
        for i, (pid, a_to_b) in enumerate(best_legs):
            q = quote_leg(pools[pid], a_to_b, amount)
            amount_in[i] = amount
            amount = apply_slippage(q, bps)
            if amount == 0:
                return None  # the signer refuses a zero min_out
            min_out[i] = amount
        floor_out = (best_x + self.floor_extra) & M64
        min_profit_raw, ppm = self.floors[best_r]
        floor_out = max(floor_out, (best_x + min_profit_raw) & M64)
        if ppm:
            floor_out = max(floor_out, (mul_div(best_x, ppm, 1_000_000) + 1) & M64)
        last = len(best_legs) - 1
        if min_out[last] < floor_out:
            min_out[last] = floor_out
        p = self.params
        return (best_r, amount_in[0], amount_in[1], amount_in[2], min_out[0], min_out[1],
                min_out[2], p.cu_price_micro_lamports & M64, p.tip_lamports & M64,
                best_profit)  # fmt: skip


# ----------------------------------------------------------------------------- transactions


def anchor_discriminator(name: str) -> bytes:
    return hashlib.sha256(f"global:{name}".encode()).digest()[:8]


SWAP_BASE_INPUT: Final = anchor_discriminator("swap_base_input")
WHIRLPOOL_SWAP: Final = anchor_discriminator("swap")


class RouteBuilder:
    """A route's instructions built with ``solders`` exactly as the Rust signer builds them
    (``signer/src/programs``): compute-unit limit, compute-unit price, the legs (each with its
    program's account order and writability), then the tip transfer when the route has a tip
    account. Addresses are parsed once; instructions are built per call."""

    def __init__(self, route: RouteConfig, payer: bytes) -> None:
        from solders.address_lookup_table_account import AddressLookupTableAccount
        from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
        from solders.hash import Hash
        from solders.instruction import AccountMeta, Instruction
        from solders.message import MessageV0
        from solders.pubkey import Pubkey
        from solders.system_program import TransferParams, transfer

        self._meta, self._ix, self._hash, self._compile = (
            AccountMeta, Instruction, Hash, MessageV0.try_compile)  # fmt: skip
        self._cu_limit, self._cu_price = set_compute_unit_limit, set_compute_unit_price
        self._transfer, self._transfer_params = transfer, TransferParams
        self.route = route
        self.payer = Pubkey(payer)
        pk = Pubkey.from_string
        self.legs = [
            (leg, pk(leg.program_id), {k: pk(v) for k, v in leg.accounts.items()},
             [pk(a) for a in leg.tick_arrays or ()])
            for leg in route.legs
        ]  # fmt: skip
        self.tip = None if route.tip_account is None else pk(route.tip_account)
        self.alts = [
            AddressLookupTableAccount(pk(t.address), [pk(a) for a in t.addresses])
            for t in route.lookup_tables
        ]
        self.spl_token = pk(SPL_TOKEN_ID)

    def instructions(
        self, amount_in: Sequence[int], min_out: Sequence[int], cu_price: int, tip: int
    ) -> list[Any]:
        AccountMeta, Instruction = self._meta, self._ix
        payer = self.payer
        ixs = [self._cu_limit(self.route.compute_unit_limit), self._cu_price(cu_price)]
        for j, (leg, program_id, acc, arrays) in enumerate(self.legs):
            data_args = struct.pack("<QQ", amount_in[j], min_out[j])
            token = acc.get("token_program", self.spl_token)
            if leg.program == "raydium_cpmm":
                side_a = (acc["user_token_a"], acc["token_0_vault"], acc["token_0_mint"],
                          acc.get("token_0_program", self.spl_token))  # fmt: skip
                side_b = (acc["user_token_b"], acc["token_1_vault"], acc["token_1_mint"],
                          acc.get("token_1_program", self.spl_token))  # fmt: skip
                i, o = (side_a, side_b) if leg.a_to_b else (side_b, side_a)
                metas = [
                    AccountMeta(payer, True, False),
                    AccountMeta(acc["authority"], False, False),
                    AccountMeta(acc["amm_config"], False, False),
                    AccountMeta(acc["pool_state"], False, True),
                    AccountMeta(i[0], False, True),
                    AccountMeta(o[0], False, True),
                    AccountMeta(i[1], False, True),
                    AccountMeta(o[1], False, True),
                    AccountMeta(i[3], False, False),
                    AccountMeta(o[3], False, False),
                    AccountMeta(i[2], False, False),
                    AccountMeta(o[2], False, False),
                    AccountMeta(acc["observation_state"], False, True),
                ]
                data = SWAP_BASE_INPUT + data_args
            elif leg.program == "raydium_amm_v4":
                src, dst = ((acc["user_token_a"], acc["user_token_b"]) if leg.a_to_b
                            else (acc["user_token_b"], acc["user_token_a"]))  # fmt: skip
                # raydium-amm SwapBaseInV2 (tag 16): 8 accounts, no OpenBook market.
                metas = [AccountMeta(token, False, False), AccountMeta(acc["amm"], False, True),
                         AccountMeta(acc["amm_authority"], False, False),
                         AccountMeta(acc["pool_coin_token_account"], False, True),
                         AccountMeta(acc["pool_pc_token_account"], False, True),
                         AccountMeta(src, False, True), AccountMeta(dst, False, True),
                         AccountMeta(payer, True, False)]  # fmt: skip
                data = b"\x10" + data_args
            else:  # orca_whirlpool
                metas = [
                    AccountMeta(token, False, False),
                    AccountMeta(payer, True, False),
                    AccountMeta(acc["whirlpool"], False, True),
                    AccountMeta(acc["user_token_a"], False, True),
                    AccountMeta(acc["token_vault_a"], False, True),
                    AccountMeta(acc["user_token_b"], False, True),
                    AccountMeta(acc["token_vault_b"], False, True),
                    *(AccountMeta(a, False, True) for a in arrays),
                    AccountMeta(acc["oracle"], False, True),
                ]
                limit = MIN_SQRT_PRICE_X64 if leg.a_to_b else MAX_SQRT_PRICE_X64
                data = (WHIRLPOOL_SWAP + data_args + limit.to_bytes(16, "little")
                        + bytes([1, int(leg.a_to_b)]))  # fmt: skip
            ixs.append(Instruction(program_id, data, metas))
        if self.tip is not None:
            params = self._transfer_params(from_pubkey=payer, to_pubkey=self.tip, lamports=tip)
            ixs.append(self._transfer(params))
        return ixs

    def compile(
        self,
        blockhash: bytes,
        amount_in: Sequence[int],
        min_out: Sequence[int],
        cu_price: int,
        tip: int,
    ) -> Any:
        """The compiled ``MessageV0`` (solders) for these fields."""
        ixs = self.instructions(amount_in, min_out, cu_price, tip)
        return self._compile(self.payer, ixs, self.alts, self._hash(blockhash))


def _compact_u16(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n == 0:
            out.append(b)
            return bytes(out)
        out.append(b | 0x80)


def serialize_v0(message: Any) -> tuple[bytearray, int, list[int]]:
    """A solders ``MessageV0`` as wire bytes (``0x80`` prefix), with the blockhash's offset
    and each instruction's data offset (``template.rs``'s ``serialize_v0``)."""
    h = message.header
    b = bytearray([0x80, h.num_required_signatures, h.num_readonly_signed_accounts,
                   h.num_readonly_unsigned_accounts])  # fmt: skip
    b += _compact_u16(len(message.account_keys))
    for k in message.account_keys:
        b += bytes(k)
    blockhash_at = len(b)
    b += bytes(message.recent_blockhash)
    b += _compact_u16(len(message.instructions))
    data_at = []
    for ix in message.instructions:
        b.append(ix.program_id_index)
        b += _compact_u16(len(ix.accounts)) + bytes(ix.accounts)
        b += _compact_u16(len(ix.data))
        data_at.append(len(b))
        b += bytes(ix.data)
    b += _compact_u16(len(message.address_table_lookups))
    for lookup in message.address_table_lookups:
        b += bytes(lookup.account_key)
        b += _compact_u16(len(lookup.writable_indexes)) + bytes(lookup.writable_indexes)
        b += _compact_u16(len(lookup.readonly_indexes)) + bytes(lookup.readonly_indexes)
    return b, blockhash_at, data_at


#: Offsets of (amount in, min out) within each program's instruction data.
LEG_FIELD_OFFSETS: Final = {"raydium_cpmm": (8, 16), "raydium_amm_v4": (1, 9),
                            "orca_whirlpool": (8, 16)}  # fmt: skip


class SoldersSigner:
    """The idiomatic signer: build the instructions, compile the v0 message and sign the
    ``VersionedTransaction`` with ``solders``, every time."""

    def __init__(self, config_routes: Sequence[RouteConfig], keypair: bytes,
                 blockhash: bytes) -> None:  # fmt: skip
        from solders.keypair import Keypair
        from solders.transaction import VersionedTransaction

        self._transaction = VersionedTransaction
        self.keypair = Keypair.from_bytes(keypair)
        self.builders = [RouteBuilder(r, keypair[32:]) for r in config_routes]
        self.blockhash = blockhash

    def sign(self, intent: Sequence[int]) -> bytes | None:
        """The wire transaction for ``intent``, None when the signer would refuse it (a tip
        on a route without a tip account, an unknown route)."""
        rid = intent[0]
        if not 0 <= rid < len(self.builders):
            return None
        b = self.builders[rid]
        if intent[8] and b.tip is None:
            return None
        msg = b.compile(self.blockhash, intent[1:4], intent[4:7], intent[7], intent[8])
        return bytes(self._transaction(msg, [self.keypair]))


class RouteTemplate:
    """A route's message compiled once, with the offsets of every field a trade changes."""

    __slots__ = ("blockhash_at", "cu_price_at", "legs", "message", "tip_at")

    def __init__(self, builder: RouteBuilder, blockhash: bytes) -> None:
        n = len(builder.route.legs)
        msg = builder.compile(blockhash, [0] * 3, [0] * 3, 0, 0)
        self.message, self.blockhash_at, data_at = serialize_v0(msg)
        self.cu_price_at = data_at[1] + 1
        self.legs = [
            (data_at[2 + j] + LEG_FIELD_OFFSETS[leg.program][0],
             data_at[2 + j] + LEG_FIELD_OFFSETS[leg.program][1])
            for j, leg in enumerate(builder.route.legs)
        ]  # fmt: skip
        self.tip_at = data_at[2 + n] + 4 if builder.tip is not None else None


class TemplateSigner:
    """The tuned signer: per route, the message bytes pre-built once; per trade, the amounts,
    the compute-unit price, the tip (and the blockhash when it changes) are written into the
    bytearray and the message is signed with libsodium (PyNaCl)."""

    def __init__(self, config_routes: Sequence[RouteConfig], keypair: bytes,
                 blockhash: bytes) -> None:  # fmt: skip
        from nacl.signing import SigningKey

        self.key = SigningKey(keypair[:32])
        if bytes(self.key.verify_key) != keypair[32:]:
            raise E2EConfigError("signer.keypair_path: the public key does not match the seed")
        self.templates = [RouteTemplate(RouteBuilder(r, keypair[32:]), blockhash)
                          for r in config_routes]  # fmt: skip
        self.blockhash = blockhash
        self._pack = _U64.pack_into

    def set_blockhash(self, blockhash: bytes) -> None:
        self.blockhash = blockhash
        for t in self.templates:
            t.message[t.blockhash_at : t.blockhash_at + 32] = blockhash

    def sign(self, intent: Sequence[int]) -> bytes | None:
        rid = intent[0]
        if not 0 <= rid < len(self.templates):
            return None
        t = self.templates[rid]
        m = t.message
        pack = self._pack
        if t.tip_at is not None:
            pack(m, t.tip_at, intent[8])
        elif intent[8]:
            return None
        for j, (amount_at, min_out_at) in enumerate(t.legs):
            pack(m, amount_at, intent[1 + j])
            pack(m, min_out_at, intent[4 + j])
        pack(m, t.cu_price_at, intent[7])
        msg = bytes(m)
        return b"\x01" + self.key.sign(msg).signature + msg


# ----------------------------------------------------------------------------- output


def write_output(
    path: Path,
    system: str,
    *,
    frames: int,
    ticks: int,
    intents: int,
    signed: Sequence[Sequence[int]],
    pids: dict[str, int],
    errors: int,
) -> None:
    """The system's result file (written whole, then renamed into place)."""
    doc = {"system": system, "frames": frames, "ticks": ticks, "intents": intents,
           "signed": [list(r) for r in signed], "pids": pids, "errors": errors}  # fmt: skip
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, separators=(",", ":")))
    os.replace(tmp, path)

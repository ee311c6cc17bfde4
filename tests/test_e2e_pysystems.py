"""The Python comparison systems of the end-to-end benchmark (``phantom_bench.e2e``).

They must do the pipeline's work exactly: the arbitrage maths equals the numba kernel's on
random markets, the decoders read the real mainnet snapshots as the published layouts say,
the feeder's assembly rules hold, the patched message equals the freshly compiled one and
both equal what the Rust signer signs, and each of the four systems runs against a real
simulator, signs, stops on SIGTERM (or when the connection closes) and reports.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import math
import os
import random
import select
import signal
import subprocess
import tomllib
from collections.abc import Callable
from math import isqrt
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from conftest import FIXTURES, REPO, Procs, finish, wait_until
from phantom_bench.e2e import pycommon as pc
from phantom_pipeline.binaries import executable
from phantom_pipeline.constants import (
    MARKET_POOL_UPDATE,
    POOL_ORCA_WHIRLPOOL,
    POOL_RAYDIUM_CPMM,
)
from phantom_pipeline.schema import MARKET_UPDATE, ORDER_INTENT, POOL_STATE
from phantom_pipeline.strategies.arb import ArbParams, TwoPoolArb

SYSTEMS = ("pure-python", "pure-python-tuned", "mp-queue", "zmq-msgpack")
SIM_MARKET = ["--rate", "2000", "--seed", "7", "--dislocation-probability", "0.05",
              "--dislocation", "0.02"]  # fmt: skip

# ----------------------------------------------------------------------------- arb maths


def test_params_have_the_kernels_names_and_defaults() -> None:
    ours = {f.name: f.default for f in dataclasses.fields(pc.ArbParams)}
    theirs = {f.name: f.default for f in dataclasses.fields(ArbParams)}
    assert ours == theirs


@njit(cache=True)
def _run(kernel: Any, tick: Any, pools: Any, state: Any, params: Any, out: Any) -> int:
    return kernel(tick, pools, state, params, out)  # type: ignore[no-any-return]


Market = tuple[list[pc.PoolState | None], int, dict[str, Any]]


def _market(rng: random.Random) -> Market:
    """2 to 4 pools of one pair, constant product or Whirlpool, priced a few dozen bps
    apart, one maybe not yet published; a tick on a published pool; random params."""
    n = rng.randint(2, 4)
    base_a = rng.randint(10**9, 10**14)
    price_num, price_den = rng.randint(1, 500), rng.randint(1, 50)
    pools: list[pc.PoolState | None] = []
    for _ in range(n):
        mult = rng.choice([1, 2, 10])
        skew = rng.randint(-400, 400)
        a = base_a * mult
        b = max(1, base_a * price_num // price_den * mult * (10_000 + skew) // 10_000)
        if rng.random() < 0.35:
            s = isqrt(b * 2**128 // a)
            liq = isqrt(a * b) * rng.choice([1, 1, 10**6])
            fee = rng.choice([400, 3000])
            pools.append((1, 0, 0, fee, 1_000_000, s & pc.M64, s >> 64, liq & pc.M64, liq >> 64))
        else:
            num, den = rng.choice([(25, 10_000), (2500, 1_000_000), (0, 1)])
            pools.append((0, a, b, num, den, 0, 0, 0, 0))
    tick_pool = rng.randrange(n)
    if rng.random() < 0.2:
        pools[(tick_pool + 1) % n] = None  # not yet published
    params = {
        "min_profit": rng.choice([1, 1_000, 10**6]),
        "max_amount_in": rng.choice([10**6, 10**12, 10**18]),
        "slippage_bps": rng.choice([0, 10, 30, 100]),
        "cu_price_micro_lamports": rng.choice([0, 1_000, 100_000]),
        "tip_lamports": rng.choice([0, 10_000]),
        "costs_in_input": rng.random() < 0.8,
    }
    return pools, tick_pool, params


def _routes(n: int) -> list[dict[str, Any]]:
    """Every ordered pair of pools, each in both leg orientations."""
    out = []
    for i in range(n):
        for j in range(n):
            if i != j:
                for d0, d1 in (("a_to_b", "b_to_a"), ("b_to_a", "a_to_b")):
                    out.append({"compute_unit_limit": 200_000, "legs": [
                        {"pool": i, "direction": d0, "program": "raydium_cpmm"},
                        {"pool": j, "direction": d1, "program": "raydium_cpmm"},
                    ]})  # fmt: skip
    return out


def _numba_intent(market: Market) -> tuple[int, ...] | None:
    pools, tick_pool, params = market
    table = np.zeros(len(pools), dtype=POOL_STATE)
    for i, p in enumerate(pools):
        if p is None:
            continue
        row = table[i]
        row["pool_kind"] = POOL_ORCA_WHIRLPOOL if p[0] else POOL_RAYDIUM_CPMM
        row["ready"] = 1
        row["reserve_a"], row["reserve_b"], row["fee_num"], row["fee_den"] = p[1:5]
        row["sqrt_price_lo"], row["sqrt_price_hi"] = p[5], p[6]
        row["liquidity_lo"], row["liquidity_hi"] = p[7], p[8]
    routes = _routes(len(pools))
    s = TwoPoolArb(ArbParams(**params), routes)
    tick = np.zeros(1, dtype=MARKET_UPDATE)
    tick["kind"], tick["pool_id"] = MARKET_POOL_UPDATE, tick_pool
    out = np.zeros(1, dtype=ORDER_INTENT)
    if _run(TwoPoolArb.kernel, tick[0], table, s.make_state(len(pools)), s.params_array(), out):
        o = out[0]
        return (int(o["route_id"]), *(int(v) for v in o["amount_in"]),
                *(int(v) for v in o["min_out"]), int(o["cu_price_micro_lamports"]),
                int(o["tip_lamports"]), int(o["expected_profit"]))  # fmt: skip
    return None


def _python_intent(market: Market) -> tuple[int, ...] | None:
    pools, tick_pool, params = market
    routes = pc.parse_routes({"routes": _routes(len(pools))}, len(pools))
    arb = pc.Arb(routes, pc.ArbParams(**params), len(pools))
    arb.pools[:] = pools
    state = pools[tick_pool]
    assert state is not None
    return arb.on_tick(tick_pool, state)


def test_arb_maths_equals_the_numba_kernel_on_random_markets() -> None:
    rng = random.Random(20240611)
    fired = 0
    for _ in range(400):
        m = _market(rng)
        want = _numba_intent(m)
        assert _python_intent(m) == want, m
        fired += want is not None
    assert 40 <= fired <= 360, f"{fired} of 400 markets traded: the sample tests too little"


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32))
def test_arb_maths_equals_the_numba_kernel_hypothesis(seed: int) -> None:
    m = _market(random.Random(seed))
    assert _python_intent(m) == _numba_intent(m)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 10**13), st.booleans(), st.integers(2**40, 2**100),
    st.integers(1, 2**100), st.sampled_from([0, 100, 3000]),
)  # fmt: skip
def test_whirlpool_quote_equals_the_kernels(
    x: int, a_to_b: bool, s: int, liq: int, fee: int
) -> None:
    from phantom_pipeline import amm

    got = amm.whirlpool_out(
        np.uint64(x), a_to_b, np.uint64(s & pc.M64), np.uint64(s >> 64),
        np.uint64(liq & pc.M64), np.uint64(liq >> 64), fee,
    )  # fmt: skip
    assert pc.whirlpool_out(x, a_to_b, s, liq, fee) == int(got)


# ----------------------------------------------------------------------------- decoders


def fixture(name: str) -> dict[str, Any]:
    f: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    f["data"] = base64.b64decode(f["data_base64"])
    assert len(f["data"]) == f["data_len"]
    return f


def u64_at(d: bytes, off: int) -> int:
    return int.from_bytes(d[off : off + 8], "little")


TOKEN_FIXTURES = ["spl_token_account-DQyrAcCr.json", "spl_token_account-HLmqeL62.json",
                  "spl_token_account-47KLLXNK.json", "spl_token_2022_account-5Ap19VZW.json",
                  "spl_token_account-2WLWEuKD.json"]  # fmt: skip


@pytest.mark.parametrize("name", TOKEN_FIXTURES)
def test_token_amount_of_real_vaults(name: str) -> None:
    d = fixture(name)["data"]
    assert pc.token_amount(d) == u64_at(d, 64) > 0  # SPL Token `Account.amount` at 64


def test_token_amount_refuses_what_the_feeder_refuses() -> None:
    d = bytearray(fixture("spl_token_account-HLmqeL62.json")["data"])
    with pytest.raises(pc.DecodeError):
        pc.token_amount(bytes(d[:164]))
    for off in (72, 109, 129):  # COption tags: 0 or 1
        bad = bytearray(d)
        bad[off] = 2
        with pytest.raises(pc.DecodeError):
            pc.token_amount(bytes(bad))
    bad = bytearray(d)
    bad[108] = 3  # state
    with pytest.raises(pc.DecodeError):
        pc.token_amount(bytes(bad))
    with pytest.raises(pc.DecodeError):
        pc.token_amount(bytes(d) + b"\x01")  # Token-2022 account type 1 is a mint
    assert pc.token_amount(bytes(d) + b"\x02" + bytes(12)) == u64_at(d, 64)


def _assemble(kind: str, pool: str, vaults: list[str], fee: tuple[int, int] | None) -> pc.PoolState:
    """The three snapshots of one slot through the assembler: exactly one state out."""
    cfg = pc.PoolConfig("p", pc.KINDS[kind], fixture(pool)["address"], ("x", "y"), fee, None)
    a = pc.PoolAssembler(cfg)
    out: list[pc.PoolState] = []

    def publish(s: pc.PoolState, arrival: tuple[int, int]) -> None:
        out.append(s)

    decode = pc.decode_amm_v4 if kind == "raydium_amm_v4" else pc.decode_cpmm
    f = fixture(pool)
    assert a.on_account(f["slot"], pc.ROLE_POOL, decode(f["data"]), (0, 0), publish)
    for role, name in zip((pc.ROLE_VAULT_A, pc.ROLE_VAULT_B), vaults, strict=True):
        v = fixture(name)
        assert v["slot"] == f["slot"]
        assert a.on_account(v["slot"], role, pc.token_amount(v["data"]), (0, 0), publish)
    assert len(out) == 1
    return out[0]


def test_amm_v4_snapshot_gives_the_known_fee_and_vaults_less_pnl_owed() -> None:
    d = fixture("raydium_amm_v4-58oQChx4.json")["data"]
    owed_a, owed_b, fee_num, fee_den = pc.decode_amm_v4(d)
    # Public facts of the SOL/USDC pool: 0.25 % swap fee.
    assert (fee_num, fee_den) == (25, 10_000)
    # StateData at 192: need_take_pnl_coin, need_take_pnl_pc.
    assert (owed_a, owed_b) == (u64_at(d, 192), u64_at(d, 200))
    coin = fixture("spl_token_account-DQyrAcCr.json")["data"]
    pc_ = fixture("spl_token_account-HLmqeL62.json")["data"]
    s = _assemble("raydium_amm_v4", "raydium_amm_v4-58oQChx4.json",
                  ["spl_token_account-DQyrAcCr.json", "spl_token_account-HLmqeL62.json"], None)  # fmt: skip
    assert s == (0, u64_at(coin, 64) - u64_at(d, 192), u64_at(pc_, 64) - u64_at(d, 200),
                 25, 10_000, 0, 0, 0, 0)  # fmt: skip
    price = (s[2] / 1e6) / (s[1] / 1e9)  # USDC per SOL: a sanity bound
    assert 10 < price < 10_000
    with pytest.raises(pc.DecodeError):
        pc.decode_amm_v4(d[:751])


def test_cpmm_snapshot_nets_protocol_fund_and_creator_fees() -> None:
    d = fixture("raydium_cpmm-2higKRf2.json")["data"]
    # PoolState: protocol fees at 341/349, fund fees at 357/365, creator fees at 397/405.
    owed = (u64_at(d, 341) + u64_at(d, 357) + u64_at(d, 397),
            u64_at(d, 349) + u64_at(d, 365) + u64_at(d, 405))  # fmt: skip
    assert pc.decode_cpmm(d) == owed
    assert owed[0] > 0 and owed[1] > 0, "this snapshot owes fees in both vaults"
    v0 = fixture("spl_token_account-47KLLXNK.json")["data"]
    v1 = fixture("spl_token_2022_account-5Ap19VZW.json")["data"]
    s = _assemble("raydium_cpmm", "raydium_cpmm-2higKRf2.json",
                  ["spl_token_account-47KLLXNK.json", "spl_token_2022_account-5Ap19VZW.json"],
                  (2500, 1_000_000))  # fmt: skip
    assert s == (0, u64_at(v0, 64) - owed[0], u64_at(v1, 64) - owed[1], 2500, 1_000_000,
                 0, 0, 0, 0)  # fmt: skip
    wrong = bytearray(d)
    wrong[0] ^= 1
    with pytest.raises(pc.DecodeError):
        pc.decode_cpmm(bytes(wrong))


def test_whirlpool_snapshot_price_agrees_with_its_tick() -> None:
    d = fixture("orca_whirlpool-Czfq3xZZ.json")["data"]
    sqrt_price, liquidity, tick, spacing, fee, den = pc.decode_whirlpool(d)
    assert den == 1_000_000 and 0 < fee < 100_000 and spacing > 0 and liquidity > 0
    # Two independent fields agree: tick_current_index = floor(log_1.0001(price)).
    price = (sqrt_price / 2**64) ** 2
    assert abs(math.log(price) / math.log(1.0001) - tick) < 1.0
    # SOL/USDC: 10..10000 USDC per SOL, in raw units (9 and 6 decimals).
    assert 10 < price * 1e3 < 10_000
    with pytest.raises(pc.DecodeError):
        pc.decode_whirlpool(d + b"\0")


# ----------------------------------------------------------------------------- assembly


def _v4_assembler() -> tuple[pc.PoolAssembler, list[pc.PoolState]]:
    cfg = pc.PoolConfig("v4", pc.KIND_AMM_V4, "a", ("b", "c"), None, None)
    a = pc.PoolAssembler(cfg)
    return a, []


def _acc(a: pc.PoolAssembler, out: list[pc.PoolState], slot: int, role: int, v: Any) -> bool:
    return a.on_account(slot, role, v, (slot, slot), lambda s, _arr: out.append(s))


def test_assembly_follows_the_feeders_two_vault_rule() -> None:
    pool = (5, 7, 25, 10_000)
    a, out = _v4_assembler()
    _acc(a, out, 10, pc.ROLE_POOL, pool)
    _acc(a, out, 10, pc.ROLE_VAULT_A, 1_000)
    assert not out, "vault B missing"
    _acc(a, out, 10, pc.ROLE_VAULT_B, 2_000)
    assert out == [(0, 995, 1_993, 25, 10_000, 0, 0, 0, 0)]
    # A lone vault waits for the next slot to end, then the latest of each is published.
    _acc(a, out, 11, pc.ROLE_VAULT_A, 1_100)
    a.on_slot(11, lambda s, _arr: out.append(s))
    assert len(out) == 1, "slot 11 has not ended"
    a.on_slot(12, lambda s, _arr: out.append(s))
    assert out[-1][1:3] == (1_095, 1_993)
    # An older slot of an account is refused.
    assert not _acc(a, out, 10, pc.ROLE_VAULT_A, 5)
    # A later slot's update flushes the pending one first.
    _acc(a, out, 13, pc.ROLE_VAULT_A, 1_300)  # pending 13
    n = len(out)
    _acc(a, out, 14, pc.ROLE_VAULT_B, 4_000)  # slot 13 flushed with vault B of slot 10
    assert len(out) == n + 1 and out[-1][1:3] == (1_295, 1_993)
    # Late arrival of an ended slot is published at once.
    a2, out2 = _v4_assembler()
    _acc(a2, out2, 10, pc.ROLE_POOL, (0, 0, 25, 10_000))
    _acc(a2, out2, 10, pc.ROLE_VAULT_A, 1)
    _acc(a2, out2, 12, pc.ROLE_VAULT_B, 2)  # pending 12
    _acc(a2, out2, 11, pc.ROLE_VAULT_A, 3)
    assert out2 == [(0, 3, 2, 25, 10_000, 0, 0, 0, 0)]
    # Owing more than the vault holds: counted, not published.
    a3, out3 = _v4_assembler()
    _acc(a3, out3, 1, pc.ROLE_POOL, (50, 0, 25, 10_000))
    _acc(a3, out3, 1, pc.ROLE_VAULT_A, 10)
    _acc(a3, out3, 1, pc.ROLE_VAULT_B, 10)
    assert out3 == [] and a3.inconsistent == 1
    # A Whirlpool is published on every update and has no vaults.
    wp = pc.PoolAssembler(pc.PoolConfig("w", pc.KIND_WHIRLPOOL, "w", None, None, (9, 6)))
    out4: list[pc.PoolState] = []
    w = ((1 << 64) | 7, (3 << 64) | 9, -18_835, 4, 400, 1_000_000)
    assert _acc(wp, out4, 3, pc.ROLE_POOL, w) and _acc(wp, out4, 3, pc.ROLE_POOL, w)
    assert out4 == [(1, 0, 0, 400, 1_000_000, 7, 1, 9, 3)] * 2
    assert not _acc(wp, out4, 4, pc.ROLE_VAULT_A, 1)


# ----------------------------------------------------------------------------- the feed


def _frame_account(sub: int, slot: int, data: bytes) -> str:
    return json.dumps({"jsonrpc": "2.0", "method": "accountNotification", "params": {
        "subscription": sub, "result": {"context": {"slot": slot}, "value": {
            "lamports": 1, "owner": "11111111111111111111111111111111",
            "data": [base64.b64encode(data).decode(), "base64"], "executable": False,
            "rentEpoch": 0, "space": len(data)}}}})  # fmt: skip


def _frame_slot(sub: int, slot: int) -> str:
    return json.dumps({"jsonrpc": "2.0", "method": "slotNotification", "params": {
        "subscription": sub, "result": {"slot": slot, "parent": slot - 1, "root": slot - 32}}})  # fmt: skip


@pytest.mark.parametrize("fast", [False, True])
def test_feeder_numbers_frames_and_stamps_ticks_with_the_latest_arrival(fast: bool) -> None:
    v4 = fixture("raydium_amm_v4-58oQChx4.json")
    coin = fixture("spl_token_account-DQyrAcCr.json")
    quote = fixture("spl_token_account-HLmqeL62.json")
    wp = fixture("orca_whirlpool-Czfq3xZZ.json")
    pools = (
        pc.PoolConfig("v4", pc.KIND_AMM_V4, v4["address"], (coin["address"], quote["address"]),
                      None, None),
        pc.PoolConfig("wp", pc.KIND_WHIRLPOOL, wp["address"], None, None, (9, 6)),
    )  # fmt: skip
    config = pc.SystemConfig(ws="ws://x", rpc="http://x", commitment="processed", pools=pools,
                             routes=(), params=pc.ArbParams(), keypair=bytes(64),
                             watched=pc.watched_accounts(pools))  # fmt: skip
    f = pc.Feeder(config, fast=fast)
    reqs = [json.loads(r) for r in f.subscribe_requests()]
    assert [r["params"][0] for r in reqs[:-1]] == [
        v4["address"], coin["address"], quote["address"], wp["address"]]  # fmt: skip
    assert reqs[-1] == {"jsonrpc": "2.0", "id": 5, "method": "slotSubscribe"}
    assert reqs[0]["params"][1] == {"encoding": "base64", "commitment": "processed"}
    for i in range(5):
        assert f.on_frame(json.dumps({"jsonrpc": "2.0", "result": 100 + i, "id": i + 1}), 1) == []
    assert f.subscribed and f.frames == 0
    s = 500
    assert f.on_frame(_frame_account(100, s, v4["data"]), 10) == []
    assert f.on_frame(_frame_account(101, s, coin["data"]), 11) == []
    [tick] = f.on_frame(_frame_account(102, s, quote["data"]), 12)
    reserves = (u64_at(coin["data"], 64) - u64_at(v4["data"], 192),
                u64_at(quote["data"], 64) - u64_at(v4["data"], 200))  # fmt: skip
    assert tick[0] == 0 and tick[1][1:3] == reserves and tick[2:4] == (2, 12) and tick[4] >= 12
    [tick] = f.on_frame(_frame_account(103, s, wp["data"]), 13)
    assert tick[0] == 1 and tick[1][0] == 1 and tick[2:4] == (3, 13)
    assert f.on_frame(_frame_slot(104, s + 1), 14) == []  # nothing pending
    assert f.on_frame("not json", 15) == [] and f.errors == 1  # not a notification: no index
    assert f.on_frame(_frame_account(103, s, wp["data"]), 16) == [], "a duplicate is dropped"
    assert f.on_frame(_frame_account(999, s, wp["data"]), 17) == [] and f.errors == 2
    # A lone vault of slot s+2 waits for the slot to end; its arrival stamps the tick.
    assert f.on_frame(_frame_account(101, s + 2, coin["data"]), 18) == []
    [tick] = f.on_frame(_frame_slot(104, s + 3), 19)
    assert tick[2:4] == (7, 18)
    # An update older than the account's slot is refused.
    assert f.on_frame(_frame_account(101, s + 1, coin["data"]), 20) == [] and f.refused == 1
    assert f.on_frame(_frame_account(100, s + 3, v4["data"][:-1]), 21) == [] and f.errors == 3
    assert (f.frames, f.ticks) == (11, 3)


# ----------------------------------------------------------------------------- transactions


def addr(n: int) -> str:
    from solders.pubkey import Pubkey

    return str(Pubkey(bytes([n]) * 32))


V4_ACCOUNTS = {
    "amm": addr(10), "amm_authority": addr(11), "pool_coin_token_account": addr(14),
    "pool_pc_token_account": addr(15), "user_token_a": addr(2), "user_token_b": addr(3),
}  # fmt: skip
WP_ACCOUNTS = {"whirlpool": addr(40), "token_vault_a": addr(41), "token_vault_b": addr(42),
               "oracle": addr(43), "user_token_a": addr(2), "user_token_b": addr(3)}  # fmt: skip


def _toml(v: Any) -> str:
    return "{ " + ", ".join(f'{k} = "{x}"' for k, x in v.items()) + " }"


def routes_toml() -> str:
    """The simulator example's two CPMM routes (pools 2 and 3) and a v4 -> Whirlpool route
    (pools 0 and 1) with a tip account and a lookup table."""
    example = (REPO / "examples" / "simulator.toml").read_text()
    cpmm = example[example.index("[[routes]]") :]
    alt = ", ".join(f'"{addr(n)}"' for n in [*range(10, 24), 40, 41, 42, 43])
    return (
        cpmm
        + f"""
[[routes]]
name = "v4 -> whirlpool"
compute_unit_limit = 400000
max_amount_in_raw = 1000000000000
tip_account = "{addr(90)}"
[[routes.address_lookup_tables]]
address = "{addr(99)}"
addresses = [{alt}]
[[routes.legs]]
pool = 0
direction = "a_to_b"
program = "raydium_amm_v4"
accounts = {_toml(V4_ACCOUNTS)}
[[routes.legs]]
pool = 1
direction = "b_to_a"
program = "orca_whirlpool"
accounts = {_toml(WP_ACCOUNTS)}
[[routes.legs.tick_array_variants]]
start_tick_index = 0
tick_arrays = ["{addr(44)}", "{addr(45)}", "{addr(46)}"]
[[routes.legs.tick_array_variants]]
start_tick_index = 5632
tick_arrays = ["{addr(45)}", "{addr(46)}", "{addr(47)}"]
"""
    )


def _routes_and_key() -> tuple[tuple[pc.RouteConfig, ...], bytes]:
    from solders.keypair import Keypair

    return pc.parse_routes(tomllib.loads(routes_toml()), 4), bytes(Keypair())


def _intents(rng: random.Random, n: int) -> list[pc.Intent]:
    out = []
    for i in range(n):
        route = i % 3
        amounts = [rng.randint(0, 2**64 - 1) for _ in range(4)]
        tip = rng.randint(1, 10**6) if route == 2 else 0
        out.append((route, amounts[0], amounts[1], 0, amounts[2], amounts[3], 0,
                    rng.randint(0, 10**6), tip, 0))  # fmt: skip
    return out


def test_patched_template_equals_the_freshly_built_transaction_and_verifies() -> None:
    from solders.message import to_bytes_versioned
    from solders.signature import Signature
    from solders.transaction import VersionedTransaction

    routes, key = _routes_and_key()
    blockhash = bytes(range(32))
    tuned = pc.TemplateSigner(routes, key, blockhash)
    fresh = pc.SoldersSigner(routes, key, blockhash)
    for r, b in enumerate(fresh.builders):  # the serializer agrees with solders'
        msg = b.compile(blockhash, [1, 2, 3], [4, 5, 6], 7, 8)
        assert bytes(pc.serialize_v0(msg)[0]) == to_bytes_versioned(msg), r
    for intent in _intents(random.Random(5), 60):
        wire = tuned.sign(intent)
        assert wire is not None and wire == fresh.sign(intent)
        tx = VersionedTransaction.from_bytes(wire)
        assert tx.verify_with_results() == [True]
        sig = Signature.from_bytes(wire[1:65])
        assert sig.verify(tx.message.account_keys[0], wire[65:])
        assert bytes(tx.message.account_keys[0]) == key[32:]
        ixs = tx.message.instructions
        assert bytes(ixs[1].data)[1:] == intent[7].to_bytes(8, "little")
        n_legs = len(routes[intent[0]].legs)
        for j in range(n_legs):
            at = 1 if routes[intent[0]].legs[j].program == "raydium_amm_v4" else 8
            data = bytes(ixs[2 + j].data)
            assert data[at : at + 16] == (intent[1 + j].to_bytes(8, "little")
                                          + intent[4 + j].to_bytes(8, "little"))  # fmt: skip
        if routes[intent[0]].tip_account is not None:
            assert bytes(ixs[-1].data) == (2).to_bytes(4, "little") + intent[8].to_bytes(
                8, "little"
            )
    # A tip on a route without a tip account is refused, as the Rust signer refuses it.
    tipped = (0, 1, 2, 0, 3, 4, 0, 5, 6, 0)
    assert tuned.sign(tipped) is None and fresh.sign(tipped) is None
    # A new blockhash is patched in too.
    other = bytes(reversed(range(32)))
    tuned.set_blockhash(other)
    intent = _intents(random.Random(6), 1)[0]
    assert tuned.sign(intent) == pc.SoldersSigner(routes, key, other).sign(intent)


def _write_keypair(path: Path) -> bytes:
    from solders.keypair import Keypair

    kp = bytes(Keypair())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(list(kp), f)
    return kp


def test_python_signers_produce_the_rust_signers_bytes(
    seg_name: Callable[[str], str], instance: str, procs: Procs, tmp_path: Path
) -> None:
    """The same intents through the real ``phantom-signer`` (dry-run, placeholder blockhash)
    and through both Python signers: byte-identical wire transactions."""
    from phantom_pipeline import _native
    from phantom_pipeline.control import Control
    from phantom_pipeline.segments import RingEnd, create_ring

    key = _write_keypair(tmp_path / "id.json")
    capture = tmp_path / "capture.jsonl"
    config = tmp_path / "config.toml"
    config.write_text("[[pools]]\nname = \"0\"\n[[pools]]\nname = \"1\"\n[[pools]]\n"
                      "name = \"2\"\n[[pools]]\nname = \"3\"\n\n[signer]\n"
                      f'keypair_path = "{tmp_path / "id.json"}"\ncapture_path = "{capture}"\n'
                      "\n[signer.limits]\nmax_intents_per_second = 100000\n"
                      "max_notional_per_minute_raw = 1000000000000000000\n"
                      "max_open_intents = 1000\nmax_tick_age_ms = 60000\n"
                      "max_compute_unit_price_micro_lamports = 1000000\n"
                      "max_tip_lamports = 1000000\n\n" + routes_toml())  # fmt: skip
    control = Control.create(instance)
    control.store("lease_epoch", 1)
    views = [create_ring(seg_name("intents"), "OrderIntent", 256),
             create_ring(seg_name("reports"), "ExecReport", 1024)]  # fmt: skip
    ring = RingEnd(views[0], "producer")
    signer = procs.start([str(executable("phantom-signer")), "--instance", instance,
                          "--config", str(config)])  # fmt: skip
    wait_until(lambda: control.load("signer_mode") != 0 or signer.poll() is not None,
               what="signer start")  # fmt: skip
    assert signer.poll() is None, signer.communicate()[1]
    rng = random.Random(9)
    intents = []
    for seq in range(12):
        route = seq % 3
        amount = rng.randint(1, 10**9)
        # Within the signer's route rules: leg 1 sells at most leg 0's min_out, and the
        # last min_out covers the input (the routes may be cycles).
        m0 = rng.randint(1, 10**12)
        intent = (route, amount, rng.randint(1, m0), 0, m0,
                  rng.randint(amount, 10**12), 0, rng.randint(0, 10**6),
                  rng.randint(1, 10**6) if route == 2 else 0, 0)  # fmt: skip
        intents.append(intent)
        rec = np.zeros(1, dtype=ORDER_INTENT)[0]
        rec["seq"], rec["epoch"], rec["tick_seq"], rec["route_id"] = seq, 1, seq, route
        rec["amount_in"][:] = intent[1:4]
        rec["min_out"][:] = intent[4:7]
        rec["cu_price_micro_lamports"], rec["tip_lamports"] = intent[7], intent[8]
        now = _native.monotonic_ns()
        for f in ("t_tick_recv_ns", "t_tick_pub_ns", "t_strategy_read_ns", "t_intent_ns"):
            rec[f] = now
        assert ring.push(rec)

    def captured() -> int:
        return len(capture.read_text().splitlines()) if capture.exists() else 0

    wait_until(lambda: captured() >= len(intents), what="every intent signed")
    signer.send_signal(signal.SIGTERM)
    rc, _, err = finish(signer)
    assert rc == 0, err
    placeholder = b"phantom-dry-run-placeholder-hash"
    routes = pc.parse_routes(tomllib.loads(routes_toml()))
    tuned = pc.TemplateSigner(routes, key, placeholder)
    fresh = pc.SoldersSigner(routes, key, placeholder)
    lines = [json.loads(line) for line in capture.read_text().splitlines()]
    assert sorted(int(r["intent_seq"]) for r in lines) == list(range(len(intents)))
    for r in lines:
        intent = intents[int(r["intent_seq"])]
        wire = base64.b64decode(r["tx"])
        assert tuned.sign(intent) == wire, r["route_id"]
        assert fresh.sign(intent) == wire, r["route_id"]


# ----------------------------------------------------------------------------- the systems


def _require(system: str) -> None:
    pytest.importorskip("websockets")
    pytest.importorskip("solders")
    if system != "pure-python":
        pytest.importorskip("nacl")
    if system == "zmq-msgpack":
        pytest.importorskip("zmq")
        pytest.importorskip("msgpack")


def read_line(p: subprocess.Popen[str], timeout: float) -> str:
    """The next stdout line of ``p``, failing after ``timeout`` seconds without one."""
    assert p.stdout is not None
    ready, _, _ = select.select([p.stdout], [], [], timeout)
    if not ready:
        raise AssertionError(f"no line from {p.args} within {timeout} s")
    return p.stdout.readline()


def start_sim(procs: Procs, tmp_path: Path, *extra: str) -> tuple[Path, Path]:
    """A simulator and a pipeline config for it (the embedded default's routes, a throwaway
    key); returns (config, send log)."""
    from phantom_pipeline.embedded import default_config

    log = tmp_path / "send.log"
    sim = procs.start([str(executable("phantom-sim")), "--port", "0", *SIM_MARKET,
                       "--send-log", str(log), *extra])  # fmt: skip
    ready = json.loads(read_line(sim, 60))
    _write_keypair(tmp_path / "key.json")
    config = tmp_path / "config.toml"
    config.write_text(default_config(ready, tmp_path, tmp_path / "key.json"))
    return config, log


def check_report(out: Path, system: str, pid: int) -> dict[str, Any]:
    rep: dict[str, Any] = json.loads(out.read_text())
    assert set(rep) == {"system", "frames", "ticks", "intents", "signed", "pids", "errors"}
    assert rep["system"] == system
    assert rep["errors"] == 0
    frames, signed = rep["frames"], rep["signed"]
    assert frames > 0 and rep["ticks"] > 0
    assert rep["intents"] >= len(signed) >= 1, "the dislocated market trades"
    for r in signed:
        assert len(r) == 5 and 0 <= r[0] < frames, r
        assert r[1] <= r[2] <= r[3] <= r[4], r
    if system.startswith("pure-python"):
        assert rep["pids"] == {"main": pid}
    else:
        pids = rep["pids"]
        assert set(pids) == {"feeder", "strategy", "signer"} and pids["feeder"] == pid
        assert len(set(pids.values())) == 3
        for child in (pids["strategy"], pids["signer"]):  # reaped by the parent
            assert not Path(f"/proc/{child}").exists() or child == pid
    return rep


@pytest.mark.parametrize("system", SYSTEMS)
def test_system_runs_signs_and_reports_on_sigterm(
    system: str, procs: Procs, tmp_path: Path
) -> None:
    _require(system)
    config, log = start_sim(procs, tmp_path)
    out = tmp_path / "out.json"
    p = procs.python("-m", "phantom_bench.e2e.pysystems", "--system", system,
                     "--config", str(config), "--out", str(out))  # fmt: skip
    assert read_line(p, 120).strip() == "READY"
    if system in ("mp-queue", "zmq-msgpack"):
        children = Path(f"/proc/{p.pid}/task/{p.pid}/children").read_text().split()
        assert len(children) == 2, children
    # About 1.5 s of market (24-byte record per frame sent).
    wait_until(lambda: log.exists() and log.stat().st_size >= 24 * 3000, timeout=120,
               what="3000 frames sent")  # fmt: skip
    p.send_signal(signal.SIGTERM)
    rc, stdout, err = finish(p, timeout=120)
    assert rc == 0, err
    assert stdout == ""
    check_report(out, system, p.pid)


@pytest.mark.parametrize("system", SYSTEMS)
def test_system_stops_and_reports_when_the_connection_closes(
    system: str, procs: Procs, tmp_path: Path
) -> None:
    _require(system)
    # The market starts on the config's 10 subscriptions and the simulator exits 1.5 s later.
    config, _log = start_sim(procs, tmp_path, "--start-after-subscriptions", "10",
                             "--duration-s", "1.5")  # fmt: skip
    assert len(pc.load_config(config).watched) == 10
    out = tmp_path / "out.json"
    p = procs.python("-m", "phantom_bench.e2e.pysystems", "--system", system,
                     "--config", str(config), "--out", str(out))  # fmt: skip
    assert read_line(p, 120).strip() == "READY"
    rc, _, err = finish(p, timeout=120)
    assert rc == 0, err
    check_report(out, system, p.pid)

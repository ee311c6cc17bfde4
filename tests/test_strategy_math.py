"""Strategy maths: the numba kernels against plain-Python big-integer references of the same
formulas (hypothesis), fee rounding, the no-profit case, and the arbitrage kernels' intents."""

from __future__ import annotations

from math import isqrt
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from conftest import REPO
from phantom_pipeline import amm
from phantom_pipeline.constants import (
    MARKET_POOL_UPDATE,
    MARKET_SLOT,
    POOL_ORCA_WHIRLPOOL,
    POOL_RAYDIUM_AMM_V4,
)
from phantom_pipeline.schema import MARKET_UPDATE, ORDER_INTENT, POOL_STATE
from phantom_pipeline.strategies.arb import TriangularArb, TwoPoolArb
from phantom_pipeline.strategies.routes import route_optimal_in, route_table

RESERVE = st.integers(min_value=1_000, max_value=10**15)
AMOUNT = st.integers(min_value=0, max_value=10**13)


def ref_cp_out(x: int, r_in: int, r_out: int, num: int, den: int) -> int:
    if x == 0 or r_in == 0 or r_out == 0 or den == 0:
        return 0
    fee = -(-x * num // den)
    if fee >= x:
        return 0
    net = x - fee
    return r_out * net // (r_in + net)


@settings(max_examples=400, deadline=None)
@given(AMOUNT, RESERVE, RESERVE, st.integers(0, 100), st.sampled_from([100, 10_000, 1_000_000]))
def test_cp_out_equals_the_big_integer_reference(
    x: int, r_in: int, r_out: int, num: int, den: int
) -> None:
    assert int(amm.cp_out(np.uint64(x), r_in, r_out, num, den)) == ref_cp_out(
        x, r_in, r_out, num, den
    )


def test_cp_fee_is_rounded_up_in_the_pools_favour() -> None:
    # 25/10000 of 1 is 0.0025: rounded up to a whole unit, so 1 in buys nothing.
    assert int(amm.cp_out(np.uint64(1), 10**9, 10**9, 25, 10_000)) == 0
    # fee ceil(401 * 25 / 10000) = ceil(1.0025) = 2; 399 net buys floor(398.99...) = 398.
    assert int(amm.cp_out(np.uint64(401), 10**12, 10**12, 25, 10_000)) == 398


def ref_whirlpool_out(x: int, a_to_b: bool, s: int, liq: int, fee_ppm: int) -> int:
    if x == 0 or liq == 0 or s == 0:
        return 0
    fee = -(-x * fee_ppm // 1_000_000)
    if fee >= x:
        return 0
    net = x - fee
    if a_to_b:
        den = liq + net * s // 2**64
        s2 = -(-liq * s // den)
        if s2 >= s:
            return 0
        return min(liq * (s - s2) // 2**64, 2**64 - 1)
    ds = net * 2**64 // liq
    if ds == 0:
        return 0
    s2 = s + ds
    return min((liq * ds // s) * 2**64 // s2, 2**64 - 1)


@settings(max_examples=400, deadline=None)
@given(
    AMOUNT,
    st.booleans(),
    st.integers(min_value=2**40, max_value=2**100),
    st.integers(min_value=1, max_value=2**100),
    st.sampled_from([0, 100, 3000, 10_000]),
)
def test_whirlpool_out_equals_the_big_integer_reference(
    x: int, a_to_b: bool, s: int, liq: int, fee: int
) -> None:
    got = amm.whirlpool_out(
        np.uint64(x), a_to_b, np.uint64(s & (2**64 - 1)), np.uint64(s >> 64),
        np.uint64(liq & (2**64 - 1)), np.uint64(liq >> 64), fee,
    )  # fmt: skip
    assert int(got) == ref_whirlpool_out(x, a_to_b, s, liq, fee)


def _pool(kind: int, a: int, b: int, num: int = 25, den: int = 10_000) -> np.ndarray:  # type: ignore[type-arg]
    p = np.zeros(1, dtype=POOL_STATE)
    p["pool_kind"], p["reserve_a"], p["reserve_b"] = kind, a, b
    p["fee_num"], p["fee_den"], p["ready"] = num, den, 1
    return p


def _route_profit(pools: list[tuple[str, Any]], legs: list[bool], x: int) -> int:
    """Exact output of a chain of legs minus its input, with the big-integer references."""
    amount = x
    for (kind, p), a_to_b in zip(pools, legs, strict=True):
        if kind == "cp":
            ra, rb = p
            amount = ref_cp_out(amount, ra if a_to_b else rb, rb if a_to_b else ra, 25, 10_000)
        else:
            s, liq = p
            amount = ref_whirlpool_out(amount, a_to_b, s, liq, 3000)
    return amount - x


def _pools_array(pools: list[tuple[str, Any]]) -> np.ndarray:  # type: ignore[type-arg]
    rows = []
    for kind, p in pools:
        if kind == "cp":
            rows.append(_pool(POOL_RAYDIUM_AMM_V4, *p))
        else:
            s, liq = p
            w = _pool(POOL_ORCA_WHIRLPOOL, 0, 0, 3000, 1_000_000)
            w["sqrt_price_lo"], w["sqrt_price_hi"] = s & (2**64 - 1), s >> 64
            w["liquidity_lo"], w["liquidity_hi"] = liq & (2**64 - 1), liq >> 64
            rows.append(w)
    return np.concatenate(rows)


@settings(max_examples=150, deadline=None)
@given(
    st.integers(10**10, 10**13),
    st.integers(10, 300),
    st.integers(-200, 400),
    st.booleans(),
    st.booleans(),
)
def test_closed_form_optimum_matches_a_dense_exact_scan(
    reserve: int, price: int, skew_bps: int, whirlpool_leg: bool, three_legs: bool
) -> None:
    """Routes of 2 or 3 legs, constant-product or Whirlpool: the located input earns what the
    best point of a dense exact scan earns, within one unit of the intermediate token's value
    (integer rounding makes the curve a staircase of that step) and a millionth."""
    a, b = reserve, reserve * price
    sk = lambda v: v * (10_000 + skew_bps) // 10_000  # noqa: E731
    pools: list[tuple[str, Any]] = [("cp", (a, b))]
    if whirlpool_leg:  # the second venue is a Whirlpool pricing A dearer by skew_bps
        s = isqrt(b * 2**128 // sk(a))
        pools.append(("wp", (s, isqrt(a * b))))
    else:
        pools.append(("cp", (sk(a), b)))
    legs = [True, False]
    if three_legs:  # split the return leg: B -> C on a 1:1 pool, then C -> A
        pools = [pools[0], ("cp", (b * 10, b * 10)), ("cp", (sk(a), b))]
        legs = [True, True, False]
    route = [{"legs": [{"pool": i, "direction": "a_to_b" if d else "b_to_a"}
                       for i, d in enumerate(legs)]}]  # fmt: skip
    routes = route_table(route, len(pools))
    x = int(route_optimal_in(routes, 0, _pools_array(pools)))
    step = a // b + 2
    max_in = a // 10
    best = max(_route_profit(pools, legs, v) for v in range(1, max_in, max(1, max_in // 3000)))
    if best <= step:
        assert x == 0 or _route_profit(pools, legs, x) >= best - step
        return
    assert _route_profit(pools, legs, x) >= best - step - best // 10**6


@njit(cache=True)
def _run(kernel: Any, tick: Any, pools: Any, state: Any, params: Any, out: Any) -> int:
    return kernel(tick, pools, state, params, out)  # type: ignore[no-any-return]


def _tick(pool_id: int, kind: int = MARKET_POOL_UPDATE) -> np.ndarray:  # type: ignore[type-arg]
    t = np.zeros(1, dtype=MARKET_UPDATE)
    t["kind"], t["pool_id"] = kind, pool_id
    return t


def _strategy(cls: Any, routes: list[dict[str, Any]], **params: Any) -> Any:
    s = cls(cls.Params(**params), routes)
    return s


def two_leg(p0: int, d0: str, p1: int, d1: str) -> dict[str, Any]:
    return {"legs": [{"pool": p0, "direction": d0}, {"pool": p1, "direction": d1}]}


def test_two_pool_arb_trades_a_dislocation_with_a_profit_guaranteeing_min_out() -> None:
    pools = np.concatenate([
        _pool(POOL_RAYDIUM_AMM_V4, 10**12, 150 * 10**12),      # 150 B per A
        _pool(POOL_RAYDIUM_AMM_V4, 10**12, 147 * 10**12),      # 147 B per A: A is dearer here
    ])  # fmt: skip
    routes = [two_leg(0, "a_to_b", 1, "b_to_a"), two_leg(1, "a_to_b", 0, "b_to_a")]
    s = _strategy(TwoPoolArb, routes, min_profit=1000, tip_lamports=10_000)
    state, params = s.make_state(2), s.params_array()
    out = np.zeros(1, dtype=ORDER_INTENT)
    n = _run(TwoPoolArb.kernel, _tick(1)[0], pools, state, params, out)
    assert n == 1
    o = out[0]
    assert int(o["route_id"]) == 0  # buy B on pool 0 (cheap), sell on pool 1
    x = int(o["amount_in"][0])
    assert 0 < x <= 10**12
    # Each later leg spends exactly the previous leg's guaranteed output.
    assert int(o["amount_in"][1]) == int(o["min_out"][0])
    # Recompute the conservative chain independently.
    q0 = ref_cp_out(x, 10**12, 150 * 10**12, 25, 10_000)
    m0 = q0 * (10_000 - 30) // 10_000
    q1 = ref_cp_out(m0, 147 * 10**12, 10**12, 25, 10_000)
    m1 = q1 * (10_000 - 30) // 10_000
    cost = 5_000 + 10_000 + 10_000 * 200_000 // 1_000_000
    assert int(o["min_out"][0]) == m0
    assert int(o["expected_profit"]) == m1 - x - cost >= 1000
    assert int(o["min_out"][1]) == max(m1, x + cost + 1000)
    assert int(o["tip_lamports"]) == 10_000


def test_two_pool_arb_meets_the_routes_min_profit_raw_and_worst_price() -> None:
    """The signer's floors on the last min_out (route keys) are met by the intent."""
    pools = np.concatenate([
        _pool(POOL_RAYDIUM_AMM_V4, 10**12, 150 * 10**12),
        _pool(POOL_RAYDIUM_AMM_V4, 10**12, 147 * 10**12),
    ])  # fmt: skip
    for extra, floor in (
        ({"min_profit_raw": 10**9}, lambda x: x + 10**9),
        ({"min_out_per_in_ppm": 1_050_000}, lambda x: -(-x * 1_050_000 // 1_000_000)),
    ):
        route = {**two_leg(0, "a_to_b", 1, "b_to_a"), **extra}
        s = _strategy(TwoPoolArb, [route], min_profit=1000)
        out = np.zeros(1, dtype=ORDER_INTENT)
        assert _run(TwoPoolArb.kernel, _tick(1)[0], pools, s.make_state(2), s.params_array(),
                    out) == 1  # fmt: skip
        o = out[0]
        x = int(o["amount_in"][0])
        assert int(o["min_out"][1]) >= floor(x), extra
        assert int(o["amount_in"][1]) == int(o["min_out"][0]) > 0


def test_no_intent_when_there_is_no_profit_after_fees() -> None:
    pools = np.concatenate([
        _pool(POOL_RAYDIUM_AMM_V4, 10**12, 150 * 10**12),
        _pool(POOL_RAYDIUM_AMM_V4, 10**12, 149_800 * 10**9),  # 0.13 %: less than two 0.25 % fees
    ])  # fmt: skip
    s = _strategy(
        TwoPoolArb, [two_leg(0, "a_to_b", 1, "b_to_a"), two_leg(1, "a_to_b", 0, "b_to_a")]
    )
    out = np.zeros(1, dtype=ORDER_INTENT)
    assert _run(TwoPoolArb.kernel, _tick(0)[0], pools, s.make_state(2), s.params_array(), out) == 0
    # ... and non-pool records never trade.
    assert _run(TwoPoolArb.kernel, _tick(0, MARKET_SLOT)[0], pools, s.make_state(2),
                s.params_array(), out) == 0  # fmt: skip


def test_two_pool_arb_against_a_whirlpool_uses_the_exact_search() -> None:
    # Whirlpool A/B at sqrt price for 1 A = 150 B: s = sqrt(150) * 2^64.
    s_q64 = isqrt(150 * 2**128)
    wp = np.zeros(1, dtype=POOL_STATE)
    wp["pool_kind"], wp["ready"] = POOL_ORCA_WHIRLPOOL, 1
    wp["sqrt_price_lo"], wp["sqrt_price_hi"] = s_q64 & (2**64 - 1), s_q64 >> 64
    wp["liquidity_lo"] = 10**13
    wp["fee_num"], wp["fee_den"] = 3000, 1_000_000
    pools = np.concatenate([wp, _pool(POOL_RAYDIUM_AMM_V4, 10**12, 147 * 10**12)])
    s = _strategy(TwoPoolArb, [two_leg(0, "a_to_b", 1, "b_to_a")], min_profit=1)
    out = np.zeros(1, dtype=ORDER_INTENT)
    assert _run(TwoPoolArb.kernel, _tick(0)[0], pools, s.make_state(2), s.params_array(), out) == 1
    x = int(out[0]["amount_in"][0])
    b = ref_whirlpool_out(x, True, s_q64, 10**13, 3000)
    assert int(out[0]["min_out"][0]) == b * 9970 // 10_000


def test_triangular_arb_trades_only_three_leg_routes() -> None:
    # A->B on pool 0, B->C on pool 1, C->A on pool 2 (its token a is C), a 2 % edge.
    pools = np.concatenate([
        _pool(POOL_RAYDIUM_AMM_V4, 10**12, 2 * 10**12),        # 1 A = 2 B
        _pool(POOL_RAYDIUM_AMM_V4, 10**12, 3 * 10**12),        # 1 B = 3 C
        _pool(POOL_RAYDIUM_AMM_V4, 588 * 10**10, 10**12),      # 5.88 C = 1 A (fair is 6)
    ])  # fmt: skip
    tri = {"legs": [{"pool": 0, "direction": "a_to_b"}, {"pool": 1, "direction": "a_to_b"},
                    {"pool": 2, "direction": "a_to_b"}]}  # fmt: skip
    routes = [two_leg(0, "a_to_b", 1, "b_to_a"), tri]
    # With 30 bps of slippage on each of three legs the conservative chain would eat the
    # edge left after fees (the kernel then rightly declines); 10 bps leaves a profit.
    s = _strategy(TriangularArb, routes, min_profit=1, slippage_bps=10)
    out = np.zeros(1, dtype=ORDER_INTENT)
    assert (
        _run(TriangularArb.kernel, _tick(2)[0], pools, s.make_state(3), s.params_array(), out) == 1
    )
    o = out[0]
    assert int(o["route_id"]) == 1
    assert [int(v) for v in o["amount_in"][1:]] == [int(o["min_out"][0]), int(o["min_out"][1])]
    assert int(o["min_out"][2]) >= int(o["amount_in"][0]) + 1


def test_the_example_strategy_loads_compiles_and_trades(tmp_path: Any) -> None:
    import sys

    from phantom_pipeline.runtime import load_params
    from phantom_pipeline.strategy import load_strategy_class

    sys.path.insert(0, str(REPO / "examples"))
    try:
        cls = load_strategy_class("my_strategy:MyStrategy")
        s = cls(load_params(cls, REPO / "examples" / "my_strategy.toml"))
    finally:
        sys.path.remove(str(REPO / "examples"))
    pools = _pool(POOL_RAYDIUM_AMM_V4, 10**12, 150 * 10**12)
    state, params = s.make_state(1), s.params_array()
    out = np.zeros(1, dtype=ORDER_INTENT)
    assert _run(cls.kernel, _tick(0)[0], pools, state, params, out) == 0  # first sight
    pools["reserve_b"] = 149 * 10**12  # A got 0.67 % cheaper: above the 50 bps trigger
    assert _run(cls.kernel, _tick(0)[0], pools, state, params, out) == 1
    assert int(out[0]["amount_in"][0]) == 1_000_000

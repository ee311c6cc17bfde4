"""Route quoting shared by the built-in arbitrage strategies.

Routes come from the instance config (``[[routes]]``, each with up to three ``legs`` of
``{pool, direction}``) and reach the kernel as a ``route table``: an int64 array, one row per
route, ``[route_id, n_legs, pool_0, a_to_b_0, pool_1, a_to_b_1, pool_2, a_to_b_2,
min_profit_raw, min_out_per_in_ppm]`` (the last two are the signer's floors on the last leg's
``min_out``; ppm 0 when the route has none).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numba import njit

from phantom_pipeline.amm import cp_out, whirlpool_out
from phantom_pipeline.atomics import mul_div_u64
from phantom_pipeline.constants import POOL_ORCA_WHIRLPOOL
from phantom_pipeline.strategy import StrategyError

ROUTE_COLS = 10
_U = np.uint64


def route_table(routes: Sequence[dict[str, Any]], n_pools: int) -> np.ndarray[Any, Any]:
    """The route table of the ``[[routes]]`` config entries (route id = position)."""
    table = np.zeros((max(len(routes), 1), ROUTE_COLS), dtype=np.int64)
    table[:, 0] = -1
    for rid, route in enumerate(routes):
        legs = route.get("legs", [])
        if not 1 <= len(legs) <= 3:
            raise StrategyError(f"routes[{rid}].legs: expected 1 to 3 legs, got {len(legs)}")
        table[rid, 0] = rid
        table[rid, 1] = len(legs)
        for i, leg in enumerate(legs):
            pool, direction = leg.get("pool"), leg.get("direction")
            if not isinstance(pool, int) or not 0 <= pool < n_pools:
                raise StrategyError(f"routes[{rid}].legs[{i}].pool: {pool!r} is not a pool index")
            if direction not in ("a_to_b", "b_to_a"):
                raise StrategyError(
                    f'routes[{rid}].legs[{i}].direction: expected "a_to_b" or "b_to_a"'
                )
            table[rid, 2 + 2 * i] = pool
            table[rid, 3 + 2 * i] = 1 if direction == "a_to_b" else 0
        for col, key in ((8, "min_profit_raw"), (9, "min_out_per_in_ppm")):
            value = route.get(key, 0)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
                raise StrategyError(f"routes[{rid}].{key}: expected an integer >= 0")
            table[rid, col] = value
    return table


@njit(cache=True)
def quote_leg(pool: Any, a_to_b: bool, amount_in: Any) -> Any:
    """Output of one leg on ``pool`` (a PoolState record) for ``amount_in``."""
    if pool.ready == 0:
        return _U(0)
    if pool.pool_kind == POOL_ORCA_WHIRLPOOL:
        fee_ppm = mul_div_u64(pool.fee_num, _U(1_000_000), pool.fee_den)
        return whirlpool_out(
            amount_in, a_to_b, pool.sqrt_price_lo, pool.sqrt_price_hi,
            pool.liquidity_lo, pool.liquidity_hi, fee_ppm,
        )  # fmt: skip
    if a_to_b:
        return cp_out(amount_in, pool.reserve_a, pool.reserve_b, pool.fee_num, pool.fee_den)
    return cp_out(amount_in, pool.reserve_b, pool.reserve_a, pool.fee_num, pool.fee_den)


@njit(cache=True)
def quote_route(routes: Any, r: int, pools: Any, amount_in: Any, outs: Any) -> Any:
    """Output of route row ``r`` for ``amount_in``; per-leg outputs into ``outs``."""
    amount = _U(amount_in)
    for i in range(routes[r, 1]):
        amount = quote_leg(pools[routes[r, 2 + 2 * i]], routes[r, 3 + 2 * i] == 1, amount)
        outs[i] = amount
    return amount


@njit(cache=True)
def _leg_mobius(pool: Any, a_to_b: bool) -> tuple[float, float, float]:
    """(k, d, g) with ``out ~= k x / (d + g x)`` for one leg, fees included, rounding and
    tick crossings ignored: constant product is exactly this shape, and so is a Whirlpool
    swap within one tick (in either direction)."""
    if pool.ready == 0 or pool.fee_den == 0:
        return 0.0, 1.0, 0.0
    gamma = 1.0 - float(pool.fee_num) / float(pool.fee_den)
    if pool.pool_kind == POOL_ORCA_WHIRLPOOL:
        s = (float(pool.sqrt_price_hi) * 18446744073709551616.0 + float(pool.sqrt_price_lo)) / (
            18446744073709551616.0
        )  # sqrt price as a real number
        liq = float(pool.liquidity_hi) * 18446744073709551616.0 + float(pool.liquidity_lo)
        if s <= 0.0 or liq <= 0.0:
            return 0.0, 1.0, 0.0
        if a_to_b:
            return gamma * liq * s * s, liq, gamma * s
        return gamma / (s * s), 1.0, gamma / (liq * s)
    r_in = float(pool.reserve_a if a_to_b else pool.reserve_b)
    r_out = float(pool.reserve_b if a_to_b else pool.reserve_a)
    return r_out * gamma, r_in, gamma


@njit(cache=True)
def route_optimal_in(routes: Any, r: int, pools: Any) -> Any:
    """The input maximising ``route output - input``, 0 if the route cannot profit.

    Every leg is a Moebius map ``k x / (d + g x)`` and so is their composition:
    ``(k1, d1, g1) then (k2, d2, g2)`` is ``(k1 k2, d1 d2, d2 g1 + g2 k1)``. The profit of
    ``K x / (D + G x) - x`` peaks at ``x* = (sqrt(K D) - D) / G`` and is positive iff
    ``K > D``. This only *locates* the optimum (in float, where the curve is flat); the
    amounts of an intent are then quoted exactly in integers.
    """
    kk, dd, gg = 1.0, 1.0, 0.0
    for i in range(routes[r, 1]):
        k, d, g = _leg_mobius(pools[routes[r, 2 + 2 * i]], routes[r, 3 + 2 * i] == 1)
        kk, dd, gg = kk * k, dd * d, d * gg + g * kk
    if kk <= dd or gg <= 0.0:
        return _U(0)
    x = (math.sqrt(kk) * math.sqrt(dd) - dd) / gg
    if x < 1.0:
        return _U(0)
    if x >= 1.8e19:
        return _U(18_000_000_000_000_000_000)
    return _U(x)


@njit(cache=True)
def route_touches(routes: Any, r: int, pool_id: Any) -> bool:
    # A plain loop: numba compiles no generator expressions.
    for i in range(routes[r, 1]):  # noqa: SIM110
        if routes[r, 2 + 2 * i] == pool_id:
            return True
    return False

"""The built-in arbitrage strategies: ``TwoPoolArb`` (the same pair on two venues) and
``TriangularArb`` (a cycle through three pools).

On every pool update, each configured route of the strategy's leg count that touches the
updated pool is priced: the profit-maximising input is located in closed form (every leg,
constant product or Whirlpool within a tick, is a Moebius map, and so is the route), capped
by ``max_amount_in``;
then the route is re-quoted conservatively, each leg fed only the previous leg's
slippage-protected ``min_out``. The best route whose conservative profit, after the base
fee, priority fee and tip, reaches ``min_profit`` becomes one intent. Its last leg's
``min_out`` is at least ``amount_in + costs + min_profit``, so on chain the trade either makes
that profit or reverts. The intent also obeys the signer's route rules: every leg sells
exactly the previous leg's ``min_out``, no ``min_out`` is zero, and the last one meets the
route's ``min_profit_raw`` and ``min_out_per_in_ppm`` (columns 8 and 9 of the route table).

Costs are in lamports and are subtracted from the profit when ``costs_in_input`` (routes that
start and end in SOL); otherwise ``min_profit`` alone must cover them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numba import njit

from phantom_pipeline.amm import apply_slippage
from phantom_pipeline.atomics import mul_div_u64
from phantom_pipeline.constants import MARKET_POOL_UPDATE
from phantom_pipeline.strategies.routes import (
    quote_leg,
    route_optimal_in,
    route_table,
    route_touches,
)
from phantom_pipeline.strategy import Strategy

_U = np.uint64


@njit(cache=True)
def arb_kernel(tick: Any, pools: Any, state: Any, params: Any, out: Any, n_legs: int) -> int:
    """Shared body of the arbitrage kernels (state = the route table)."""
    if tick.kind != MARKET_POOL_UPDATE:
        return 0
    p = params[0]
    max_in = _U(p.max_amount_in)
    cost = np.int64(0)
    if p.costs_in_input:
        cost = (
            np.int64(p.base_fee_lamports)
            + np.int64(p.tip_lamports)
            + np.int64(mul_div_u64(p.cu_price_micro_lamports, p.cu_limit, 1_000_000))
        )
    best_r = -1
    best_x = _U(0)
    best_profit = np.int64(p.min_profit) - 1
    for r in range(state.shape[0]):
        if state[r, 0] < 0 or state[r, 1] != n_legs or not route_touches(state, r, tick.pool_id):
            continue
        x = route_optimal_in(state, r, pools)
        if x > max_in:
            x = max_in
        if x == 0:
            continue
        # Conservative chain: each leg gets only the previous leg's slippage-protected min.
        amount = x
        for i in range(n_legs):
            q = quote_leg(pools[state[r, 2 + 2 * i]], state[r, 3 + 2 * i] == 1, amount)
            amount = apply_slippage(q, p.slippage_bps)
        profit = np.int64(amount) - np.int64(x) - cost
        if profit > best_profit:
            best_r, best_x, best_profit = r, x, profit
    if best_r < 0:
        return 0
    o = out[0]
    o.route_id = state[best_r, 0]
    amount = best_x
    for i in range(3):
        o.amount_in[i] = 0
        o.min_out[i] = 0
    for i in range(n_legs):
        q = quote_leg(pools[state[best_r, 2 + 2 * i]], state[best_r, 3 + 2 * i] == 1, amount)
        o.amount_in[i] = amount
        amount = apply_slippage(q, p.slippage_bps)
        if amount == 0:
            return 0  # the signer refuses a zero min_out: no intent
        o.min_out[i] = amount
    floor_out = best_x + _U(cost) + _U(p.min_profit)
    route_floor = best_x + _U(state[best_r, 8])
    if floor_out < route_floor:
        floor_out = route_floor
    if state[best_r, 9] > 0:
        price_floor = mul_div_u64(best_x, _U(state[best_r, 9]), _U(1_000_000)) + _U(1)
        if floor_out < price_floor:
            floor_out = price_floor
    if o.min_out[n_legs - 1] < floor_out:
        o.min_out[n_legs - 1] = floor_out
    o.cu_price_micro_lamports = p.cu_price_micro_lamports
    o.tip_lamports = p.tip_lamports
    o.expected_profit = best_profit
    o.flags = 0
    o.tick_array_variant = 0
    return 1


@njit(cache=True)
def two_pool_kernel(tick: Any, pools: Any, state: Any, params: Any, out: Any) -> int:
    return arb_kernel(tick, pools, state, params, out, 2)


@njit(cache=True)
def triangular_kernel(tick: Any, pools: Any, state: Any, params: Any, out: Any) -> int:
    return arb_kernel(tick, pools, state, params, out, 3)


@dataclass
class ArbParams:
    """Parameters of the arbitrage strategies (amounts in raw units of the input token)."""

    min_profit: int = 1_000
    max_amount_in: int = 1_000_000_000_000
    slippage_bps: int = 30
    cu_limit: int = 200_000
    cu_price_micro_lamports: int = 10_000
    tip_lamports: int = 0
    base_fee_lamports: int = 5_000
    costs_in_input: bool = True


class _Arb(Strategy):
    Params = ArbParams
    max_intents_per_tick: ClassVar[int] = 1

    def make_state(self, n_pools: int) -> np.ndarray[Any, Any]:
        return route_table(self.routes, n_pools)


class TwoPoolArb(_Arb):
    """Same pair on two constant-product or Whirlpool pools: buy low, sell high."""

    kernel = two_pool_kernel


class TriangularArb(_Arb):
    """A cycle through three pools (three-leg routes)."""

    kernel = triangular_kernel

"""A strategy to copy: buy when a pool's price moves more than ``trigger_bps`` since the last
update of that pool, on the route given in params. Run it with

    python -m phantom_pipeline.runtime --instance default --strategy my_strategy:MyStrategy \
        --params examples/my_strategy.toml

(with this directory on PYTHONPATH), or hot-swap it in with ``phantom-pipeline swap``.

The kernel runs inside numba for every market record; it must not allocate, print or call
Python. Use only its arguments: ``tick`` (MarketUpdate), ``pools`` (PoolState table copy),
``state`` (your array from ``make_state``), ``params`` (``params[0].<name>``), ``out``
(OrderIntent array to fill). Return the number of intents written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from phantom_pipeline.amm import apply_slippage, cp_out
from phantom_pipeline.atomics import mul_div_u64
from phantom_pipeline.constants import MARKET_POOL_UPDATE
from phantom_pipeline.strategy import Strategy


@njit(cache=True)
def my_kernel(tick: Any, pools: Any, state: Any, params: Any, out: Any) -> int:
    if tick.kind != MARKET_POOL_UPDATE:
        return 0
    p = params[0]
    pool = pools[tick.pool_id]
    if pool.ready == 0 or pool.reserve_a == 0:
        return 0
    # Price of A in B, scaled by 1e9, exactly in integers.
    price = mul_div_u64(pool.reserve_b, np.uint64(1_000_000_000), pool.reserve_a)
    last = np.uint64(state[tick.pool_id])
    state[tick.pool_id] = np.int64(price)
    if last == 0 or price >= last:
        return 0
    drop_bps = mul_div_u64(last - price, np.uint64(10_000), last)
    if drop_bps < np.uint64(p.trigger_bps):
        return 0
    # Buy A with `amount_in` of B on this pool (leg direction b_to_a in the route).
    quote = cp_out(p.amount_in, pool.reserve_b, pool.reserve_a, pool.fee_num, pool.fee_den)
    o = out[0]
    o.route_id = p.route_id
    o.amount_in[0] = p.amount_in
    min_out = apply_slippage(quote, p.slippage_bps)
    if min_out == 0:
        return 0  # the signer refuses a zero min_out (it would sell at any price)
    o.min_out[0] = min_out
    o.cu_price_micro_lamports = p.cu_price_micro_lamports
    o.tip_lamports = 0
    o.expected_profit = 0
    return 1


class MyStrategy(Strategy):
    @dataclass
    class Params:
        route_id: int = 0
        trigger_bps: int = 50
        amount_in: int = 1_000_000
        slippage_bps: int = 50
        cu_price_micro_lamports: int = 5_000

    kernel = my_kernel
    max_intents_per_tick = 1

    def make_state(self, n_pools: int) -> np.ndarray[Any, Any]:
        return np.zeros(n_pools, dtype=np.int64)  # last price seen per pool

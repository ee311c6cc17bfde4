"""``EchoStrategy``: one intent per pool update, for exercising the pipeline end to end.

It trades nothing sensible: route ``route_base + pool_id``, amount = the pool's token-A
reserve scaled by ``amount_bps`` (at least 1), and ``min_out`` that amount scaled by
``min_out_ppm`` (at least 1): a one-leg intent that obeys the signer's route rules (no zero
amount or ``min_out``; on a cyclic or price-floored route, set ``min_out_ppm`` to match).
Because every pool update becomes exactly one intent whose ``tick_seq`` is the tick's, it
makes lost or repeated ticks visible downstream (the swap tests and benchmarks count on that).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from phantom_pipeline.atomics import mul_div_u64
from phantom_pipeline.constants import MARKET_POOL_UPDATE
from phantom_pipeline.strategy import Strategy


@njit(cache=True)
def echo_kernel(tick: Any, pools: Any, state: Any, params: Any, out: Any) -> int:
    if tick.kind != MARKET_POOL_UPDATE:
        return 0
    p = params[0]
    pid = tick.pool_id
    o = out[0]
    o.route_id = p.route_base + pid
    amount = (tick.reserve_a * np.uint64(p.amount_bps)) // np.uint64(10_000)
    if amount == 0:
        amount = np.uint64(1)
    min_out = mul_div_u64(amount, np.uint64(p.min_out_ppm), np.uint64(1_000_000))
    if min_out == 0:
        min_out = np.uint64(1)
    o.amount_in[0] = amount
    o.min_out[0] = min_out
    o.cu_price_micro_lamports = p.cu_price_micro_lamports
    o.tip_lamports = 0
    o.expected_profit = 0
    o.flags = 0
    state[pid % state.shape[0]] += 1
    return 1


class EchoStrategy(Strategy):
    """One intent per pool update (testing and benchmarking)."""

    @dataclass
    class Params:
        route_base: int = 0
        amount_bps: int = 10
        min_out_ppm: int = 1
        cu_price_micro_lamports: int = 1_000

    kernel = echo_kernel
    max_intents_per_tick = 1

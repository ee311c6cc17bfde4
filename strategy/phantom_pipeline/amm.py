"""Swap maths for strategies, in numba, exact in integers where amounts are decided.

Amounts are uint64 raw token units. Constant-product pools (Raydium AMM v4 and CPMM) quote
``out = floor(R_out * net / (R_in + net))`` with ``net = in - ceil(in * fee_num / fee_den)``;
the products go through the exact 128-bit ``mul_div`` intrinsics, so nothing overflows int64
or rounds through a float. Orca Whirlpool pools are quoted within the current tick from the
Q64.64 sqrt price and the liquidity (u128 values as ``(lo, hi)`` pairs, products in 256 bits);
a swap large enough to cross a tick is quoted as if liquidity stayed constant, which is why
strategies put a slippage-protected ``min_out`` on every leg.

Floats only *locate* a route's profit-maximising input
(``phantom_pipeline.strategies.routes.route_optimal_in``: the profit curve is flat at its
top, so float's relative error there costs nothing); every amount that goes into an intent
is evaluated exactly by the functions here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from phantom_pipeline.atomics import (
    mul_div_ceil_u64,
    mul_div_ceil_u128,
    mul_div_u64,
    mul_div_u128,
)

_U = np.uint64
_ZERO = np.uint64(0)
PPM = 1_000_000


@njit(cache=True)
def cp_out(amount_in: Any, r_in: Any, r_out: Any, fee_num: Any, fee_den: Any) -> Any:
    """Constant-product output for ``amount_in`` (fee taken from the input, rounded up)."""
    a = _U(amount_in)
    if a == _ZERO or r_in == 0 or r_out == 0 or fee_den == 0:
        return _ZERO
    fee = mul_div_ceil_u64(a, _U(fee_num), _U(fee_den))
    if fee >= a:
        return _ZERO
    net = a - fee
    return mul_div_u64(_U(r_out), net, _U(r_in) + net)


# ---------------------------------------------------------------- u128 as (lo, hi) pairs


@njit(cache=True, inline="always")
def u128_lt(alo: Any, ahi: Any, blo: Any, bhi: Any) -> bool:
    return ahi < bhi or (ahi == bhi and alo < blo)


@njit(cache=True, inline="always")
def u128_add(alo: Any, ahi: Any, blo: Any, bhi: Any) -> tuple[Any, Any]:
    lo = _U(alo) + _U(blo)
    carry = _U(1) if lo < _U(alo) else _ZERO
    return lo, _U(ahi) + _U(bhi) + carry


@njit(cache=True, inline="always")
def u128_sub(alo: Any, ahi: Any, blo: Any, bhi: Any) -> tuple[Any, Any]:
    """a - b, for a >= b."""
    borrow = _U(1) if _U(alo) < _U(blo) else _ZERO
    return _U(alo) - _U(blo), _U(ahi) - _U(bhi) - borrow


@njit(cache=True)
def whirlpool_out(
    amount_in: Any, a_to_b: bool, s_lo: Any, s_hi: Any, l_lo: Any, l_hi: Any, fee_ppm: Any
) -> Any:
    """Output of a Whirlpool swap of ``amount_in`` within the current tick.

    a→b (price down): ``s' = ceil(L s / (L + net s / 2^64))``, ``out = floor(L (s - s') / 2^64)``;
    b→a (price up): ``s' = s + floor(net 2^64 / L)``, ``out = floor(L (s' - s) / s · 2^64 / s')``.
    ``s`` is the Q64.64 sqrt price, ``L`` the liquidity, ``net`` the input less the fee.
    """
    a = _U(amount_in)
    if a == _ZERO or (l_lo == 0 and l_hi == 0) or (s_lo == 0 and s_hi == 0):
        return _ZERO
    fee = mul_div_ceil_u64(a, _U(fee_ppm), _U(PPM))
    if fee >= a:
        return _ZERO
    net = a - fee
    if a_to_b:
        # net * s / 2^64
        ns_lo, ns_hi = mul_div_u128(net, 0, s_lo, s_hi, 0, 1)
        den_lo, den_hi = u128_add(l_lo, l_hi, ns_lo, ns_hi)
        q_lo, q_hi = mul_div_ceil_u128(l_lo, l_hi, s_lo, s_hi, den_lo, den_hi)
        if not u128_lt(q_lo, q_hi, s_lo, s_hi):
            return _ZERO
        d_lo, d_hi = u128_sub(s_lo, s_hi, q_lo, q_hi)
        o_lo, o_hi = mul_div_u128(l_lo, l_hi, d_lo, d_hi, 0, 1)
        return o_lo if o_hi == 0 else _U(0xFFFFFFFFFFFFFFFF)
    # b -> a
    ds_lo, ds_hi = mul_div_u128(net, 0, 0, 1, l_lo, l_hi)  # net * 2^64 / L
    if ds_lo == 0 and ds_hi == 0:
        return _ZERO
    n_lo, n_hi = u128_add(s_lo, s_hi, ds_lo, ds_hi)
    t_lo, t_hi = mul_div_u128(l_lo, l_hi, ds_lo, ds_hi, s_lo, s_hi)  # L ds / s
    o_lo, o_hi = mul_div_u128(t_lo, t_hi, 0, 1, n_lo, n_hi)  # * 2^64 / s'
    return o_lo if o_hi == 0 else _U(0xFFFFFFFFFFFFFFFF)


@njit(cache=True)
def apply_slippage(amount: Any, slippage_bps: Any) -> Any:
    """``floor(amount * (10000 - bps) / 10000)``: the min-out for a quoted ``amount``."""
    bps = min(_U(slippage_bps), _U(10_000))
    return mul_div_u64(_U(amount), _U(10_000) - bps, _U(10_000))

//! Swap maths, ported from `strategy/phantom_pipeline/amm.py` (numba) with the same integer
//! semantics: `uint64` values, wrapping where numba's machine integers wrap, the exact
//! 128-bit `mul_div_u64` and the 256-bit `mul_div_u128` intrinsics of
//! `phantom_pipeline/atomics.py` (quotients truncated to the result width, a zero divisor
//! giving 0).

/// Parts per million, the Whirlpool fee unit.
pub const PPM: u64 = 1_000_000;

/// `floor(a * b / c)`, exact 128-bit product, truncated to 64 bits; `c == 0` gives 0
/// (`atomics.mul_div_u64`).
#[inline]
pub fn mul_div_u64(a: u64, b: u64, c: u64) -> u64 {
    if c == 0 {
        return 0;
    }
    (u128::from(a) * u128::from(b) / u128::from(c)) as u64
}

/// `ceil(a * b / c)`, exact, truncated to 64 bits; `c == 0` gives 0
/// (`atomics.mul_div_ceil_u64`, whose `a * b + c - 1` cannot overflow 128 bits).
#[inline]
pub fn mul_div_ceil_u64(a: u64, b: u64, c: u64) -> u64 {
    if c == 0 {
        return 0;
    }
    (u128::from(a) * u128::from(b)).div_ceil(u128::from(c)) as u64
}

/// The full 256-bit product of two u128, as (high, low).
#[inline]
pub fn mul_wide(a: u128, b: u128) -> (u128, u128) {
    const M: u128 = u64::MAX as u128;
    let (a1, a0) = (a >> 64, a & M);
    let (b1, b0) = (b >> 64, b & M);
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let p11 = a1 * b1;
    let mid = (p00 >> 64) + (p01 & M) + (p10 & M);
    let lo = (p00 & M) | (mid << 64);
    let hi = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
    (hi, lo)
}

/// One step of Knuth's algorithm D with a two-limb normalised divisor `v = (v1:v0)` (top bit
/// of `v1` set): the quotient digit of `(u2:u1:u0) / v` and the remainder, given
/// `(u2:u1) < v` (so the digit fits 64 bits).
#[inline]
fn div_3by2(u2: u64, u1: u64, u0: u64, v: u128) -> (u64, u128) {
    const B: u128 = 1 << 64;
    let (v1, v0) = ((v >> 64) as u64, v as u64);
    let top = (u128::from(u2) << 64) | u128::from(u1);
    let mut qhat = top / u128::from(v1);
    let mut rhat = top % u128::from(v1);
    // With a two-digit divisor this test covers all of it: qhat ends exact.
    while qhat >= B || qhat * u128::from(v0) > ((rhat << 64) | u128::from(u0)) {
        qhat -= 1;
        rhat += u128::from(v1);
        if rhat >= B {
            break;
        }
    }
    // The true remainder is below v < 2^128: its low 128 bits are all of it.
    let low = (u128::from(u1) << 64) | u128::from(u0);
    let rem = low.wrapping_sub(qhat.wrapping_mul(v));
    (qhat as u64, rem)
}

/// `(hi:lo) / c` for `hi < c`, `c != 0` (the quotient then fits 128 bits).
#[inline]
fn div_256_by_128(hi: u128, lo: u128, c: u128) -> u128 {
    debug_assert!(hi < c);
    if hi == 0 {
        return lo / c;
    }
    if c.is_power_of_two() {
        let k = c.trailing_zeros(); // 1 <= k <= 127 since hi < c and hi != 0
        return (hi << (128 - k)) | (lo >> k);
    }
    if c >> 64 == 0 {
        // Short division by one limb: hi < c < 2^64.
        let c = c as u64;
        let n1 = (hi << 64) | (lo >> 64);
        let q1 = n1 / u128::from(c);
        let r1 = n1 % u128::from(c);
        let n0 = (r1 << 64) | (lo & u128::from(u64::MAX));
        let q0 = n0 / u128::from(c);
        return (q1 << 64) | q0;
    }
    // Two-limb divisor: normalise so its top bit is set, then two steps of algorithm D.
    let s = c.leading_zeros(); // < 64
    let v = c << s;
    let (nh, nl) = if s == 0 {
        (hi, lo)
    } else {
        ((hi << s) | (lo >> (128 - s)), lo << s)
    };
    let (q1, r) = div_3by2((nh >> 64) as u64, nh as u64, (nl >> 64) as u64, v);
    let (q0, _) = div_3by2((r >> 64) as u64, r as u64, nl as u64, v);
    (u128::from(q1) << 64) | u128::from(q0)
}

/// `a * b / c` on u128 with a 256-bit product, rounded down (or up), the quotient truncated
/// to 128 bits, `c == 0` giving 0 (`atomics.mul_div_u128` / `mul_div_ceil_u128`; the
/// round-up addition wraps in 256 bits as LLVM's `i256` does).
#[inline]
pub fn mul_div_u128(a: u128, b: u128, c: u128, round_up: bool) -> u128 {
    if c == 0 {
        return 0;
    }
    let (mut hi, mut lo) = mul_wide(a, b);
    if round_up {
        let (l, carry) = lo.overflowing_add(c - 1);
        lo = l;
        hi = hi.wrapping_add(u128::from(carry));
    }
    // Truncation to 128 bits drops the quotient's high part: hi / c contributes only to it.
    div_256_by_128(hi % c, lo, c)
}

/// Constant-product output for `amount_in` (fee taken from the input, rounded up):
/// `amm.cp_out`.
#[inline]
pub fn cp_out(amount_in: u64, r_in: u64, r_out: u64, fee_num: u64, fee_den: u64) -> u64 {
    let a = amount_in;
    if a == 0 || r_in == 0 || r_out == 0 || fee_den == 0 {
        return 0;
    }
    let fee = mul_div_ceil_u64(a, fee_num, fee_den);
    if fee >= a {
        return 0;
    }
    let net = a - fee;
    mul_div_u64(r_out, net, r_in.wrapping_add(net))
}

const Q64: u128 = 1 << 64;

/// Output of a Whirlpool swap of `amount_in` within the current tick: `amm.whirlpool_out`
/// (`s` the Q64.64 sqrt price, `liq` the liquidity, both u128).
pub fn whirlpool_out(amount_in: u64, a_to_b: bool, s: u128, liq: u128, fee_ppm: u64) -> u64 {
    let a = amount_in;
    if a == 0 || liq == 0 || s == 0 {
        return 0;
    }
    let fee = mul_div_ceil_u64(a, fee_ppm, PPM);
    if fee >= a {
        return 0;
    }
    let net = u128::from(a - fee);
    let out = if a_to_b {
        let ns = mul_div_u128(net, s, Q64, false); // net * s / 2^64
        let den = liq.wrapping_add(ns);
        let q = mul_div_u128(liq, s, den, true);
        if q >= s {
            return 0;
        }
        mul_div_u128(liq, s - q, Q64, false)
    } else {
        let ds = mul_div_u128(net, Q64, liq, false); // net * 2^64 / L
        if ds == 0 {
            return 0;
        }
        let n = s.wrapping_add(ds);
        let t = mul_div_u128(liq, ds, s, false); // L ds / s
        mul_div_u128(t, Q64, n, false) // * 2^64 / s'
    };
    u64::try_from(out).unwrap_or(u64::MAX)
}

/// `floor(amount * (10000 - bps) / 10000)` with `bps` capped at 10000: `amm.apply_slippage`.
#[inline]
pub fn apply_slippage(amount: u64, slippage_bps: u64) -> u64 {
    let bps = slippage_bps.min(10_000);
    mul_div_u64(amount, 10_000 - bps, 10_000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Bit-by-bit long division of the 256-bit `(hi:lo)` by `c`, quotient mod 2^128.
    fn reference_div(hi: u128, lo: u128, c: u128) -> u128 {
        let mut rem: u128 = 0;
        let mut q: u128 = 0;
        for i in (0..256).rev() {
            let bit = if i >= 128 {
                (hi >> (i - 128)) & 1
            } else {
                (lo >> i) & 1
            };
            let carry = rem >> 127;
            rem = (rem << 1) | bit;
            q <<= 1;
            if carry == 1 || rem >= c {
                rem = rem.wrapping_sub(c);
                q |= 1;
            }
        }
        q
    }

    fn reference_mul_div(a: u128, b: u128, c: u128, up: bool) -> u128 {
        if c == 0 {
            return 0;
        }
        let (mut hi, mut lo) = mul_wide(a, b);
        if up {
            let (l, carry) = lo.overflowing_add(c - 1);
            lo = l;
            hi = hi.wrapping_add(u128::from(carry));
        }
        reference_div(hi, lo, c)
    }

    #[test]
    fn wide_product_is_exact_at_the_corners() {
        let m = u128::MAX;
        // (2^128 - 1)^2 = 2^256 - 2^129 + 1
        assert_eq!(mul_wide(m, m), (m - 1, 1));
        assert_eq!(mul_wide(1 << 64, 1 << 64), (1, 0));
        assert_eq!(mul_wide(3, 5), (0, 15));
    }

    #[test]
    fn division_paths_agree_with_long_division() {
        let cases = [
            (1u128 << 100, 1u128 << 100, 1u128 << 64),
            (u128::MAX, u128::MAX, u128::MAX),
            (u128::MAX, u128::MAX, (1u128 << 64) + 1),
            (u128::MAX, 12345, 7),
            (u128::MAX, u128::MAX, 1),
            ((1u128 << 127) + 99, (1u128 << 90) + 3, (1u128 << 127) - 1),
            (1u128 << 64, 1u128 << 64, (1u128 << 64) - 1),
        ];
        for (a, b, c) in cases {
            for up in [false, true] {
                assert_eq!(
                    mul_div_u128(a, b, c, up),
                    reference_mul_div(a, b, c, up),
                    "{a} {b} {c} {up}"
                );
            }
        }
        assert_eq!(mul_div_u128(5, 5, 0, true), 0);
    }

    fn wide() -> impl Strategy<Value = u128> {
        prop_oneof![
            any::<u128>(),
            any::<u64>().prop_map(u128::from),
            (0u32..128, any::<u128>()).prop_map(|(k, v)| v >> k),
            (0u32..128).prop_map(|k| 1u128 << k),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        #[test]
        fn mul_div_u128_matches_long_division(a in wide(), b in wide(), c in wide(), up: bool) {
            prop_assert_eq!(mul_div_u128(a, b, c, up), reference_mul_div(a, b, c, up));
        }
    }

    #[test]
    fn u64_helpers_round_as_documented() {
        assert_eq!(mul_div_u64(u64::MAX, u64::MAX, u64::MAX), u64::MAX);
        assert_eq!(mul_div_u64(7, 3, 0), 0);
        assert_eq!(mul_div_ceil_u64(401, 25, 10_000), 2);
        assert_eq!(mul_div_ceil_u64(u64::MAX, u64::MAX, u64::MAX), u64::MAX);
        // Fee rounding: 1 in buys nothing; 401 in pays 2.
        assert_eq!(cp_out(1, 1_000_000_000, 1_000_000_000, 25, 10_000), 0);
        assert_eq!(cp_out(401, 10u64.pow(12), 10u64.pow(12), 25, 10_000), 398);
    }
}

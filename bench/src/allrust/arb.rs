//! The arbitrage strategies' maths, ported from `strategy/phantom_pipeline/strategies/arb.py`
//! (`arb_kernel`, `ArbParams`) and `routes.py` (`route_table`, `quote_leg`, `_leg_mobius`,
//! `route_optimal_in`).
//!
//! Same results as the numba kernel, bit for bit: the optimum is located in `f64` with the
//! same operations in the same order (Möbius composition, `sqrt(K) * sqrt(D) - D`, the same
//! caps and the same float-to-int truncation), then every amount is quoted exactly in integers
//! ([`crate::allrust::amm`]); `int64` arithmetic wraps as numba's does, and routes are scanned in route
//! id order with the first strictly better profit winning. The tests replay vectors printed by
//! the numba functions themselves (`testdata/gen_arb_vectors.py`).

use crate::allrust::amm::{apply_slippage, cp_out, mul_div_u64, whirlpool_out};
use phantom_ringbuf::records::{pool_kind, PoolState};
use serde::Deserialize;

/// Most legs of a route (the intent record has three per-leg slots).
pub const MAX_LEGS: usize = 3;

/// `ArbParams` of `arb.py`, with its defaults; `[strategy].params` of the config.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ArbParams {
    /// Least profit (raw units of the input token) for an intent.
    pub min_profit: i64,
    /// Cap of the first leg's input.
    pub max_amount_in: i64,
    /// Slippage allowed on every leg's `min_out`, basis points.
    pub slippage_bps: i64,
    /// Compute units the transaction asks for (for the priority fee).
    pub cu_limit: i64,
    /// Compute-unit price, micro-lamports.
    pub cu_price_micro_lamports: i64,
    /// Jito tip, lamports.
    pub tip_lamports: i64,
    /// Base fee, lamports.
    pub base_fee_lamports: i64,
    /// Whether fees and tip are in the input token (SOL-in, SOL-out routes).
    pub costs_in_input: bool,
}

impl Default for ArbParams {
    fn default() -> Self {
        ArbParams {
            min_profit: 1_000,
            max_amount_in: 1_000_000_000_000,
            slippage_bps: 30,
            cu_limit: 200_000,
            cu_price_micro_lamports: 10_000,
            tip_lamports: 0,
            base_fee_lamports: 5_000,
            costs_in_input: true,
        }
    }
}

/// One leg of a route: pool id and direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Leg {
    /// Pool id (index in `[[pools]]`).
    pub pool: u32,
    /// Sells token A for B.
    pub a_to_b: bool,
}

/// One row of the route table (route id = position in `[[routes]]`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Route {
    /// Route id.
    pub id: u32,
    /// Legs used, 1 to 3.
    pub n_legs: usize,
    /// The legs (the first `n_legs`).
    pub legs: [Leg; MAX_LEGS],
}

impl Route {
    /// A route of `legs` (1 to 3 of them).
    pub fn new(id: u32, legs: &[Leg]) -> Option<Self> {
        if legs.is_empty() || legs.len() > MAX_LEGS {
            return None;
        }
        let mut r = Route {
            id,
            n_legs: legs.len(),
            legs: [Leg::default(); MAX_LEGS],
        };
        r.legs[..legs.len()].copy_from_slice(legs);
        Some(r)
    }

    fn legs(&self) -> &[Leg] {
        &self.legs[..self.n_legs]
    }

    /// `route_touches`.
    pub fn touches(&self, pool: u32) -> bool {
        self.legs().iter().any(|l| l.pool == pool)
    }
}

/// What the kernel writes into an `OrderIntent` (the runtime fills seq, epoch, stamps).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Intent {
    /// Route id.
    pub route_id: u32,
    /// Per-leg input.
    pub amount_in: [u64; MAX_LEGS],
    /// Per-leg minimum output.
    pub min_out: [u64; MAX_LEGS],
    /// Compute-unit price.
    pub cu_price_micro_lamports: u64,
    /// Tip.
    pub tip_lamports: u64,
    /// Conservative profit after costs.
    pub expected_profit: i64,
    /// Template variant (the kernel always writes 0).
    pub tick_array_variant: u32,
}

fn u128_of(lo: u64, hi: u64) -> u128 {
    (u128::from(hi) << 64) | u128::from(lo)
}

/// `quote_leg`: output of one leg on `pool` for `amount_in`.
#[inline]
pub fn quote_leg(pool: &PoolState, a_to_b: bool, amount_in: u64) -> u64 {
    if pool.ready == 0 {
        return 0;
    }
    if pool.pool_kind == pool_kind::ORCA_WHIRLPOOL {
        let fee_ppm = mul_div_u64(pool.fee_num, 1_000_000, pool.fee_den);
        return whirlpool_out(
            amount_in,
            a_to_b,
            u128_of(pool.sqrt_price_lo, pool.sqrt_price_hi),
            u128_of(pool.liquidity_lo, pool.liquidity_hi),
            fee_ppm,
        );
    }
    if a_to_b {
        cp_out(
            amount_in,
            pool.reserve_a,
            pool.reserve_b,
            pool.fee_num,
            pool.fee_den,
        )
    } else {
        cp_out(
            amount_in,
            pool.reserve_b,
            pool.reserve_a,
            pool.fee_num,
            pool.fee_den,
        )
    }
}

const TWO_64: f64 = 18_446_744_073_709_551_616.0;

/// `_leg_mobius`: `(k, d, g)` with `out ~= k x / (d + g x)` for one leg.
#[inline]
pub fn leg_mobius(pool: &PoolState, a_to_b: bool) -> (f64, f64, f64) {
    if pool.ready == 0 || pool.fee_den == 0 {
        return (0.0, 1.0, 0.0);
    }
    let gamma = 1.0 - pool.fee_num as f64 / pool.fee_den as f64;
    if pool.pool_kind == pool_kind::ORCA_WHIRLPOOL {
        let s = (pool.sqrt_price_hi as f64 * TWO_64 + pool.sqrt_price_lo as f64) / TWO_64;
        let liq = pool.liquidity_hi as f64 * TWO_64 + pool.liquidity_lo as f64;
        // `s <= 0.0 or liq <= 0.0` (false for NaN, as in Python).
        if s <= 0.0 || liq <= 0.0 {
            return (0.0, 1.0, 0.0);
        }
        if a_to_b {
            return (gamma * liq * s * s, liq, gamma * s);
        }
        return (gamma / (s * s), 1.0, gamma / (liq * s));
    }
    let (r_in, r_out) = if a_to_b {
        (pool.reserve_a as f64, pool.reserve_b as f64)
    } else {
        (pool.reserve_b as f64, pool.reserve_a as f64)
    };
    (r_out * gamma, r_in, gamma)
}

/// numba's `np.uint64(float)` for the values `route_optimal_in` can reach (`1 <= x < 1.8e19`,
/// or NaN): LLVM `fptoui`, which on x86-64 is a conversion whose out-of-range result (NaN) is
/// `0x8000_0000_0000_0000`.
#[inline]
fn float_to_u64(x: f64) -> u64 {
    if x.is_nan() {
        return 1 << 63;
    }
    x as u64
}

/// `route_optimal_in`: the input maximising `route output - input`, 0 if none profits.
pub fn route_optimal_in(route: &Route, pools: &[PoolState]) -> u64 {
    let (mut kk, mut dd, mut gg) = (1.0f64, 1.0f64, 0.0f64);
    for leg in route.legs() {
        let (k, d, g) = leg_mobius(&pools[leg.pool as usize], leg.a_to_b);
        // `kk, dd, gg = kk * k, dd * d, d * gg + g * kk` (right side first: the old kk).
        let (nk, nd, ng) = (kk * k, dd * d, d * gg + g * kk);
        (kk, dd, gg) = (nk, nd, ng);
    }
    // `kk <= dd or gg <= 0.0`: false for NaN, which then flows on as in numba.
    if kk <= dd || gg <= 0.0 {
        return 0;
    }
    let x = (kk.sqrt() * dd.sqrt() - dd) / gg;
    if x < 1.0 {
        return 0;
    }
    if x >= 1.8e19 {
        return 18_000_000_000_000_000_000;
    }
    float_to_u64(x)
}

/// The arbitrage kernel of one strategy (`TwoPoolArb`: 2 legs, `TriangularArb`: 3).
#[derive(Clone, Debug)]
pub struct ArbKernel {
    params: ArbParams,
    n_legs: usize,
    routes: Vec<Route>,
    /// Per pool id: the routes of `n_legs` legs touching it, in route id order (the kernel's
    /// scan order, so ties resolve the same way).
    by_pool: Vec<Vec<usize>>,
}

impl ArbKernel {
    /// A kernel trading the `n_legs`-leg routes among `routes` over `n_pools` pools (routes of
    /// other lengths are skipped, as the Python kernel skips them).
    pub fn new(params: ArbParams, n_legs: usize, routes: Vec<Route>, n_pools: usize) -> Self {
        let mut by_pool = vec![Vec::new(); n_pools];
        for (r, route) in routes.iter().enumerate() {
            if route.n_legs != n_legs {
                continue;
            }
            for (pool, list) in by_pool.iter_mut().enumerate() {
                if route.touches(pool as u32) {
                    list.push(r);
                }
            }
        }
        ArbKernel {
            params,
            n_legs,
            routes,
            by_pool,
        }
    }

    /// The params.
    pub fn params(&self) -> &ArbParams {
        &self.params
    }

    /// The routes.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// `arb_kernel` for a `PoolUpdate` tick of `pool_id`, `pools` being the current table.
    pub fn on_pool_update(&self, pool_id: u32, pools: &[PoolState]) -> Option<Intent> {
        let p = &self.params;
        let max_in = p.max_amount_in as u64;
        let mut cost: i64 = 0;
        if p.costs_in_input {
            cost = p
                .base_fee_lamports
                .wrapping_add(p.tip_lamports)
                .wrapping_add(mul_div_u64(
                    p.cu_price_micro_lamports as u64,
                    p.cu_limit as u64,
                    1_000_000,
                ) as i64);
        }
        let slip = p.slippage_bps as u64;
        let mut best: Option<(usize, u64)> = None;
        let mut best_profit = p.min_profit.wrapping_sub(1);
        let candidates = self.by_pool.get(pool_id as usize)?;
        for &r in candidates {
            let route = &self.routes[r];
            let mut x = route_optimal_in(route, pools);
            if x > max_in {
                x = max_in;
            }
            if x == 0 {
                continue;
            }
            // Conservative chain: each leg gets only the previous leg's slippage-protected min.
            let mut amount = x;
            for leg in route.legs() {
                let q = quote_leg(&pools[leg.pool as usize], leg.a_to_b, amount);
                amount = apply_slippage(q, slip);
            }
            let profit = (amount as i64).wrapping_sub(x as i64).wrapping_sub(cost);
            if profit > best_profit {
                best = Some((r, x));
                best_profit = profit;
            }
        }
        let (r, best_x) = best?;
        let route = &self.routes[r];
        let mut o = Intent {
            route_id: route.id,
            ..Intent::default()
        };
        let mut amount = best_x;
        for (i, leg) in route.legs().iter().enumerate() {
            let q = quote_leg(&pools[leg.pool as usize], leg.a_to_b, amount);
            o.amount_in[i] = amount;
            amount = apply_slippage(q, slip);
            o.min_out[i] = amount;
        }
        let floor_out = best_x
            .wrapping_add(cost as u64)
            .wrapping_add(p.min_profit as u64);
        let last = self.n_legs - 1;
        if o.min_out[last] < floor_out {
            o.min_out[last] = floor_out;
        }
        o.cu_price_micro_lamports = p.cu_price_micro_lamports as u64;
        o.tip_lamports = p.tip_lamports as u64;
        o.expected_profit = best_profit;
        o.tick_array_variant = 0;
        Some(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allrust::amm;
    use phantom_ringbuf::schema::Record as _;
    use serde_json::Value;

    const VECTORS: &str = include_str!("../../testdata/arb_vectors.json");

    fn u(v: &Value) -> u64 {
        v.as_u64().unwrap_or_else(|| panic!("not a u64: {v}"))
    }

    fn big(v: &Value) -> u128 {
        v.as_str().expect("decimal string").parse().expect("u128")
    }

    fn pool(v: &Value) -> PoolState {
        let mut p = PoolState::zeroed();
        p.pool_kind = u(&v["kind"]) as u8;
        p.ready = u(&v["ready"]) as u8;
        p.reserve_a = u(&v["reserve_a"]);
        p.reserve_b = u(&v["reserve_b"]);
        p.fee_num = u(&v["fee_num"]);
        p.fee_den = u(&v["fee_den"]);
        let (s, l) = (big(&v["sqrt_price"]), big(&v["liquidity"]));
        (p.sqrt_price_lo, p.sqrt_price_hi) = (s as u64, (s >> 64) as u64);
        (p.liquidity_lo, p.liquidity_hi) = (l as u64, (l >> 64) as u64);
        p
    }

    fn params(v: &Value) -> ArbParams {
        serde_json::from_value(v.clone()).expect("params")
    }

    #[test]
    fn swap_functions_match_the_numba_vectors() {
        let doc: Value = serde_json::from_str(VECTORS).expect("vectors");
        let cases = doc["amm"].as_array().expect("amm");
        assert!(cases.len() >= 100);
        for (i, c) in cases.iter().enumerate() {
            let got = match c["fn"].as_str() {
                Some("cp") => amm::cp_out(
                    u(&c["x"]),
                    u(&c["r_in"]),
                    u(&c["r_out"]),
                    u(&c["num"]),
                    u(&c["den"]),
                ),
                Some("wp") => amm::whirlpool_out(
                    u(&c["x"]),
                    c["a_to_b"].as_bool().expect("bool"),
                    big(&c["s"]),
                    big(&c["liq"]),
                    u(&c["fee_ppm"]),
                ),
                Some("slip") => amm::apply_slippage(u(&c["x"]), u(&c["bps"])),
                other => panic!("unknown fn {other:?}"),
            };
            assert_eq!(got, u(&c["out"]), "amm case {i}: {c}");
        }
    }

    #[test]
    fn kernel_matches_the_numba_vectors() {
        let doc: Value = serde_json::from_str(VECTORS).expect("vectors");
        let cases = doc["kernel"].as_array().expect("kernel");
        assert!(cases.len() >= 50);
        let mut fired = 0;
        for (i, c) in cases.iter().enumerate() {
            let pools: Vec<PoolState> = c["pools"]
                .as_array()
                .expect("pools")
                .iter()
                .map(pool)
                .collect();
            let routes: Vec<Route> = c["routes"]
                .as_array()
                .expect("routes")
                .iter()
                .enumerate()
                .map(|(id, r)| {
                    let legs: Vec<Leg> = r
                        .as_array()
                        .expect("legs")
                        .iter()
                        .map(|l| Leg {
                            pool: u(&l[0]) as u32,
                            a_to_b: l[1].as_bool().expect("direction"),
                        })
                        .collect();
                    Route::new(id as u32, &legs).expect("route")
                })
                .collect();
            for (r, want) in routes.iter().zip(c["optimal_in"].as_array().expect("x")) {
                assert_eq!(
                    route_optimal_in(r, &pools),
                    u(want),
                    "case {i} route {}",
                    r.id
                );
            }
            let n_legs = u(&c["n_legs"]) as usize;
            let k = ArbKernel::new(params(&c["params"]), n_legs, routes, pools.len());
            let got = k.on_pool_update(u(&c["tick"]) as u32, &pools);
            let want = &c["intent"];
            if want.is_null() {
                assert_eq!(got, None, "case {i}: {c}");
                continue;
            }
            fired += 1;
            let arr = |v: &Value| -> [u64; 3] {
                let a = v.as_array().expect("array");
                [u(&a[0]), u(&a[1]), u(&a[2])]
            };
            let expected = Intent {
                route_id: u(&want["route_id"]) as u32,
                amount_in: arr(&want["amount_in"]),
                min_out: arr(&want["min_out"]),
                cu_price_micro_lamports: u(&want["cu_price_micro_lamports"]),
                tip_lamports: u(&want["tip_lamports"]),
                expected_profit: want["expected_profit"].as_i64().expect("i64"),
                tick_array_variant: 0,
            };
            assert_eq!(got, Some(expected), "case {i}: {c}");
        }
        assert!(fired >= 15, "only {fired} cases trade");
    }

    #[test]
    fn slot_ticks_and_unknown_pools_never_trade() {
        let k = ArbKernel::new(ArbParams::default(), 2, Vec::new(), 2);
        assert_eq!(k.on_pool_update(7, &[PoolState::zeroed(); 2]), None);
    }

    #[test]
    fn params_default_like_python_and_refuse_unknown_keys() {
        let p: ArbParams = toml::from_str("min_profit = 1\nslippage_bps = 20").expect("params");
        assert_eq!(
            p,
            ArbParams {
                min_profit: 1,
                slippage_bps: 20,
                ..ArbParams::default()
            }
        );
        assert!(toml::from_str::<ArbParams>("min_proft = 1").is_err());
    }
}

//! The simulated market: pools of the same pair follow one fair price (a random walk), each
//! with a little noise, and now and then one pool is dislocated by a configurable amount,
//! which is what an arbitrage strategy looks for. Every step moves one pool and yields the
//! account changes that move its price: both vaults of a constant-product pool, or the pool
//! account of a concentrated-liquidity (Whirlpool) pool.
//!
//! Deterministic for a given seed (splitmix64), so tests and benchmarks can replay a market.

use phantom_ringbuf::schema::splitmix64;

/// How a pool is priced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolModel {
    /// Price = vault B / vault A (Raydium AMM v4, Raydium CPMM).
    ConstantProduct,
    /// Price from the pool account's sqrt price (Orca Whirlpool), liquidity constant.
    Concentrated,
}

/// A pool's simulated state.
#[derive(Debug, Clone)]
pub struct SimPool {
    /// Which pair (pools of one pair share a fair price).
    pub pair: usize,
    /// Pricing model.
    pub model: PoolModel,
    /// Token-A reserve (raw units).
    pub reserve_a: u64,
    /// Token-B reserve (raw units).
    pub reserve_b: u64,
    /// Concentrated pools: liquidity (constant).
    pub liquidity: u128,
    /// Concentrated pools: Q64.64 sqrt of the price (B per A, raw units).
    pub sqrt_price_x64: u128,
    /// Concentrated pools: current tick.
    pub tick: i32,
}

impl SimPool {
    /// Price in raw B per raw A.
    pub fn price(&self) -> f64 {
        match self.model {
            PoolModel::ConstantProduct => self.reserve_b as f64 / self.reserve_a.max(1) as f64,
            PoolModel::Concentrated => {
                let s = self.sqrt_price_x64 as f64 / 18_446_744_073_709_551_616.0;
                s * s
            }
        }
    }

    /// Move the pool to `price`, keeping its invariant (x*y for constant product, liquidity
    /// for a concentrated pool).
    pub fn set_price(&mut self, price: f64) {
        let price = price.max(1e-12);
        match self.model {
            PoolModel::ConstantProduct => {
                let k = self.reserve_a as f64 * self.reserve_b as f64;
                self.reserve_a = (k / price).sqrt().max(1.0) as u64;
                self.reserve_b = (k * price).sqrt().max(1.0) as u64;
            }
            PoolModel::Concentrated => {
                let s = price.sqrt();
                self.sqrt_price_x64 = (s * 18_446_744_073_709_551_616.0) as u128;
                self.tick = (price.ln() / 1.0001f64.ln()).floor() as i32;
                let l = self.liquidity as f64;
                // Virtual reserves of the current range: x = L / s, y = L s.
                self.reserve_a = (l / s) as u64;
                self.reserve_b = (l * s) as u64;
            }
        }
    }
}

/// Parameters of the price process.
#[derive(Debug, Clone, Copy)]
pub struct MarketParams {
    /// Per-step relative move of a pair's fair price (e.g. 1e-4).
    pub volatility: f64,
    /// Relative noise of a pool around its pair's fair price.
    pub noise: f64,
    /// Probability that a step dislocates the pool instead.
    pub dislocation_probability: f64,
    /// Size of a dislocation, relative (e.g. 0.01 = 1 %).
    pub dislocation: f64,
}

/// The market: pools, fair prices, and a deterministic random source.
pub struct Market {
    /// Pools, indexed like `[[pools]]`.
    pub pools: Vec<SimPool>,
    fair: Vec<f64>,
    params: MarketParams,
    rng: u64,
    anchored: Vec<usize>,
}

impl Market {
    /// A market over `pools`, fair prices starting at each pair's first pool's price.
    pub fn new(pools: Vec<SimPool>, params: MarketParams, seed: u64) -> Self {
        let n_pairs = pools.iter().map(|p| p.pair + 1).max().unwrap_or(0);
        let mut fair = vec![0.0; n_pairs];
        for p in pools.iter().rev() {
            fair[p.pair] = p.price();
        }
        Market {
            pools,
            fair,
            params,
            rng: seed,
            anchored: Vec::new(),
        }
    }

    fn uniform(&mut self) -> f64 {
        self.rng = splitmix64(self.rng);
        (self.rng >> 11) as f64 / (1u64 << 53) as f64
    }

    /// One step: move the fair price of a random pool's pair, then set that pool's price
    /// (near fair, or dislocated). Returns the index of the pool that changed.
    pub fn step(&mut self) -> usize {
        if self.pools.is_empty() {
            return 0;
        }
        let i = (self.uniform() * self.pools.len() as f64) as usize % self.pools.len();
        let pair = self.pools[i].pair;
        let walk = (self.uniform() * 2.0 - 1.0) * self.params.volatility;
        self.fair[pair] *= 1.0 + walk;
        let dev = if self.uniform() < self.params.dislocation_probability {
            if self.uniform() < 0.5 {
                self.params.dislocation
            } else {
                -self.params.dislocation
            }
        } else {
            (self.uniform() * 2.0 - 1.0) * self.params.noise
        };
        let target = self.fair[pair] * (1.0 + dev);
        self.pools[i].set_price(target);
        i
    }

    /// Start pool `i`'s pair from pool `i`'s price (the first pool anchored wins).
    pub fn anchor(&mut self, i: usize) {
        let Some(p) = self.pools.get(i) else {
            return;
        };
        if !self.anchored.contains(&p.pair) {
            self.anchored.push(p.pair);
            self.fair[p.pair] = p.price();
        }
    }

    /// The fair price of a pair.
    pub fn fair_price(&self, pair: usize) -> f64 {
        self.fair[pair]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cp(pair: usize, a: u64, b: u64) -> SimPool {
        SimPool {
            pair,
            model: PoolModel::ConstantProduct,
            reserve_a: a,
            reserve_b: b,
            liquidity: 0,
            sqrt_price_x64: 0,
            tick: 0,
        }
    }

    #[test]
    fn constant_product_pools_keep_their_invariant_when_repriced() {
        let mut p = cp(0, 1_000_000_000, 150_000_000_000);
        let k = 1_000_000_000f64 * 150_000_000_000f64;
        p.set_price(151.0);
        let k2 = p.reserve_a as f64 * p.reserve_b as f64;
        assert!((k2 / k - 1.0).abs() < 1e-6);
        assert!((p.price() / 151.0 - 1.0).abs() < 1e-6);
    }

    #[test]
    fn concentrated_pools_price_from_sqrt_price() {
        let mut p = cp(0, 0, 0);
        p.model = PoolModel::Concentrated;
        p.liquidity = 1 << 40;
        p.set_price(0.15);
        assert!((p.price() / 0.15 - 1.0).abs() < 1e-9);
        assert_eq!(p.tick, (0.15f64.ln() / 1.0001f64.ln()).floor() as i32);
    }

    #[test]
    fn pools_of_a_pair_track_one_fair_price_and_the_walk_is_deterministic() {
        let params = MarketParams {
            volatility: 1e-3,
            noise: 1e-4,
            dislocation_probability: 0.0,
            dislocation: 0.0,
        };
        let pools = vec![
            cp(0, 10u64.pow(12), 150 * 10u64.pow(12)),
            cp(0, 10u64.pow(12), 150 * 10u64.pow(12)),
        ];
        let mut a = Market::new(pools.clone(), params, 7);
        let mut b = Market::new(pools, params, 7);
        for _ in 0..1000 {
            assert_eq!(a.step(), b.step());
        }
        let fair = a.fair_price(0);
        for p in &a.pools {
            assert!(
                (p.price() / fair - 1.0).abs() < 2e-3,
                "{} vs {fair}",
                p.price()
            );
        }
    }
}

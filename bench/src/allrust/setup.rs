//! The pipeline TOML as the three processes read it, in one place: the feeder's view
//! (`[feeder]`, `[[pools]]`, by `phantom_feeder::config`), the signer's (`[signer]`,
//! `[[routes]]`, by `phantom_signer::config`) and the strategy's (`[strategy]`: the name picks
//! `TwoPoolArb` or `TriangularArb`, `params` are `ArbParams`; the route table is built from
//! `[[routes]]` as `routes.route_table` builds it).

use crate::allrust::arb::{ArbKernel, ArbParams, Leg, Route};
use phantom_signer::programs::Direction;
use serde::Deserialize;
use std::path::Path;

/// The strategy classes this binary has a port of, and their leg counts.
pub const STRATEGIES: [(&str, usize); 2] = [
    ("phantom_pipeline.strategies.arb:TwoPoolArb", 2),
    ("phantom_pipeline.strategies.arb:TriangularArb", 3),
];

/// `[strategy]` (the keys `phantom_pipeline.config.StrategyConfig` knows).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StrategyTable {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    params: ArbParams,
    #[serde(default)]
    #[allow(dead_code)]
    wait: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    batch: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct StrategyView {
    #[serde(default)]
    strategy: Option<StrategyTable>,
}

/// Everything the binary reads from the config file.
pub struct Setup {
    /// The feeder's view.
    pub feeder: phantom_feeder::config::Config,
    /// The signer's view.
    pub signer: phantom_signer::config::Config,
    /// The strategy's params.
    pub params: ArbParams,
    /// Legs of the routes the strategy trades (2: `TwoPoolArb`, 3: `TriangularArb`).
    pub n_legs: usize,
    /// The route table.
    pub routes: Vec<Route>,
}

impl Setup {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read config {}: {e}", path.display()))?;
        Self::from_toml_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses and validates a config's text.
    pub fn from_toml_str(text: &str) -> Result<Self, String> {
        let feeder =
            phantom_feeder::config::Config::from_toml_str(text).map_err(|e| e.to_string())?;
        let signer =
            phantom_signer::config::Config::from_toml_str(text).map_err(|e| e.to_string())?;
        let de = toml::Deserializer::parse(text).map_err(|e| format!("config: {e}"))?;
        let view: StrategyView = serde_path_to_error::deserialize(de)
            .map_err(|e| format!("{}: {}", e.path(), e.inner().message()))?;
        let table = view.strategy.unwrap_or(StrategyTable {
            name: None,
            params: ArbParams::default(),
            wait: None,
            batch: None,
        });
        let name = table.name.as_deref().unwrap_or(STRATEGIES[0].0);
        let n_legs = STRATEGIES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, legs)| *legs)
            .ok_or_else(|| {
                format!(
                    "strategy.name: {name:?} has no Rust port here (known: {})",
                    STRATEGIES.map(|(n, _)| n).join(", ")
                )
            })?;
        let routes = route_table(&signer, feeder.pools.len())?;
        Ok(Setup {
            feeder,
            signer,
            params: table.params,
            n_legs,
            routes,
        })
    }

    /// The strategy kernel.
    pub fn kernel(&self) -> ArbKernel {
        ArbKernel::new(
            self.params,
            self.n_legs,
            self.routes.clone(),
            self.feeder.pools.len(),
        )
    }
}

/// `routes.route_table`: every route's legs as (pool, a_to_b); refused as the Python one
/// refuses (a leg without a pool index in range, or without a direction).
pub fn route_table(
    signer: &phantom_signer::config::Config,
    n_pools: usize,
) -> Result<Vec<Route>, String> {
    let mut out = Vec::with_capacity(signer.routes.len());
    for (rid, route) in signer.routes.iter().enumerate() {
        let mut legs = Vec::with_capacity(route.legs.len());
        for (i, leg) in route.legs.iter().enumerate() {
            let pool = leg
                .pool
                .filter(|&p| (p as usize) < n_pools)
                .ok_or_else(|| format!("routes[{rid}].legs[{i}].pool: not a pool index"))?;
            let a_to_b = match leg.direction {
                Some(Direction::AToB) => true,
                Some(Direction::BToA) => false,
                None => {
                    return Err(format!(
                        "routes[{rid}].legs[{i}].direction: expected \"a_to_b\" or \"b_to_a\""
                    ))
                }
            };
            legs.push(Leg { pool, a_to_b });
        }
        let route = Route::new(rid as u32, &legs).ok_or_else(|| {
            format!(
                "routes[{rid}].legs: expected 1 to 3 legs, got {}",
                legs.len()
            )
        })?;
        out.push(route);
    }
    Ok(out)
}

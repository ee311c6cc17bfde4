//! The feeder's part of the pipeline config: the `[feeder]` table and the shared `[[pools]]`.
//!
//! The feeder reads the one TOML file of the pipeline (DESIGN §7) and deserializes only what
//! it owns: other top-level tables (`[signer]`, `[strategy]`, `[[routes]]`, ...) belong to the
//! other processes and are skipped here. Inside its own tables every unknown key is an
//! error, and every error names the key: `feeder.endpoints[1].ws: not a ws:// or wss:// URL`.
//!
//! Names carry their unit (`_ms`, `_bytes`). Endpoint URLs may embed API keys, so `Debug`
//! shows only their scheme and host.

use crate::decode::Pubkey;
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;
use std::path::Path;

/// Most feed endpoints one feeder uses (the control block keeps per-endpoint counters for 8).
pub const MAX_ENDPOINTS: usize = 8;

pub use phantom_config::ConfigError;

/// Commitment level of the subscriptions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Commitment {
    /// Fastest: the node's own view, may be rolled back.
    #[default]
    Processed,
    /// Voted on by a supermajority.
    Confirmed,
    /// Rooted.
    Finalized,
}

impl Commitment {
    /// The JSON-RPC name.
    pub fn as_str(self) -> &'static str {
        match self {
            Commitment::Processed => "processed",
            Commitment::Confirmed => "confirmed",
            Commitment::Finalized => "finalized",
        }
    }
}

/// How the feeder waits for work (DESIGN §3.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WaitStrategy {
    /// Busy poll: only for a pinned core of its own.
    Spin,
    /// Spin, then yield, then sleep.
    #[default]
    Adaptive,
}

/// One feed endpoint: a PubSub WebSocket and the JSON-RPC HTTP endpoint of the same node.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    /// `ws://` or `wss://` PubSub URL.
    pub ws: String,
    /// `http://` or `https://` JSON-RPC URL (refetch after a reconnect).
    pub rpc: String,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("ws", &redact_url(&self.ws))
            .field("rpc", &redact_url(&self.rpc))
            .finish()
    }
}

pub use phantom_config::redact_url;

fn default_reconnect_backoff_min_ms() -> u64 {
    100
}
fn default_reconnect_backoff_max_ms() -> u64 {
    5_000
}
fn default_heartbeat_interval_ms() -> u64 {
    5_000
}
fn default_read_timeout_ms() -> u64 {
    15_000
}
fn default_max_frame_bytes() -> usize {
    1 << 20
}
fn default_max_slot_lead() -> u64 {
    150
}
fn default_rpc_timeout_ms() -> u64 {
    10_000
}

/// `[feeder]`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeederConfig {
    /// Feed endpoints, 1 to [`MAX_ENDPOINTS`]; endpoint id = index.
    pub endpoints: Vec<Endpoint>,
    /// Subscription commitment (default `processed`).
    #[serde(default)]
    pub commitment: Commitment,
    /// Wait strategy (default `adaptive`).
    #[serde(default)]
    pub wait: WaitStrategy,
    /// CPU to pin the feeder's hot thread to (the supervisor checks it exists).
    #[serde(default)]
    pub cpu: Option<u32>,
    /// First reconnect delay; doubles (with jitter) on each failure.
    #[serde(default = "default_reconnect_backoff_min_ms")]
    pub reconnect_backoff_min_ms: u64,
    /// Cap of the reconnect delay.
    #[serde(default = "default_reconnect_backoff_max_ms")]
    pub reconnect_backoff_max_ms: u64,
    /// Interval between WebSocket pings.
    #[serde(default = "default_heartbeat_interval_ms")]
    pub heartbeat_interval_ms: u64,
    /// A connection that delivers nothing (not even a pong) for this long is dropped.
    #[serde(default = "default_read_timeout_ms")]
    pub read_timeout_ms: u64,
    /// Largest frame (and message) the WebSocket client reads: a larger one is refused by
    /// the client before it is buffered whole, the connection is dropped, counted and
    /// reconnected.
    #[serde(default = "default_max_frame_bytes")]
    pub max_frame_bytes: usize,
    /// How far ahead an update's slot may be (default 150 slots, about 60 s): accepted only
    /// up to `max(highest slot the other endpoints reported, this endpoint's last accepted
    /// slot + elapsed time / 400 ms) + max_slot_lead`; beyond it the update is refused and
    /// counted per endpoint.
    #[serde(default = "default_max_slot_lead")]
    pub max_slot_lead: u64,
    /// Deadline of one JSON-RPC refetch call (connect, send, answer), in milliseconds.
    #[serde(default = "default_rpc_timeout_ms")]
    pub rpc_timeout_ms: u64,
    /// Capacity the `market` ring must have (a power of two); unset: whatever the
    /// supervisor created.
    #[serde(default)]
    pub market_capacity: Option<u32>,
}

/// `[[pools]].kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PoolKind {
    /// Raydium AMM v4: the `AmmInfo` account and its two vaults.
    RaydiumAmmV4,
    /// Raydium CPMM: the `PoolState` account and its two vaults.
    RaydiumCpmm,
    /// Orca Whirlpool: the `Whirlpool` account alone.
    OrcaWhirlpool,
}

impl PoolKind {
    /// The config name.
    pub fn as_str(self) -> &'static str {
        match self {
            PoolKind::RaydiumAmmV4 => "raydium_amm_v4",
            PoolKind::RaydiumCpmm => "raydium_cpmm",
            PoolKind::OrcaWhirlpool => "orca_whirlpool",
        }
    }

    /// The `pool_kind` code of the shared records.
    pub fn code(self) -> u8 {
        use phantom_ringbuf::records::pool_kind;
        match self {
            PoolKind::RaydiumAmmV4 => pool_kind::RAYDIUM_AMM_V4,
            PoolKind::RaydiumCpmm => pool_kind::RAYDIUM_CPMM,
            PoolKind::OrcaWhirlpool => pool_kind::ORCA_WHIRLPOOL,
        }
    }

    /// The program owning this kind's pool accounts on mainnet.
    pub fn program_id(self) -> Pubkey {
        use crate::decode::{
            ORCA_WHIRLPOOL_PROGRAM_ID, RAYDIUM_AMM_V4_PROGRAM_ID, RAYDIUM_CPMM_PROGRAM_ID,
        };
        let id = match self {
            PoolKind::RaydiumAmmV4 => RAYDIUM_AMM_V4_PROGRAM_ID,
            PoolKind::RaydiumCpmm => RAYDIUM_CPMM_PROGRAM_ID,
            PoolKind::OrcaWhirlpool => ORCA_WHIRLPOOL_PROGRAM_ID,
        };
        id.parse().expect("a valid built-in program id")
    }

    /// Whether the price comes from two vault balances (DESIGN §4's two-vault rule).
    pub fn priced_from_vaults(self) -> bool {
        !matches!(self, PoolKind::OrcaWhirlpool)
    }
}

impl<'de> Deserialize<'de> for Pubkey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse()
            .map_err(|e| serde::de::Error::custom(format!("{s:?} is not an address: {e}")))
    }
}

/// One `[[pools]]` entry; pool id = index.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolConfig {
    /// A name for humans (logs, status).
    #[serde(default)]
    pub name: Option<String>,
    /// Which program's pool.
    pub kind: PoolKind,
    /// The pool account.
    pub address: Pubkey,
    /// The program that must own the pool account (default: the kind's mainnet program id;
    /// set it for a fork or a local deployment). Vaults must be owned by SPL Token or
    /// Token-2022.
    #[serde(default)]
    pub program_id: Option<Pubkey>,
    /// The token vaults (A, B): required where the price comes from them.
    #[serde(default)]
    pub vaults: Option<[Pubkey; 2]>,
    /// Trade fee numerator, where the pool account lacks it (Raydium CPMM: its `AmmConfig`).
    #[serde(default)]
    pub fee_numerator: Option<u64>,
    /// Trade fee denominator, with `fee_numerator`.
    #[serde(default)]
    pub fee_denominator: Option<u64>,
    /// Token decimals (A, B), where the pool account lacks them (Orca Whirlpool).
    #[serde(default)]
    pub decimals: Option<[u8; 2]>,
}

#[derive(Deserialize)]
struct FileView {
    // No `deny_unknown_fields` here: the other top-level tables are other processes'.
    feeder: Option<FeederConfig>,
    #[serde(default)]
    pools: Vec<PoolConfig>,
}

/// The feeder's validated view of the config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `[feeder]`.
    pub feeder: FeederConfig,
    /// `[[pools]]`; pool id = index.
    pub pools: Vec<PoolConfig>,
}

impl Config {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::from_toml_str(&phantom_config::read(path)?)
    }

    /// Parses and validates a whole config file's text.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        let view: FileView = phantom_config::parse(text)?;
        let feeder = view.feeder.ok_or_else(|| {
            ConfigError::invalid("feeder", "missing: the feeder needs a [feeder] table")
        })?;
        let config = Config {
            feeder,
            pools: view.pools,
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks what the types alone cannot; the first problem found is returned.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.feeder.validate()?;
        let mut seen: HashMap<Pubkey, usize> = HashMap::new();
        for (i, pool) in self.pools.iter().enumerate() {
            pool.validate(&format!("pools[{i}]"))?;
            if let Some(first) = seen.insert(pool.address, i) {
                return Err(ConfigError::invalid(
                    format!("pools[{i}].address"),
                    format!("{} is already pools[{first}]", pool.address),
                ));
            }
        }
        Ok(())
    }
}

impl FeederConfig {
    /// Checks values the types allow but the feeder cannot use.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.endpoints.is_empty() {
            return Err(ConfigError::invalid(
                "feeder.endpoints",
                "empty: at least one { ws, rpc } endpoint is needed",
            ));
        }
        if self.endpoints.len() > MAX_ENDPOINTS {
            return Err(ConfigError::invalid(
                "feeder.endpoints",
                format!(
                    "{} endpoints, at most {MAX_ENDPOINTS}",
                    self.endpoints.len()
                ),
            ));
        }
        for (i, e) in self.endpoints.iter().enumerate() {
            check_url(&format!("feeder.endpoints[{i}].ws"), &e.ws, &["ws", "wss"])?;
            check_url(
                &format!("feeder.endpoints[{i}].rpc"),
                &e.rpc,
                &["http", "https"],
            )?;
        }
        let positive = [
            ("reconnect_backoff_min_ms", self.reconnect_backoff_min_ms),
            ("reconnect_backoff_max_ms", self.reconnect_backoff_max_ms),
            ("heartbeat_interval_ms", self.heartbeat_interval_ms),
            ("read_timeout_ms", self.read_timeout_ms),
            ("max_frame_bytes", self.max_frame_bytes as u64),
            ("max_slot_lead", self.max_slot_lead),
            ("rpc_timeout_ms", self.rpc_timeout_ms),
        ];
        for (key, v) in positive {
            if v == 0 {
                return Err(ConfigError::invalid(
                    format!("feeder.{key}"),
                    "must be positive",
                ));
            }
        }
        if self.reconnect_backoff_min_ms > self.reconnect_backoff_max_ms {
            return Err(ConfigError::invalid(
                "feeder.reconnect_backoff_min_ms",
                format!(
                    "{} exceeds reconnect_backoff_max_ms = {}",
                    self.reconnect_backoff_min_ms, self.reconnect_backoff_max_ms
                ),
            ));
        }
        if self.read_timeout_ms <= self.heartbeat_interval_ms {
            return Err(ConfigError::invalid(
                "feeder.read_timeout_ms",
                format!(
                    "{} must exceed heartbeat_interval_ms = {}, or a quiet but healthy \
                     connection is dropped between two pings",
                    self.read_timeout_ms, self.heartbeat_interval_ms
                ),
            ));
        }
        if let Some(c) = self.market_capacity {
            if !c.is_power_of_two() {
                return Err(ConfigError::invalid(
                    "feeder.market_capacity",
                    format!("{c} is not a power of two"),
                ));
            }
        }
        Ok(())
    }
}

impl PoolConfig {
    /// The program that must own the pool account.
    pub fn program_id(&self) -> Pubkey {
        self.program_id.unwrap_or_else(|| self.kind.program_id())
    }

    /// The trade fee as (numerator, denominator), when the config gives it.
    pub fn fee(&self) -> Option<(u64, u64)> {
        self.fee_numerator.zip(self.fee_denominator)
    }

    fn validate(&self, key: &str) -> Result<(), ConfigError> {
        let kind = self.kind.as_str();
        match (self.kind.priced_from_vaults(), &self.vaults) {
            (true, None) => {
                return Err(ConfigError::invalid(
                    format!("{key}.vaults"),
                    format!("missing: a {kind} pool is priced from its two vault accounts"),
                ))
            }
            (_, Some([a, b])) if a == b => {
                return Err(ConfigError::invalid(
                    format!("{key}.vaults"),
                    "the two vaults are the same account",
                ))
            }
            (_, Some(vaults)) => {
                if let Some(j) = vaults.iter().position(|v| *v == self.address) {
                    return Err(ConfigError::invalid(
                        format!("{key}.vaults[{j}]"),
                        "is the pool account itself",
                    ));
                }
            }
            (false, None) => {}
        }
        let needs_fee = self.kind == PoolKind::RaydiumCpmm;
        for (name, value) in [
            ("fee_numerator", self.fee_numerator),
            ("fee_denominator", self.fee_denominator),
        ] {
            match (needs_fee, value) {
                (true, None) => {
                    return Err(ConfigError::invalid(
                        format!("{key}.{name}"),
                        format!(
                            "missing: a {kind} pool's fee rate lives in its AmmConfig \
                             account, so the config must give it"
                        ),
                    ))
                }
                (false, Some(_)) => {
                    return Err(ConfigError::invalid(
                        format!("{key}.{name}"),
                        format!("not allowed for {kind}: the pool account holds its fee"),
                    ))
                }
                _ => {}
            }
        }
        if let Some((num, den)) = self.fee() {
            if den == 0 {
                return Err(ConfigError::invalid(
                    format!("{key}.fee_denominator"),
                    "must be positive",
                ));
            }
            if num >= den {
                return Err(ConfigError::invalid(
                    format!("{key}.fee_numerator"),
                    format!("{num} is not below fee_denominator = {den}: a fee of 100 % or more"),
                ));
            }
        }
        let needs_decimals = self.kind == PoolKind::OrcaWhirlpool;
        match (needs_decimals, self.decimals) {
            (true, None) => Err(ConfigError::invalid(
                format!("{key}.decimals"),
                format!("missing: a {kind} account does not hold its tokens' decimals"),
            )),
            (false, Some(_)) => Err(ConfigError::invalid(
                format!("{key}.decimals"),
                format!("not allowed for {kind}: the pool account holds its decimals"),
            )),
            _ => Ok(()),
        }
    }
}

fn check_url(key: &str, url: &str, schemes: &[&str]) -> Result<(), ConfigError> {
    let host = url.split_once("://").and_then(|(scheme, rest)| {
        schemes
            .contains(&scheme)
            .then(|| rest.split(['/', '?', '#']).next().unwrap_or(""))
    });
    match host {
        Some(h) if !h.is_empty() && !h.contains(char::is_whitespace) => Ok(()),
        _ => {
            let names: Vec<String> = schemes.iter().map(|s| format!("{s}://")).collect();
            Err(ConfigError::invalid(
                key,
                format!("not a {} URL: {}", names.join(" or "), redact_url(url)),
            ))
        }
    }
}

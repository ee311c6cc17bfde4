//! The signer's part of the pipeline config: the `[signer]` table and the shared `[[routes]]`.
//!
//! The signer reads one TOML file with the rest of the pipeline (DESIGN §7) and deserializes
//! only what it owns; other top-level tables (`[feeder]`, `[strategy]`, ...) are the
//! supervisor's to check and are skipped here, except that `[[pools]]` is counted so that a
//! leg naming a pool that does not exist is refused. Inside its own tables every unknown key
//! is an error, and every error names the key: `routes[2].legs[0].direction: unknown variant
//! "up", expected "a_to_b" or "b_to_a"`.
//!
//! Names carry their unit (`_ms`, `_lamports`, `_micro_lamports`, `_raw` for token amounts in
//! the token's smallest unit). The config holds no key material, only the key file's path;
//! endpoint URLs may embed API keys, so `Debug` shows only their scheme and host.

use crate::programs::{Direction, ProgramKind};
use serde::de::IgnoredAny;
use serde::Deserialize;
use solana_address::Address;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Most legs a route may have (DESIGN §6).
pub const MAX_LEGS: usize = 3;
/// Most pre-built tick-array variants (templates) one route may have.
pub const MAX_VARIANTS_PER_ROUTE: usize = 64;
/// The runtime's ceiling on a transaction's compute units.
pub const MAX_COMPUTE_UNIT_LIMIT: u32 = 1_400_000;
/// Addresses an address lookup table can hold.
pub const MAX_LOOKUP_TABLE_ADDRESSES: usize = 256;

pub use phantom_config::ConfigError;

/// A base58 Solana address in config.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct Pubkey(pub Address);

impl TryFrom<String> for Pubkey {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Address::from_str(&s)
            .map(Pubkey)
            .map_err(|_| format!("{s:?} is not a base58 address of 32 bytes"))
    }
}

impl fmt::Debug for Pubkey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for Pubkey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Whether transactions are sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Sign and record, send nothing (the default).
    #[default]
    DryRun,
    /// Send; also needs `--live` on the command line.
    Live,
    /// Sign, then simulate each transaction through `simulateTransaction` (signature
    /// zeroed, `sigVerify: false`) on the first RPC endpoint; send nothing
    /// ([`crate::preflight`]).
    Preflight,
}

/// How transactions are signed (see [`crate::signing`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SigningMode {
    /// Deterministic ed25519 per RFC 8032 (the default).
    #[default]
    Rfc8032,
    /// Randomized nonces prepared ahead by a background thread.
    PrecomputedNonce,
}

fn default_preflight_max_per_second() -> u32 {
    5
}
fn default_true() -> bool {
    true
}
fn default_blockhash_refresh_ms() -> u64 {
    400
}
fn default_blockhash_max_age_ms() -> u64 {
    30_000
}
fn default_nonce_pool_size() -> usize {
    1024
}
fn default_send_timeout_ms() -> u64 {
    2_000
}
fn default_landing_poll_ms() -> u64 {
    400
}
fn default_landing_timeout_ms() -> u64 {
    60_000
}
/// Default `max_lamports_per_minute`: 0.01 SOL, about 1 900 base-fee transactions.
pub const DEFAULT_MAX_LAMPORTS_PER_MINUTE: u64 = 10_000_000;
/// Default `max_lamports_per_day`: 0.2 SOL.
pub const DEFAULT_MAX_LAMPORTS_PER_DAY: u64 = 200_000_000;
fn default_max_lamports_per_minute() -> u64 {
    DEFAULT_MAX_LAMPORTS_PER_MINUTE
}
fn default_max_lamports_per_day() -> u64 {
    DEFAULT_MAX_LAMPORTS_PER_DAY
}

/// How the signer waits for intents (the same choice as the strategy's `wait`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WaitMode {
    /// Spin, yield, then sleep on the ring's futex (the default).
    #[default]
    Adaptive,
    /// Busy-poll: only on a core of its own (the supervisor refuses it otherwise).
    Spin,
}

/// The `[signer]` table.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignerConfig {
    /// `"dry-run"` (default), `"preflight"` or `"live"`.
    #[serde(default)]
    pub mode: Mode,
    /// Preflight mode: transactions simulated per second at most; the rest are counted as
    /// skipped.
    #[serde(default = "default_preflight_max_per_second")]
    pub preflight_max_per_second: u32,
    /// Solana keypair JSON file (must not be group/world readable). Absent: a throwaway key,
    /// allowed in dry-run only.
    #[serde(default)]
    pub keypair_path: Option<PathBuf>,
    /// JSON-RPC endpoints `sendTransaction` goes to, all at once.
    #[serde(default)]
    pub rpc_endpoints: Vec<String>,
    /// Jito block engine endpoint for `sendBundle`, if bundles are used.
    #[serde(default)]
    pub jito_endpoint: Option<String>,
    /// `sendTransaction`'s `skipPreflight` (default true: preflight costs a round trip).
    #[serde(default = "default_true")]
    pub skip_preflight: bool,
    /// `sendTransaction`'s `maxRetries`; absent: the RPC node's default.
    #[serde(default)]
    pub max_retries: Option<u32>,
    /// How often the recent blockhash is fetched.
    #[serde(default = "default_blockhash_refresh_ms")]
    pub blockhash_refresh_ms: u64,
    /// Intents are refused while the freshest blockhash is older than this.
    #[serde(default = "default_blockhash_max_age_ms")]
    pub blockhash_max_age_ms: u64,
    /// `"rfc8032"` (default) or `"precomputed-nonce"`.
    #[serde(default)]
    pub signing: SigningMode,
    /// Nonces kept ready by the precomputed-nonce signer.
    #[serde(default = "default_nonce_pool_size")]
    pub nonce_pool_size: usize,
    /// Dry-run capture file (JSON Lines, DESIGN §7); absent: nothing recorded.
    #[serde(default)]
    pub capture_path: Option<PathBuf>,
    /// While this file exists, all signing stops.
    #[serde(default)]
    pub kill_switch_path: Option<PathBuf>,
    /// `"adaptive"` (default) or `"spin"`: how the signer waits for intents.
    #[serde(default)]
    pub wait: WaitMode,
    /// Timeout of one `sendTransaction`/`sendBundle` request (connect included).
    #[serde(default = "default_send_timeout_ms")]
    pub send_timeout_ms: u64,
    /// How often `getSignatureStatuses` is polled for sent transactions.
    #[serde(default = "default_landing_poll_ms")]
    pub landing_poll_ms: u64,
    /// A sent transaction not seen on chain after this long is reported failed (`expired`).
    #[serde(default = "default_landing_timeout_ms")]
    pub landing_timeout_ms: u64,
    /// Limits every intent is checked against. Required: no silent defaults on money.
    pub limits: LimitsConfig,
}

/// The `[signer.limits]` table.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Intents accepted per second, all routes together.
    pub max_intents_per_second: u32,
    /// Sum of first-leg `amount_in` accepted per rolling minute on each route, raw units of
    /// that route's input token (kept per route: routes may start from different mints).
    pub max_notional_per_minute_raw: u64,
    /// Intents accepted but not yet landed or failed.
    pub max_open_intents: u32,
    /// Intents whose tick was received longer ago than this are refused.
    pub max_tick_age_ms: u64,
    /// Highest compute-unit price an intent may ask for.
    pub max_compute_unit_price_micro_lamports: u64,
    /// Highest Jito tip an intent may ask for (the tip leaves the wallet whatever happens).
    pub max_tip_lamports: u64,
    /// Lamports committed (fees, priority fee and tip of signed transactions) per rolling
    /// minute, all routes together.
    #[serde(default = "default_max_lamports_per_minute")]
    pub max_lamports_per_minute: u64,
    /// Lamports committed per rolling day (24 h), all routes together; remembered across
    /// signer restarts and new runs of the instance (the ledger).
    #[serde(default = "default_max_lamports_per_day")]
    pub max_lamports_per_day: u64,
}

/// One `[[routes]]` entry: up to three legs executed atomically in one transaction.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Label for logs and reports.
    #[serde(default)]
    pub name: Option<String>,
    /// The legs, in execution order.
    pub legs: Vec<LegConfig>,
    /// `SetComputeUnitLimit` of the transaction.
    pub compute_unit_limit: u32,
    /// Largest first-leg `amount_in` an intent may ask for on this route.
    pub max_amount_in_raw: u64,
    /// Cyclic routes (see [`RouteConfig::is_cyclic`]): the last leg's `min_out` must be at
    /// least `amount_in[0]` plus this, raw units of the route's input token.
    #[serde(default)]
    pub min_profit_raw: u64,
    /// The worst price the route accepts: the last leg's `min_out` must be at least
    /// `amount_in[0] * min_out_per_in_ppm / 10^6` (raw units of the output and input tokens).
    /// Required in live mode for a route that is not cyclic.
    #[serde(default)]
    pub min_out_per_in_ppm: Option<u64>,
    /// Jito tip account; when set the transaction ends with a tip transfer to it.
    #[serde(default)]
    pub tip_account: Option<Pubkey>,
    /// Address lookup tables the message may load accounts from. Their contents are given
    /// here because the signer builds templates without network access.
    #[serde(default)]
    pub address_lookup_tables: Vec<LookupTableConfig>,
}

/// One leg of a route.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegConfig {
    /// Pool id (position in `[[pools]]`); required for swaps.
    #[serde(default)]
    pub pool: Option<u32>,
    /// Which side is sold; required for swaps.
    #[serde(default)]
    pub direction: Option<Direction>,
    /// The program and instruction; absent: the program of the leg's pool (`kind`).
    #[serde(default)]
    pub program: Option<ProgramKind>,
    /// Overrides the program's mainnet id (local validators, forks).
    #[serde(default)]
    pub program_id: Option<Pubkey>,
    /// Accounts by name; see [`ProgramKind::account_names`]. On a leg whose pool has an
    /// address, every account is derived (see [`crate::derive`]) and one given here
    /// overrides the derived one, with a warning.
    #[serde(default)]
    pub accounts: BTreeMap<String, Pubkey>,
    /// Whirlpool legs: explicit tick-array sets, one per tick-array start index. Derived
    /// legs get theirs from the pool's current tick.
    #[serde(default)]
    pub tick_array_variants: Vec<TickArrayVariant>,
}

/// A Whirlpool tick-array set, used while the pool's current tick lies in the array starting
/// at `start_tick_index`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TickArrayVariant {
    /// Start tick index of the array holding the current tick.
    pub start_tick_index: i32,
    /// The three tick arrays in swap order (`tick_array_0..2`).
    pub tick_arrays: Vec<Pubkey>,
}

/// An address lookup table and its contents.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupTableConfig {
    /// The table account.
    pub address: Pubkey,
    /// Its addresses, in table order.
    pub addresses: Vec<Pubkey>,
}

#[derive(Deserialize)]
struct FileView {
    signer: SignerConfig,
    #[serde(default)]
    routes: Vec<RouteConfig>,
    /// The feeder owns the entries' contents; the signer reads only `kind` and `address`
    /// (what a leg given by pool and direction is derived from).
    #[serde(default)]
    pools: Vec<PoolView>,
}

/// What the signer reads of one `[[pools]]` entry (the feeder checks the rest).
#[derive(Deserialize)]
struct PoolView {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    address: Option<String>,
    #[serde(flatten)]
    _rest: BTreeMap<String, IgnoredAny>,
}

/// A `[[pools]]` entry as the signer knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolRef {
    /// The program the pool belongs to (`kind`), when it is one the signer trades.
    pub kind: Option<ProgramKind>,
    /// The pool account (`address`), when given as a valid address.
    pub address: Option<Address>,
}

/// The signer's validated view of the config file.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// `[signer]`.
    pub signer: SignerConfig,
    /// `[[routes]]`; route id = index.
    pub routes: Vec<RouteConfig>,
    /// Entries in `[[pools]]` (their contents are the feeder's).
    pub pool_count: usize,
    /// Kind and address of each `[[pools]]` entry, by pool id.
    pub pools: Vec<PoolRef>,
}

impl Config {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::from_toml_str(&phantom_config::read(path)?)
    }

    /// Parses and validates a whole config file's text.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        let view: FileView = phantom_config::parse(text)?;
        let pools: Vec<PoolRef> = view
            .pools
            .iter()
            .map(|p| PoolRef {
                kind: p.kind.as_deref().and_then(ProgramKind::from_pool_kind),
                address: p.address.as_deref().and_then(|a| Address::from_str(a).ok()),
            })
            .collect();
        let mut routes = view.routes;
        // A leg without `program` calls its pool's program.
        for route in &mut routes {
            for leg in &mut route.legs {
                if leg.program.is_none() {
                    leg.program = leg
                        .pool
                        .and_then(|p| pools.get(p as usize))
                        .and_then(|p| p.kind);
                }
            }
        }
        let config = Config {
            signer: view.signer,
            routes,
            pool_count: view.pools.len(),
            pools,
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks what the types alone cannot; the first problem found is returned.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.signer.validate()?;
        if self.routes.is_empty() {
            return Err(ConfigError::invalid(
                "routes",
                "at least one [[routes]] entry is required",
            ));
        }
        if self.routes.len() > crate::ledger::MAX_ROUTES {
            return Err(ConfigError::invalid(
                "routes",
                format!(
                    "at most {} routes (the ledger keeps a last tick for each), found {}",
                    crate::ledger::MAX_ROUTES,
                    self.routes.len()
                ),
            ));
        }
        for (i, route) in self.routes.iter().enumerate() {
            let key = format!("routes[{i}]");
            route.validate(&key, &self.pools)?;
            if self.signer.mode == Mode::Live
                && !route.is_cyclic()
                && !route.ends_unknown(&self.pools)
                && route.min_out_per_in_ppm.is_none()
            {
                return Err(ConfigError::invalid(
                    format!("{key}.min_out_per_in_ppm"),
                    "required in live mode: the route is not cyclic (its last leg's destination \
                     account is not its first leg's source account), so only a worst price \
                     bounds what it may give away",
                ));
            }
        }
        Ok(())
    }
}

fn check_endpoint(key: &str, url: &str) -> Result<(), ConfigError> {
    let ok = ["http://", "https://", "ws://", "wss://"]
        .iter()
        .any(|scheme| url.starts_with(scheme) && url.len() > scheme.len());
    if ok {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            key,
            format!(
                "expected an http(s):// or ws(s):// URL, got {}",
                redact_url(url)
            ),
        ))
    }
}

/// The signer speaks JSON-RPC over HTTP only (landing is polled with
/// `getSignatureStatuses`, not subscribed to over a WebSocket).
fn check_http(key: &str, url: &str) -> Result<(), ConfigError> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            key,
            format!(
                "the signer sends JSON-RPC over HTTP: expected an http(s):// URL, got {}",
                redact_url(url)
            ),
        ))
    }
}

pub use phantom_config::redact_url;

impl SignerConfig {
    /// Checks the table's values.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.mode == Mode::Live {
            if self.keypair_path.is_none() {
                return Err(ConfigError::invalid(
                    "signer.keypair_path",
                    "required when mode = \"live\" (a throwaway key is for dry-run only)",
                ));
            }
            if self.rpc_endpoints.is_empty() && self.jito_endpoint.is_none() {
                return Err(ConfigError::invalid(
                    "signer.rpc_endpoints",
                    "mode = \"live\" needs at least one endpoint to send to",
                ));
            }
        }
        if self.mode == Mode::Preflight {
            if self.rpc_endpoints.is_empty() {
                return Err(ConfigError::invalid(
                    "signer.rpc_endpoints",
                    "mode = \"preflight\" simulates on the first RPC endpoint: give one",
                ));
            }
            if self.preflight_max_per_second == 0 {
                return Err(ConfigError::invalid(
                    "signer.preflight_max_per_second",
                    "must be at least 1 (preflight would simulate nothing)",
                ));
            }
        }
        for (i, url) in self.rpc_endpoints.iter().enumerate() {
            let key = format!("signer.rpc_endpoints[{i}]");
            check_endpoint(&key, url)?;
            check_http(&key, url)?;
        }
        if let Some(url) = &self.jito_endpoint {
            check_endpoint("signer.jito_endpoint", url)?;
            check_http("signer.jito_endpoint", url)?;
        }
        if self.blockhash_refresh_ms == 0 {
            return Err(ConfigError::invalid(
                "signer.blockhash_refresh_ms",
                "must be at least 1",
            ));
        }
        if self.blockhash_max_age_ms <= self.blockhash_refresh_ms {
            return Err(ConfigError::invalid(
                "signer.blockhash_max_age_ms",
                format!(
                    "must exceed blockhash_refresh_ms ({}), or every intent would wait for a refresh",
                    self.blockhash_refresh_ms
                ),
            ));
        }
        if self.signing == SigningMode::PrecomputedNonce
            && !(1..=1 << 20).contains(&self.nonce_pool_size)
        {
            return Err(ConfigError::invalid(
                "signer.nonce_pool_size",
                "expected 1 to 1048576",
            ));
        }
        for (name, value) in [
            ("send_timeout_ms", self.send_timeout_ms),
            ("landing_poll_ms", self.landing_poll_ms),
        ] {
            if value == 0 {
                return Err(ConfigError::invalid(
                    format!("signer.{name}"),
                    "must be at least 1",
                ));
            }
        }
        if self.landing_timeout_ms < self.landing_poll_ms {
            return Err(ConfigError::invalid(
                "signer.landing_timeout_ms",
                format!(
                    "must be at least landing_poll_ms ({}), got {}",
                    self.landing_poll_ms, self.landing_timeout_ms
                ),
            ));
        }
        let l = &self.limits;
        if l.max_intents_per_second > crate::limits::MAX_INTENTS_PER_SECOND {
            return Err(ConfigError::invalid(
                "signer.limits.max_intents_per_second",
                format!("at most {}", crate::limits::MAX_INTENTS_PER_SECOND),
            ));
        }
        for (name, value) in [
            (
                "max_intents_per_second",
                u64::from(l.max_intents_per_second),
            ),
            ("max_notional_per_minute_raw", l.max_notional_per_minute_raw),
            ("max_open_intents", u64::from(l.max_open_intents)),
            ("max_tick_age_ms", l.max_tick_age_ms),
            ("max_lamports_per_minute", l.max_lamports_per_minute),
            ("max_lamports_per_day", l.max_lamports_per_day),
        ] {
            if value == 0 {
                return Err(ConfigError::invalid(
                    format!("signer.limits.{name}"),
                    "must be at least 1 (use the kill switch to stop trading)",
                ));
            }
        }
        if l.max_lamports_per_minute > l.max_lamports_per_day {
            return Err(ConfigError::invalid(
                "signer.limits.max_lamports_per_minute",
                format!(
                    "{} exceeds max_lamports_per_day ({})",
                    l.max_lamports_per_minute, l.max_lamports_per_day
                ),
            ));
        }
        Ok(())
    }
}

impl fmt::Debug for SignerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let endpoints: Vec<String> = self.rpc_endpoints.iter().map(|u| redact_url(u)).collect();
        f.debug_struct("SignerConfig")
            .field("mode", &self.mode)
            .field("preflight_max_per_second", &self.preflight_max_per_second)
            .field("keypair_path", &self.keypair_path)
            .field("rpc_endpoints", &endpoints)
            .field(
                "jito_endpoint",
                &self.jito_endpoint.as_deref().map(redact_url),
            )
            .field("skip_preflight", &self.skip_preflight)
            .field("max_retries", &self.max_retries)
            .field("blockhash_refresh_ms", &self.blockhash_refresh_ms)
            .field("blockhash_max_age_ms", &self.blockhash_max_age_ms)
            .field("signing", &self.signing)
            .field("nonce_pool_size", &self.nonce_pool_size)
            .field("capture_path", &self.capture_path)
            .field("kill_switch_path", &self.kill_switch_path)
            .field("wait", &self.wait)
            .field("send_timeout_ms", &self.send_timeout_ms)
            .field("landing_poll_ms", &self.landing_poll_ms)
            .field("landing_timeout_ms", &self.landing_timeout_ms)
            .field("limits", &self.limits)
            .finish()
    }
}

impl RouteConfig {
    /// Checks one route; `key` is its path (`routes[i]`).
    pub fn validate(&self, key: &str, pools: &[PoolRef]) -> Result<(), ConfigError> {
        if self.legs.is_empty() || self.legs.len() > MAX_LEGS {
            return Err(ConfigError::invalid(
                format!("{key}.legs"),
                format!("expected 1 to {MAX_LEGS} legs, found {}", self.legs.len()),
            ));
        }
        if self.compute_unit_limit == 0 || self.compute_unit_limit > MAX_COMPUTE_UNIT_LIMIT {
            return Err(ConfigError::invalid(
                format!("{key}.compute_unit_limit"),
                format!("expected 1 to {MAX_COMPUTE_UNIT_LIMIT}"),
            ));
        }
        if self.max_amount_in_raw == 0 {
            return Err(ConfigError::invalid(
                format!("{key}.max_amount_in_raw"),
                "must be at least 1",
            ));
        }
        if self.min_out_per_in_ppm == Some(0) {
            return Err(ConfigError::invalid(
                format!("{key}.min_out_per_in_ppm"),
                "must be at least 1 (0 would accept any price; leave it out on a cyclic route)",
            ));
        }
        let mut variants = 1usize;
        for (j, leg) in self.legs.iter().enumerate() {
            leg.validate(&format!("{key}.legs[{j}]"), pools)?;
            variants = variants.saturating_mul(leg.tick_array_variants.len().max(1));
        }
        if variants > MAX_VARIANTS_PER_ROUTE {
            return Err(ConfigError::invalid(
                format!("{key}.legs"),
                format!(
                    "the legs' tick_array_variants multiply to {variants} templates; at most \
                     {MAX_VARIANTS_PER_ROUTE}"
                ),
            ));
        }
        if self.min_profit_raw > 0 && !self.is_cyclic() && !self.ends_unknown(pools) {
            return Err(ConfigError::invalid(
                format!("{key}.min_profit_raw"),
                "applies to cyclic routes only (the last leg's destination account is not the \
                 first leg's source account); bound this route with min_out_per_in_ppm",
            ));
        }
        let mut seen = BTreeSet::new();
        for (t, table) in self.address_lookup_tables.iter().enumerate() {
            let tkey = format!("{key}.address_lookup_tables[{t}]");
            if !seen.insert(table.address) {
                return Err(ConfigError::invalid(
                    format!("{tkey}.address"),
                    format!("table {} is listed twice", table.address),
                ));
            }
            if table.addresses.is_empty() || table.addresses.len() > MAX_LOOKUP_TABLE_ADDRESSES {
                return Err(ConfigError::invalid(
                    format!("{tkey}.addresses"),
                    format!(
                        "expected 1 to {MAX_LOOKUP_TABLE_ADDRESSES} addresses, found {}",
                        table.addresses.len()
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl RouteConfig {
    /// Whether the first leg's source or the last leg's destination is not written in the
    /// config but derived (then [`RouteConfig::is_cyclic`] is known only after derivation,
    /// and the checks that need it run again on the derived config).
    pub fn ends_unknown(&self, pools: &[PoolRef]) -> bool {
        match (self.legs.first(), self.legs.last()) {
            (Some(first), Some(last)) => {
                (first.source().is_none() && first.is_derived(pools))
                    || (last.destination().is_none() && last.is_derived(pools))
            }
            _ => false,
        }
    }

    /// Whether the route ends in the account it starts from: its last leg's destination user
    /// token account is its first leg's source account. Known from the accounts alone (v4
    /// and Whirlpool instructions carry no mint). A validated route has at least one leg.
    pub fn is_cyclic(&self) -> bool {
        match (self.legs.first(), self.legs.last()) {
            (Some(first), Some(last)) => match (first.source(), last.destination()) {
                (Some(s), Some(d)) => s == d,
                _ => false,
            },
            _ => false,
        }
    }
}

impl LegConfig {
    /// The program kind (resolved from the pool at parse time; validation refuses a leg
    /// without one).
    pub fn kind(&self) -> ProgramKind {
        self.program.unwrap_or(ProgramKind::SplTransfer)
    }

    /// The user token account this leg sells from (`None` if not configured).
    pub fn source(&self) -> Option<Pubkey> {
        let name = match (self.kind(), self.direction) {
            (ProgramKind::SplTransfer, _) => "source",
            (_, Some(Direction::BToA)) => "user_token_b",
            (_, _) => "user_token_a",
        };
        self.accounts.get(name).copied()
    }

    /// The user token account this leg pays into (`None` if not configured).
    pub fn destination(&self) -> Option<Pubkey> {
        let name = match (self.kind(), self.direction) {
            (ProgramKind::SplTransfer, _) => "destination",
            (_, Some(Direction::BToA)) => "user_token_a",
            (_, _) => "user_token_b",
        };
        self.accounts.get(name).copied()
    }

    /// Whether this leg's accounts are derived from its pool (it has one with an address).
    pub fn is_derived(&self, pools: &[PoolRef]) -> bool {
        self.kind().is_swap()
            && self
                .pool
                .and_then(|p| pools.get(p as usize))
                .is_some_and(|p| p.address.is_some())
    }

    /// Checks one leg; `key` is its path (`routes[i].legs[j]`).
    pub fn validate(&self, key: &str, pools: &[PoolRef]) -> Result<(), ConfigError> {
        let pool_count = pools.len();
        let Some(program) = self.program else {
            return Err(ConfigError::invalid(
                format!("{key}.program"),
                "not given, and the leg's pool has no kind the signer trades \
                 (raydium_amm_v4, raydium_cpmm, orca_whirlpool)",
            ));
        };
        let kind = program.name();
        if program.is_swap() {
            match self.pool {
                None => {
                    return Err(ConfigError::invalid(
                        format!("{key}.pool"),
                        format!("required for a {kind} leg"),
                    ))
                }
                Some(p) if p as usize >= pool_count => {
                    return Err(ConfigError::invalid(
                        format!("{key}.pool"),
                        format!("pool {p} does not exist ([[pools]] has {pool_count} entries)"),
                    ))
                }
                Some(_) => {}
            }
            if self.direction.is_none() {
                return Err(ConfigError::invalid(
                    format!("{key}.direction"),
                    format!("required for a {kind} leg: expected \"a_to_b\" or \"b_to_a\""),
                ));
            }
        }
        let derived = self.is_derived(pools);
        if let Some(pool_kind) = self
            .pool
            .and_then(|p| pools.get(p as usize))
            .and_then(|p| p.kind)
        {
            if program.is_swap() && pool_kind != program {
                return Err(ConfigError::invalid(
                    format!("{key}.program"),
                    format!(
                        "{kind}, but pool {} is a {} pool",
                        self.pool.unwrap_or(0),
                        pool_kind.name()
                    ),
                ));
            }
        }
        let names = program.account_names();
        for name in names.required {
            if !derived && !self.accounts.contains_key(*name) {
                return Err(ConfigError::invalid(
                    format!("{key}.accounts.{name}"),
                    format!("required by {kind}"),
                ));
            }
        }
        for name in self.accounts.keys() {
            let known =
                names.required.contains(&name.as_str()) || names.optional.contains(&name.as_str());
            if !known {
                let mut all: Vec<&str> = names.required.to_vec();
                all.extend_from_slice(names.optional);
                return Err(ConfigError::invalid(
                    format!("{key}.accounts.{name}"),
                    format!(
                        "unknown account for {kind}; expected one of {}",
                        all.join(", ")
                    ),
                ));
            }
        }
        let is_whirlpool = program == ProgramKind::OrcaWhirlpool;
        if is_whirlpool && !derived && self.tick_array_variants.is_empty() {
            return Err(ConfigError::invalid(
                format!("{key}.tick_array_variants"),
                "an orca_whirlpool leg needs at least one tick-array variant",
            ));
        }
        if !is_whirlpool && !self.tick_array_variants.is_empty() {
            return Err(ConfigError::invalid(
                format!("{key}.tick_array_variants"),
                format!("only orca_whirlpool legs have tick arrays, this is {kind}"),
            ));
        }
        let mut starts = BTreeSet::new();
        for (v, variant) in self.tick_array_variants.iter().enumerate() {
            let vkey = format!("{key}.tick_array_variants[{v}]");
            if !starts.insert(variant.start_tick_index) {
                return Err(ConfigError::invalid(
                    format!("{vkey}.start_tick_index"),
                    format!("{} appears twice", variant.start_tick_index),
                ));
            }
            if variant.tick_arrays.len() != 3 {
                return Err(ConfigError::invalid(
                    format!("{vkey}.tick_arrays"),
                    format!(
                        "expected 3 tick arrays (repeat the last one where fewer exist), found {}",
                        variant.tick_arrays.len()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The program id this leg calls.
    pub fn program_id(&self) -> Address {
        self.program_id
            .map_or_else(|| self.kind().default_program_id(), |p| p.0)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A full config exercising every program kind, with the other processes' tables around.
    pub(crate) fn sample_toml() -> String {
        let a = |n: u8| Address::new_from_array([n; 32]).to_string();
        format!(
            r#"
[feeder]
endpoints = [{{ ws = "ws://127.0.0.1:8900", rpc = "http://127.0.0.1:8899" }}]
anything_goes_here = true

[strategy]
name = "phantom_pipeline.strategies:TwoPool"

[[pools]]
address = "whatever"
kind = "raydium_amm_v4"

[[pools]]
address = "whatever2"

[[pools]]
address = "whatever3"

[signer]
mode = "dry-run"
rpc_endpoints = ["http://127.0.0.1:8899", "https://rpc.example.com/?api-key=SECRETKEY"]
skip_preflight = true
max_retries = 0
blockhash_refresh_ms = 400
blockhash_max_age_ms = 30000
signing = "precomputed-nonce"
capture_path = "/tmp/phantom-capture.jsonl"
kill_switch_path = "/tmp/phantom-kill"

[signer.limits]
max_intents_per_second = 100
max_notional_per_minute_raw = 1000000000000
max_open_intents = 16
max_tick_age_ms = 200
max_compute_unit_price_micro_lamports = 1000000
max_tip_lamports = 100000

[[routes]]
name = "v4-cpmm-whirlpool"
compute_unit_limit = 600000
max_amount_in_raw = 5000000000
tip_account = "{tip}"

[[routes.address_lookup_tables]]
address = "{alt}"
addresses = [{alt_addrs}]

[[routes.legs]]
pool = 0
direction = "a_to_b"
program = "raydium_amm_v4"
[routes.legs.accounts]
amm = "{a10}"
amm_authority = "{a11}"
pool_coin_token_account = "{a14}"
pool_pc_token_account = "{a15}"
user_token_a = "{a2}"
user_token_b = "{a3}"

[[routes.legs]]
pool = 1
direction = "b_to_a"
program = "raydium_cpmm"
[routes.legs.accounts]
authority = "{a30}"
amm_config = "{a31}"
pool_state = "{a32}"
token_0_vault = "{a33}"
token_1_vault = "{a34}"
token_0_mint = "{a35}"
token_1_mint = "{a36}"
observation_state = "{a37}"
user_token_a = "{a4}"
user_token_b = "{a3}"

[[routes.legs]]
pool = 2
direction = "a_to_b"
program = "orca_whirlpool"
[routes.legs.accounts]
whirlpool = "{a40}"
token_vault_a = "{a41}"
token_vault_b = "{a42}"
oracle = "{a43}"
user_token_a = "{a4}"
user_token_b = "{a2}"
[[routes.legs.tick_array_variants]]
start_tick_index = -5632
tick_arrays = ["{a44}", "{a45}", "{a46}"]
[[routes.legs.tick_array_variants]]
start_tick_index = 0
tick_arrays = ["{a45}", "{a46}", "{a47}"]

[[routes]]
name = "transfer"
compute_unit_limit = 10000
max_amount_in_raw = 1000
[[routes.legs]]
program = "spl_transfer"
[routes.legs.accounts]
source = "{a2}"
destination = "{a3}"
"#,
            tip = a(90),
            alt = a(91),
            alt_addrs = (10..48)
                .map(|n| format!("\"{}\"", a(n)))
                .collect::<Vec<_>>()
                .join(", "),
            a2 = a(2),
            a3 = a(3),
            a4 = a(4),
            a10 = a(10),
            a11 = a(11),
            a14 = a(14),
            a15 = a(15),
            a30 = a(30),
            a31 = a(31),
            a32 = a(32),
            a33 = a(33),
            a34 = a(34),
            a35 = a(35),
            a36 = a(36),
            a37 = a(37),
            a40 = a(40),
            a41 = a(41),
            a42 = a(42),
            a43 = a(43),
            a44 = a(44),
            a45 = a(45),
            a46 = a(46),
            a47 = a(47),
        )
    }

    fn err_of(text: &str) -> ConfigError {
        match Config::from_toml_str(text) {
            Ok(_) => panic!("config was accepted"),
            Err(e) => e,
        }
    }

    #[test]
    fn good_config_parses_and_ignores_other_processes_tables() {
        let c = Config::from_toml_str(&sample_toml()).expect("valid");
        assert_eq!(c.pool_count, 3);
        assert_eq!(c.routes.len(), 2);
        assert_eq!(c.signer.signing, SigningMode::PrecomputedNonce);
        assert_eq!(c.signer.limits.max_open_intents, 16);
        let r = &c.routes[0];
        assert_eq!(r.legs.len(), 3);
        assert_eq!(r.legs[1].direction, Some(Direction::BToA));
        assert_eq!(r.legs[2].program, Some(ProgramKind::OrcaWhirlpool));
        assert_eq!(r.legs[2].tick_array_variants.len(), 2);
        assert_eq!(r.address_lookup_tables[0].addresses.len(), 38);
        assert_eq!(r.legs[0].program_id(), crate::programs::ids::RAYDIUM_AMM_V4);
        assert_eq!(c.routes[1].legs[0].program, Some(ProgramKind::SplTransfer));
    }

    #[test]
    fn defaults_are_dry_run_and_rfc8032() {
        let text = sample_toml()
            .replace("mode = \"dry-run\"\n", "")
            .replace("signing = \"precomputed-nonce\"\n", "");
        let c = Config::from_toml_str(&text).expect("valid");
        assert_eq!(c.signer.mode, Mode::DryRun);
        assert_eq!(c.signer.signing, SigningMode::Rfc8032);
    }

    #[test]
    fn unknown_key_in_signer_is_refused_with_its_path() {
        let text = sample_toml().replace("skip_preflight = true", "skip_preflite = true");
        let e = err_of(&text);
        assert_eq!(e.key(), Some("signer.skip_preflite"), "{e}");
        assert!(
            e.to_string().contains("unknown field \"skip_preflite\""),
            "{e}"
        );
    }

    #[test]
    fn unknown_key_in_a_leg_is_refused_with_its_path() {
        let text = sample_toml().replace(
            "program = \"raydium_cpmm\"",
            "program = \"raydium_cpmm\"\nslippage = 1",
        );
        let e = err_of(&text);
        assert_eq!(e.key(), Some("routes[0].legs[1].slippage"), "{e}");
    }

    #[test]
    fn unknown_key_in_limits_is_refused() {
        let text = sample_toml().replace("max_open_intents = 16", "max_open_intent = 16");
        let e = err_of(&text);
        assert!(
            e.key().is_some_and(|k| k.starts_with("signer.limits")),
            "{e}"
        );
    }

    #[test]
    fn bad_direction_names_the_key_and_the_choices() {
        let text = sample_toml().replace("direction = \"b_to_a\"", "direction = \"sideways\"");
        let e = err_of(&text);
        assert_eq!(e.key(), Some("routes[0].legs[1].direction"), "{e}");
        let s = e.to_string();
        assert!(s.contains("expected \"a_to_b\" or \"b_to_a\""), "{s}");
        assert!(s.contains("line "), "{s}");
    }

    #[test]
    fn bad_enum_values_are_refused() {
        let e = err_of(&sample_toml().replace("mode = \"dry-run\"", "mode = \"yolo\""));
        assert_eq!(e.key(), Some("signer.mode"), "{e}");
        let e =
            err_of(&sample_toml().replace("signing = \"precomputed-nonce\"", "signing = \"fast\""));
        assert_eq!(e.key(), Some("signer.signing"), "{e}");
        let e = err_of(&sample_toml().replace("\"raydium_cpmm\"", "\"uniswap\""));
        assert_eq!(e.key(), Some("routes[0].legs[1].program"), "{e}");
    }

    #[test]
    fn bad_address_names_the_account() {
        let good = Address::new_from_array([31; 32]).to_string();
        let text = sample_toml().replace(
            &format!("amm_config = \"{good}\""),
            "amm_config = \"not-base58-0OIl\"",
        );
        let e = err_of(&text);
        assert_eq!(
            e.key(),
            Some("routes[0].legs[1].accounts.amm_config"),
            "{e}"
        );
    }

    #[test]
    fn wrong_type_is_refused() {
        let e =
            err_of(&sample_toml().replace("max_tick_age_ms = 200", "max_tick_age_ms = \"200\""));
        assert_eq!(e.key(), Some("signer.limits.max_tick_age_ms"), "{e}");
    }

    #[test]
    fn missing_and_unknown_account_names_are_refused() {
        let e = err_of(&sample_toml().replace("observation_state = ", "observation = "));
        // The unknown name or the missing one, whichever is checked first, is named.
        assert!(
            e.key() == Some("routes[0].legs[1].accounts.observation_state")
                || e.key() == Some("routes[0].legs[1].accounts.observation"),
            "{e}"
        );
        // SwapBaseInV2 takes no OpenBook accounts: an old SwapBaseIn name is refused.
        let text = sample_toml().replace(
            "pool_pc_token_account = ",
            "serum_bids = \"11111111111111111111111111111111\"\npool_pc_token_account = ",
        );
        let e = err_of(&text);
        assert_eq!(
            e.key(),
            Some("routes[0].legs[0].accounts.serum_bids"),
            "{e}"
        );
    }

    #[test]
    fn semantic_checks_name_the_key() {
        let cases: &[(&str, &str, &str)] = &[
            ("pool = 2", "pool = 7", "routes[0].legs[2].pool"),
            (
                "compute_unit_limit = 600000",
                "compute_unit_limit = 0",
                "routes[0].compute_unit_limit",
            ),
            (
                "max_amount_in_raw = 1000\n",
                "max_amount_in_raw = 0\n",
                "routes[1].max_amount_in_raw",
            ),
            (
                "max_intents_per_second = 100",
                "max_intents_per_second = 0",
                "signer.limits.max_intents_per_second",
            ),
            (
                "blockhash_max_age_ms = 30000",
                "blockhash_max_age_ms = 100",
                "signer.blockhash_max_age_ms",
            ),
            (
                "mode = \"dry-run\"",
                "mode = \"live\"",
                "signer.keypair_path",
            ),
            (
                "\"http://127.0.0.1:8899\",",
                "\"127.0.0.1:8899\",",
                "signer.rpc_endpoints[0]",
            ),
            (
                "start_tick_index = 0\n",
                "start_tick_index = -5632\n",
                "routes[0].legs[2].tick_array_variants[1].start_tick_index",
            ),
        ];
        for (from, to, key) in cases {
            let text = sample_toml().replacen(from, to, 1);
            assert_ne!(text, sample_toml(), "{from} not in sample");
            let e = err_of(&text);
            assert_eq!(e.key(), Some(*key), "{from} -> {to}: {e}");
        }
    }

    #[test]
    fn preflight_needs_an_endpoint_and_a_rate() {
        let pre = sample_toml().replacen("mode = \"dry-run\"", "mode = \"preflight\"", 1);
        let c = Config::from_toml_str(&pre).expect("preflight config");
        assert_eq!(c.signer.mode, Mode::Preflight);
        assert_eq!(c.signer.preflight_max_per_second, 5, "the default");
        let none = pre.replacen(
            "rpc_endpoints = [\"http://127.0.0.1:8899\", \"https://rpc.example.com/?api-key=SECRETKEY\"]",
            "rpc_endpoints = []",
            1,
        );
        assert_ne!(none, pre);
        assert_eq!(err_of(&none).key(), Some("signer.rpc_endpoints"));
        let zero = pre.replacen("skip_preflight = true", "preflight_max_per_second = 0", 1);
        assert_eq!(err_of(&zero).key(), Some("signer.preflight_max_per_second"));
    }

    #[test]
    fn too_many_legs_is_refused() {
        let text = sample_toml();
        let start = text.find("[[routes.legs]]\npool = 0").expect("leg");
        let end = text.find("[[routes.legs]]\npool = 1").expect("leg");
        let leg = &text[start..end];
        let text = text.replacen(leg, &format!("{leg}{leg}"), 1);
        let e = err_of(&text);
        assert_eq!(e.key(), Some("routes[0].legs"), "{e}");
        assert!(e.to_string().contains("found 4"), "{e}");
    }

    #[test]
    fn tick_arrays_must_be_three() {
        let a44 = Address::new_from_array([44; 32]).to_string();
        let a45 = Address::new_from_array([45; 32]).to_string();
        let text = sample_toml().replacen(
            &format!("tick_arrays = [\"{a44}\", \"{a45}\", "),
            &format!("tick_arrays = [\"{a44}\", "),
            1,
        );
        let e = err_of(&text);
        assert_eq!(
            e.key(),
            Some("routes[0].legs[2].tick_array_variants[0].tick_arrays"),
            "{e}"
        );
    }

    #[test]
    fn missing_signer_table_is_refused() {
        let e = err_of("[feeder]\nx = 1\n");
        assert!(e.to_string().contains("signer"), "{e}");
    }

    #[test]
    fn toml_syntax_error_is_reported_with_a_line() {
        let e = err_of("[signer\nmode = 1");
        assert!(e.to_string().contains("line 1"), "{e}");
    }

    #[test]
    fn debug_hides_endpoint_secrets() {
        let c = Config::from_toml_str(&sample_toml()).expect("valid");
        let dbg = format!("{:?}", c);
        assert!(!dbg.contains("SECRETKEY"), "{dbg}");
        assert!(dbg.contains("https://rpc.example.com/…"), "{dbg}");
    }

    #[test]
    fn cyclic_routes_are_known_from_their_accounts() {
        let c = Config::from_toml_str(&sample_toml()).expect("config");
        // v4 a->b (2 -> 3), CPMM b->a (3 -> 4), Whirlpool a->b (4 -> 2): back to account 2.
        assert!(c.routes[0].is_cyclic());
        // A transfer from 2 to 3 ends elsewhere.
        assert!(!c.routes[1].is_cyclic());
        let mut open_ended = c.routes[0].clone();
        open_ended.legs[2].direction = Some(Direction::BToA); // ends in account 4
        assert!(!open_ended.is_cyclic());
    }

    #[test]
    fn route_floors_and_lamport_budgets_parse_with_defaults() {
        let c = Config::from_toml_str(&sample_toml()).expect("config");
        assert_eq!(c.routes[0].min_profit_raw, 0);
        assert_eq!(c.routes[0].min_out_per_in_ppm, None);
        assert_eq!(
            c.signer.limits.max_lamports_per_minute,
            DEFAULT_MAX_LAMPORTS_PER_MINUTE
        );
        assert_eq!(
            c.signer.limits.max_lamports_per_day,
            DEFAULT_MAX_LAMPORTS_PER_DAY
        );
        let text = sample_toml()
            .replace(
                "max_amount_in_raw = 5000000000",
                "max_amount_in_raw = 5000000000\nmin_profit_raw = 7\nmin_out_per_in_ppm = 990000",
            )
            .replace(
                "max_tip_lamports = 100000",
                "max_tip_lamports = 100000\nmax_lamports_per_minute = 11\nmax_lamports_per_day = 12",
            );
        let c = Config::from_toml_str(&text).expect("config");
        assert_eq!(c.routes[0].min_profit_raw, 7);
        assert_eq!(c.routes[0].min_out_per_in_ppm, Some(990_000));
        assert_eq!(c.signer.limits.max_lamports_per_minute, 11);
        assert_eq!(c.signer.limits.max_lamports_per_day, 12);
    }

    #[test]
    fn bad_route_floors_and_budgets_name_the_key() {
        let with = |from: &str, to: &str| sample_toml().replacen(from, to, 1);
        let ppm0 = with(
            "max_amount_in_raw = 5000000000",
            "max_amount_in_raw = 5000000000\nmin_out_per_in_ppm = 0",
        );
        assert_eq!(err_of(&ppm0).key(), Some("routes[0].min_out_per_in_ppm"));
        let profit_on_transfer = with(
            "max_amount_in_raw = 1000",
            "max_amount_in_raw = 1000\nmin_profit_raw = 5",
        );
        let e = err_of(&profit_on_transfer);
        assert_eq!(e.key(), Some("routes[1].min_profit_raw"), "{e}");
        assert!(e.to_string().contains("cyclic"), "{e}");
        let zero = with(
            "max_tip_lamports = 100000",
            "max_tip_lamports = 100000\nmax_lamports_per_day = 0",
        );
        assert_eq!(
            err_of(&zero).key(),
            Some("signer.limits.max_lamports_per_day")
        );
        let inverted = with(
            "max_tip_lamports = 100000",
            "max_tip_lamports = 100000\nmax_lamports_per_minute = 10\nmax_lamports_per_day = 9",
        );
        assert_eq!(
            err_of(&inverted).key(),
            Some("signer.limits.max_lamports_per_minute")
        );
    }

    #[test]
    fn live_mode_refuses_a_non_cyclic_route_without_a_worst_price() {
        let live = sample_toml().replace(
            "mode = \"dry-run\"",
            "mode = \"live\"\nkeypair_path = \"/tmp/k.json\"",
        );
        let e = err_of(&live);
        assert_eq!(e.key(), Some("routes[1].min_out_per_in_ppm"), "{e}");
        assert!(e.to_string().contains("not cyclic"), "{e}");
        // With a worst price the same route is accepted; the cyclic route needs none.
        let priced = live.replacen(
            "max_amount_in_raw = 1000",
            "max_amount_in_raw = 1000\nmin_out_per_in_ppm = 1000000",
            1,
        );
        let c = Config::from_toml_str(&priced).expect("live config");
        assert_eq!(c.routes[1].min_out_per_in_ppm, Some(1_000_000));
        assert_eq!(c.routes[0].min_out_per_in_ppm, None);
    }
}

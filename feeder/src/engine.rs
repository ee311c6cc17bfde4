//! The feeder's core: frames from every endpoint in, pool states and market events out.
//!
//! Per frame: parse it ([`crate::pubsub`]); map its subscription back to the watched
//! account; drop copies another endpoint delivered first ([`crate::dedupe`]); decode the
//! account ([`crate::decode`]); assemble the pool under the two-vault rule
//! ([`crate::pool_state`]); publish ([`crate::publisher`]). Connection drops and returns
//! become `Gap` records; after a return the accounts are refetched over JSON-RPC so the table
//! is right again before trading resumes. Bad input is counted (and logged, rate-limited);
//! nothing in a frame can make this panic or stall.

use crate::config::{Config, PoolKind};
use crate::decode::{token, AmmInfo, CpmmPoolState, Pubkey, Whirlpool};
use crate::dedupe::{data_hash, Dedupe, Verdict};
use crate::pool_state::{AccountUpdate, PoolAccountState, PoolAssembler, Ready};
use crate::publisher::Publisher;
use crate::pubsub::{self, Frame};
use crate::recording::FrameLog;
use crate::source::FeedEvent;
use phantom_ringbuf::control::FeederCounter;
use std::collections::HashMap;

/// Largest account the feeder decodes (bytes).
pub const MAX_ACCOUNT_BYTES: usize = 16 * 1024;

/// What a watched account is to its pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The pool's own account.
    Pool,
    /// Vault of token A.
    VaultA,
    /// Vault of token B.
    VaultB,
}

/// One account the feeder subscribes to.
#[derive(Debug, Clone)]
pub struct Watched {
    /// Pool id.
    pub pool: usize,
    /// Kind of that pool.
    pub kind: PoolKind,
    /// Role in the pool.
    pub role: Role,
    /// Address.
    pub address: Pubkey,
}

/// Every account to watch for `config`'s pools (account index = position).
pub fn watched_accounts(config: &Config) -> Vec<Watched> {
    let mut out = Vec::new();
    for (pool, p) in config.pools.iter().enumerate() {
        out.push(Watched {
            pool,
            kind: p.kind,
            role: Role::Pool,
            address: p.address,
        });
        if p.kind.priced_from_vaults() {
            if let Some([a, b]) = p.vaults {
                for (role, address) in [(Role::VaultA, a), (Role::VaultB, b)] {
                    out.push(Watched {
                        pool,
                        kind: p.kind,
                        role,
                        address,
                    });
                }
            }
        }
    }
    out
}

/// The subscription requests an endpoint sends on every connect: one `accountSubscribe`
/// per watched account (request id = account index + 1), then `slotSubscribe`.
pub fn subscriptions(config: &Config, accounts: &[Watched]) -> Vec<String> {
    let mut out: Vec<String> = accounts
        .iter()
        .enumerate()
        .map(|(i, w)| pubsub::account_subscribe(i as u64 + 1, &w.address, config.feeder.commitment))
        .collect();
    out.push(pubsub::slot_subscribe(accounts.len() as u64 + 1));
    out
}

/// Counters of the engine that are not in the control block.
#[derive(Debug, Default, Clone, Copy)]
pub struct EngineStats {
    /// Frames that failed to parse.
    pub bad_frames: u64,
    /// Notifications for a subscription id we do not know.
    pub unknown_subscriptions: u64,
    /// Accounts that failed to decode.
    pub decode_errors: u64,
    /// Updates refused by the assembler (older slot, wrong account).
    pub refused: u64,
    /// Pool states published.
    pub published: u64,
}

/// The feeder core.
pub struct Engine {
    publisher: Publisher,
    assemblers: Vec<PoolAssembler>,
    accounts: Vec<Watched>,
    subs: Vec<HashMap<u64, usize>>,
    dedupe: Dedupe,
    buf: Vec<u8>,
    max_frame_bytes: usize,
    stats: EngineStats,
    last_log_ns: u64,
    frame_log: Option<FrameLog>,
    /// Per endpoint: (connects so far, notification frames on the current connection).
    frame_counts: Vec<(u8, u32)>,
}

impl Engine {
    /// An engine publishing through `publisher` for `config`'s pools.
    pub fn new(config: &Config, publisher: Publisher) -> Self {
        let accounts = watched_accounts(config);
        Engine {
            publisher,
            assemblers: config.pools.iter().map(PoolAssembler::new).collect(),
            subs: vec![HashMap::new(); config.feeder.endpoints.len()],
            accounts,
            dedupe: Dedupe::new(crate::dedupe::HORIZON_SLOTS),
            buf: vec![0; MAX_ACCOUNT_BYTES],
            max_frame_bytes: config.feeder.max_frame_bytes,
            stats: EngineStats::default(),
            last_log_ns: 0,
            frame_log: None,
            frame_counts: vec![(0, 0); config.feeder.endpoints.len()],
        }
    }

    /// Log every notification frame's position on its connection (benchmarks join on it).
    pub fn set_frame_log(&mut self, log: FrameLog) {
        self.frame_log = Some(log);
    }

    fn count_notification(&mut self, endpoint: u8, t_recv_ns: u64, slot: bool) {
        if let Some(c) = self.frame_counts.get_mut(endpoint as usize) {
            if let Some(log) = &self.frame_log {
                log.log(t_recv_ns, c.1, endpoint, c.0.wrapping_sub(1), slot);
            }
            c.1 = c.1.wrapping_add(1);
        }
    }

    /// The watched accounts.
    pub fn accounts(&self) -> &[Watched] {
        &self.accounts
    }

    /// The publisher (control block, heartbeats).
    pub fn publisher(&mut self) -> &mut Publisher {
        &mut self.publisher
    }

    /// Counters.
    pub fn stats(&self) -> EngineStats {
        self.stats
    }

    fn log_limited(&mut self, msg: std::fmt::Arguments<'_>) {
        // At most one line per second: a flood of bad frames must not become a flood of logs.
        let now = phantom_ringbuf::clock::monotonic_ns();
        if now.saturating_sub(self.last_log_ns) >= 1_000_000_000 {
            self.last_log_ns = now;
            tracing::warn!("{msg}");
        }
    }

    /// Count one piece of bad input in the control block and log it, rate-limited.
    fn bad_input(&mut self, msg: std::fmt::Arguments<'_>) {
        self.publisher
            .control()
            .feeder()
            .add(FeederCounter::DecodeErrors, 1);
        self.log_limited(msg);
    }

    /// Handle one source event. Returns `Some(endpoint)` when that endpoint (re)connected
    /// and the accounts should be refetched from its RPC.
    pub fn on_event(&mut self, ev: FeedEvent) -> Option<u8> {
        match ev {
            FeedEvent::Frame {
                endpoint,
                t_recv_ns,
                text,
            } => {
                self.on_frame(endpoint, t_recv_ns, &text);
                None
            }
            FeedEvent::Connected { endpoint } => {
                if let Some(c) = self.frame_counts.get_mut(endpoint as usize) {
                    *c = (c.0.wrapping_add(1), 0);
                }
                self.set_connected(endpoint, true);
                self.publisher.publish_gap(endpoint, true);
                tracing::info!(endpoint, "connected");
                Some(endpoint)
            }
            FeedEvent::Disconnected {
                endpoint,
                why,
                retry_in,
            } => {
                if let Some(s) = self.subs.get_mut(endpoint as usize) {
                    s.clear();
                }
                self.set_connected(endpoint, false);
                self.publisher.publish_gap(endpoint, false);
                tracing::warn!(endpoint, %why, retry_in_ms = retry_in.as_millis() as u64, "disconnected");
                None
            }
            FeedEvent::Refetched { endpoint, fetched } => {
                self.apply_refetch(&fetched, endpoint);
                None
            }
        }
    }

    fn set_connected(&self, endpoint: u8, up: bool) {
        self.publisher
            .control()
            .feeder()
            .endpoint_connected(endpoint, up);
    }

    /// Handle one text frame from `endpoint`.
    pub fn on_frame(&mut self, endpoint: u8, t_recv_ns: u64, text: &str) {
        let frame = match pubsub::parse_frame(text, self.max_frame_bytes) {
            Ok(f) => f,
            Err(e) => {
                self.stats.bad_frames += 1;
                self.bad_input(format_args!("endpoint {endpoint}: bad frame: {e}"));
                return;
            }
        };
        match frame {
            Frame::Subscribed { id, subscription } => {
                let account = id.wrapping_sub(1) as usize;
                if let Some(map) = self.subs.get_mut(endpoint as usize) {
                    if account < self.accounts.len() {
                        map.insert(subscription, account);
                    }
                }
            }
            Frame::Unsubscribed { .. } => {}
            Frame::Error { id, code, message } => {
                self.log_limited(format_args!(
                    "endpoint {endpoint}: error {code} for request {id:?}: {message}"
                ));
            }
            Frame::Slot { slot, .. } => {
                self.count_notification(endpoint, t_recv_ns, true);
                let Engine {
                    publisher,
                    assemblers,
                    stats,
                    ..
                } = self;
                for (pool, a) in assemblers.iter_mut().enumerate() {
                    a.on_slot(slot, &mut |r: Ready| {
                        if publisher.publish_pool(pool, &r.state, r.endpoint, r.t_recv_ns) {
                            stats.published += 1;
                        }
                    });
                }
                publisher.publish_slot(slot, endpoint, t_recv_ns);
            }
            Frame::Account(n) => {
                self.count_notification(endpoint, t_recv_ns, false);
                self.publisher
                    .control()
                    .feeder()
                    .add(FeederCounter::Notifications, 1);
                let Some(&account) = self
                    .subs
                    .get(endpoint as usize)
                    .and_then(|m| m.get(&n.subscription))
                else {
                    self.stats.unknown_subscriptions += 1;
                    self.log_limited(format_args!(
                        "endpoint {endpoint}: notification for unknown subscription {}",
                        n.subscription
                    ));
                    return;
                };
                let hash = data_hash(n.data_base64.as_bytes());
                match self
                    .dedupe
                    .observe(account as u32, n.slot, hash, endpoint, t_recv_ns)
                {
                    Verdict::Duplicate { winner, lag_ns } => {
                        let f = self.publisher.control().feeder();
                        f.add(FeederCounter::Duplicates, 1);
                        f.endpoint_lag(endpoint, lag_ns);
                        let _ = winner;
                        return;
                    }
                    Verdict::First => {
                        self.publisher.control().feeder().endpoint_won(endpoint);
                    }
                }
                let mut buf = std::mem::take(&mut self.buf);
                match n.decode_data(&mut buf) {
                    Ok(data) => self.apply(account, n.slot, data, endpoint, t_recv_ns),
                    Err(e) => {
                        self.stats.decode_errors += 1;
                        self.bad_input(format_args!("endpoint {endpoint}: account data: {e}"));
                    }
                }
                self.buf = buf;
            }
        }
    }

    /// Decode account `account`'s data of `slot` and feed it to its pool.
    pub fn apply(&mut self, account: usize, slot: u64, data: &[u8], endpoint: u8, t_recv_ns: u64) {
        let Some(w) = self.accounts.get(account) else {
            return;
        };
        let (pool, kind, role) = (w.pool, w.kind, w.role);
        let update = match (role, kind) {
            (Role::VaultA, _) => token::amount(data).map(AccountUpdate::VaultA),
            (Role::VaultB, _) => token::amount(data).map(AccountUpdate::VaultB),
            (Role::Pool, PoolKind::RaydiumAmmV4) => AmmInfo::decode(data)
                .map(|a| AccountUpdate::Pool(PoolAccountState::from_amm_v4(&a))),
            (Role::Pool, PoolKind::RaydiumCpmm) => CpmmPoolState::decode(data)
                .map(|p| AccountUpdate::Pool(PoolAccountState::from_cpmm(&p))),
            (Role::Pool, PoolKind::OrcaWhirlpool) => Whirlpool::decode(data)
                .map(|w| AccountUpdate::Pool(PoolAccountState::from_whirlpool(&w))),
        };
        let update = match update {
            Ok(u) => u,
            Err(e) => {
                self.stats.decode_errors += 1;
                self.bad_input(format_args!("pool {pool} account {account}: {e}"));
                return;
            }
        };
        let Engine {
            publisher,
            assemblers,
            stats,
            ..
        } = self;
        let res =
            assemblers[pool].on_account(slot, update, endpoint, t_recv_ns, &mut |r: Ready| {
                if publisher.publish_pool(pool, &r.state, r.endpoint, r.t_recv_ns) {
                    stats.published += 1;
                }
            });
        if res.is_err() {
            self.stats.refused += 1;
            self.publisher
                .control()
                .feeder()
                .add(FeederCounter::StaleSlot, 1);
        }
    }

    /// Apply a refetch (account index order) from `endpoint`'s RPC.
    pub fn apply_refetch(&mut self, fetched: &[crate::rpc::Fetched], endpoint: u8) {
        let t = phantom_ringbuf::clock::monotonic_ns();
        for (account, (slot, data)) in fetched.iter().enumerate() {
            match data {
                Some(d) => self.apply(account, *slot, d, endpoint, t),
                None => self.log_limited(format_args!("refetch: account {account} does not exist")),
            }
        }
    }
}

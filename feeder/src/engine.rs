//! The feeder's core: frames from every endpoint in, pool states and market events out.
//!
//! Per frame: parse it ([`crate::pubsub`]); map its subscription back to the watched
//! account; drop copies another endpoint delivered first ([`crate::dedupe`]); decode the
//! account ([`crate::decode`]); assemble the pool under the two-vault rule
//! ([`crate::pool_state`]); publish ([`crate::publisher`]). Connection drops and returns
//! become `Gap` records; after a return the accounts are refetched over JSON-RPC so the table
//! is right again before trading resumes. Bad input is counted (and logged, rate-limited);
//! nothing in a frame can make this panic or stall.
//!
//! What an endpoint says is checked before it reaches a pool (docs/guarantees.md): every
//! slot against [`crate::slot_guard`], every account's owner against its pool's program (a
//! vault: SPL Token or Token-2022), every subscription reply against the requests sent (one
//! subscription per request and connection: the map never outgrows the watched accounts).
//! A refused update is counted per endpoint and asks for a refetch of that endpoint's
//! accounts ([`Engine::take_refetch_wanted`]), so the table does not keep a state the
//! refused update had replaced.

use crate::config::{Config, PoolKind};
use crate::decode::{
    token, AmmInfo, CpmmPoolState, Pubkey, Whirlpool, TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID,
};
use crate::dedupe::{data_hash, Dedupe, Verdict};
use crate::pool_state::{AccountUpdate, PoolAccountState, PoolAssembler, Ready};
use crate::publisher::Publisher;
use crate::pubsub::{self, Frame};
use crate::recording::FrameLog;
use crate::slot_guard::SlotGuard;
use crate::source::{FeedEvent, FRAME_TOO_LARGE};
use phantom_ringbuf::control::{EndpointCounter, FeederCounter};
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
    /// Base58 of the program that must own it (a vault: SPL Token; see [`Watched::owned_by`]).
    pub owner: String,
}

impl Watched {
    /// Whether `owner` (base58) may own this account: the pool's program for the pool
    /// account, SPL Token or Token-2022 for a vault.
    pub fn owned_by(&self, owner: &str) -> bool {
        match self.role {
            Role::Pool => owner == self.owner,
            Role::VaultA | Role::VaultB => {
                owner == TOKEN_PROGRAM_ID || owner == TOKEN_2022_PROGRAM_ID
            }
        }
    }

    /// What may own it, for messages.
    pub fn expected_owner(&self) -> String {
        match self.role {
            Role::Pool => self.owner.clone(),
            Role::VaultA | Role::VaultB => {
                format!("{TOKEN_PROGRAM_ID} (Token) or {TOKEN_2022_PROGRAM_ID} (Token-2022)")
            }
        }
    }

    fn what(&self) -> &'static str {
        match self.role {
            Role::Pool => "pool account",
            Role::VaultA => "vault A",
            Role::VaultB => "vault B",
        }
    }
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
            owner: p.program_id().to_string(),
        });
        if p.kind.priced_from_vaults() {
            if let Some([a, b]) = p.vaults {
                for (role, address) in [(Role::VaultA, a), (Role::VaultB, b)] {
                    out.push(Watched {
                        pool,
                        kind: p.kind,
                        role,
                        address,
                        owner: TOKEN_PROGRAM_ID.to_owned(),
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
    /// Updates and slots refused for a slot beyond the bound (all endpoints).
    pub slot_refused: u64,
    /// Accounts refused for the wrong owner (all endpoints).
    pub owner_refused: u64,
    /// Subscription replies refused (a second reply to one request, or an unknown request).
    pub subscription_replies_refused: u64,
    /// Connections dropped for a frame over `max_frame_bytes`.
    pub frames_too_large: u64,
    /// Pool states published.
    pub published: u64,
}

/// The subscriptions of one connection: at most one per request sent, so at most one per
/// watched account plus the slot subscription, whatever the endpoint replies.
#[derive(Debug, Default, Clone)]
struct Subscriptions {
    /// Subscription id -> account index.
    by_id: HashMap<u64, usize>,
    /// Account index -> its subscription id on this connection.
    by_account: Vec<Option<u64>>,
    /// The `slotSubscribe` reply's id.
    slot: Option<u64>,
}

impl Subscriptions {
    fn clear(&mut self) {
        self.by_id.clear();
        self.by_account.iter_mut().for_each(|s| *s = None);
        self.slot = None;
    }
}

/// Independent log rate limits, so a flood of one kind of refusal cannot hide another.
#[derive(Clone, Copy, Debug)]
enum LogKind {
    BadInput = 0,
    Slot = 1,
    Owner = 2,
    Subscription = 3,
    Other = 4,
}
const LOG_KINDS: usize = 5;

/// How an account state arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Via {
    Notification,
    Refetch,
}

impl Via {
    fn as_str(self) -> &'static str {
        match self {
            Via::Notification => "notification",
            Via::Refetch => "refetch",
        }
    }
}
/// The feeder core.
pub struct Engine {
    publisher: Publisher,
    assemblers: Vec<PoolAssembler>,
    accounts: Vec<Watched>,
    subs: Vec<Subscriptions>,
    dedupe: Dedupe,
    buf: Vec<u8>,
    max_frame_bytes: usize,
    stats: EngineStats,
    slot_guard: SlotGuard,
    /// Per endpoint: an update was refused since its last refetch began.
    refetch_wanted: Vec<bool>,
    /// Per log kind: when a line was last written, and lines suppressed since.
    last_log: [(u64, u64); LOG_KINDS],
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
            subs: vec![
                Subscriptions {
                    by_account: vec![None; accounts.len()],
                    ..Subscriptions::default()
                };
                config.feeder.endpoints.len()
            ],
            accounts,
            dedupe: Dedupe::new(crate::dedupe::HORIZON_SLOTS),
            buf: vec![0; MAX_ACCOUNT_BYTES],
            max_frame_bytes: config.feeder.max_frame_bytes,
            stats: EngineStats::default(),
            slot_guard: SlotGuard::new(config.feeder.endpoints.len(), config.feeder.max_slot_lead),
            refetch_wanted: vec![false; config.feeder.endpoints.len()],
            last_log: [(0, 0); LOG_KINDS],
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

    /// Endpoints whose accounts should be refetched because an update of theirs was
    /// refused (each reported once per refusal burst; the caller keeps one refetch in flight
    /// per endpoint).
    pub fn take_refetch_wanted(&mut self) -> impl Iterator<Item = u8> + '_ {
        self.refetch_wanted
            .iter_mut()
            .enumerate()
            .filter_map(|(i, w)| std::mem::take(w).then_some(i as u8))
    }

    fn log_limited(&mut self, kind: LogKind, msg: std::fmt::Arguments<'_>) {
        // At most one line per second and kind: a flood of bad frames must not become a
        // flood of logs, and one kind of flood must not hide another kind.
        let now = phantom_ringbuf::clock::monotonic_ns();
        let (last, suppressed) = &mut self.last_log[kind as usize];
        if *last == 0 || now.saturating_sub(*last) >= 1_000_000_000 {
            *last = now;
            if *suppressed > 0 {
                tracing::warn!("{msg} ({suppressed} more like it since the last line)");
            } else {
                tracing::warn!("{msg}");
            }
            *suppressed = 0;
        } else {
            *suppressed += 1;
        }
    }

    /// Count one piece of bad input in the control block and log it, rate-limited.
    fn bad_input(&mut self, msg: std::fmt::Arguments<'_>) {
        self.publisher
            .control()
            .feeder()
            .add(FeederCounter::DecodeErrors, 1);
        self.log_limited(LogKind::BadInput, msg);
    }

    fn count_endpoint(&self, c: EndpointCounter, endpoint: u8) {
        self.publisher
            .control()
            .feeder()
            .endpoint_count(c, endpoint);
    }

    /// Check `slot` from `endpoint`: `false` (counted, logged, refetch asked) if beyond the
    /// bound.
    fn slot_ok(&mut self, endpoint: u8, slot: u64, what: std::fmt::Arguments<'_>) -> bool {
        self.slot_ok_via(endpoint, slot, what, true)
    }

    fn slot_ok_via(
        &mut self,
        endpoint: u8,
        slot: u64,
        what: std::fmt::Arguments<'_>,
        ask_refetch: bool,
    ) -> bool {
        let now = phantom_ringbuf::clock::monotonic_ns();
        match self.slot_guard.check(endpoint, slot, now) {
            Ok(()) => true,
            Err(e) => {
                self.stats.slot_refused += 1;
                self.count_endpoint(EndpointCounter::SlotRefused, endpoint);
                if let Some(w) = self.refetch_wanted.get_mut(endpoint as usize) {
                    // A refused refetch answer must not start a refetch loop of its own.
                    *w |= ask_refetch;
                }
                self.log_limited(
                    LogKind::Slot,
                    format_args!("endpoint {endpoint}: slot refused ({what}): {e}"),
                );
                false
            }
        }
    }

    /// Check the owner of account `account` as `endpoint` reports it (`via` a notification
    /// or a refetch): `false` (counted, logged; for a notification, a refetch asked) if it is
    /// not the account's program.
    fn owner_ok(&mut self, endpoint: u8, account: usize, owner: &str, via: Via) -> bool {
        let Some(w) = self.accounts.get(account) else {
            return false;
        };
        if w.owned_by(owner) {
            return true;
        }
        let (pool, what, address, expected) = (w.pool, w.what(), w.address, w.expected_owner());
        self.stats.owner_refused += 1;
        self.count_endpoint(EndpointCounter::OwnerRefused, endpoint);
        if let Some(r) = self.refetch_wanted.get_mut(endpoint as usize) {
            // A lying RPC answer must not start a refetch loop of its own: only a refused
            // notification asks for one.
            *r |= via == Via::Notification;
        }
        let shown: String = owner.chars().take(64).collect();
        self.log_limited(
            LogKind::Owner,
            format_args!(
                "endpoint {endpoint}: owner refused ({}): pool {pool} {what} {address} \
                 is owned by {shown:?}, expected {expected}",
                via.as_str()
            ),
        );
        false
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
                if why.starts_with(FRAME_TOO_LARGE) {
                    self.stats.frames_too_large += 1;
                    self.count_endpoint(EndpointCounter::FramesTooLarge, endpoint);
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
                let n_accounts = self.accounts.len();
                let Some(subs) = self.subs.get_mut(endpoint as usize) else {
                    return;
                };
                let account = id.wrapping_sub(1);
                let refused = if account < n_accounts as u64 {
                    let have = &mut subs.by_account[account as usize];
                    match *have {
                        Some(first) => Some(format!("already subscribed as {first}")),
                        None if subs.by_id.contains_key(&subscription) => {
                            Some("subscription id already in use".to_owned())
                        }
                        None => {
                            *have = Some(subscription);
                            subs.by_id.insert(subscription, account as usize);
                            None
                        }
                    }
                } else if account == n_accounts as u64 {
                    match subs.slot {
                        Some(first) => Some(format!("already subscribed as {first}")),
                        None => {
                            subs.slot = Some(subscription);
                            None
                        }
                    }
                } else {
                    Some("no such request was sent".to_owned())
                };
                if let Some(why) = refused {
                    self.stats.subscription_replies_refused += 1;
                    self.count_endpoint(EndpointCounter::SubscriptionRepliesRefused, endpoint);
                    self.log_limited(
                        LogKind::Subscription,
                        format_args!(
                            "endpoint {endpoint}: subscription reply refused: request {id} \
                             (subscription {subscription}): {why}"
                        ),
                    );
                }
            }
            Frame::Unsubscribed { .. } => {}
            Frame::Error { id, code, message } => {
                let message: String = message.chars().take(200).collect();
                self.log_limited(
                    LogKind::Other,
                    format_args!("endpoint {endpoint}: error {code} for request {id:?}: {message}"),
                );
            }
            Frame::Slot { slot, .. } => {
                self.count_notification(endpoint, t_recv_ns, true);
                if !self.slot_ok(endpoint, slot, format_args!("slot notification")) {
                    return;
                }
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
                    .and_then(|m| m.by_id.get(&n.subscription))
                else {
                    self.stats.unknown_subscriptions += 1;
                    self.log_limited(
                        LogKind::Other,
                        format_args!(
                            "endpoint {endpoint}: notification for unknown subscription {}",
                            n.subscription
                        ),
                    );
                    return;
                };
                if !self.slot_ok(
                    endpoint,
                    n.slot,
                    format_args!("account notification, account {account}"),
                ) || !self.owner_ok(endpoint, account, &n.owner, Via::Notification)
                {
                    return;
                }
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

    /// Check the owners of a refetch (account index order) from `endpoint`'s RPC: an
    /// account owned by another program is counted, logged and left out (as if absent).
    pub fn check_refetch_owners(
        &mut self,
        endpoint: u8,
        fetched: Vec<crate::rpc::FetchedOwned>,
    ) -> Vec<crate::rpc::Fetched> {
        fetched
            .into_iter()
            .enumerate()
            .map(|(account, (slot, a))| match a {
                Some((owner, data)) if self.owner_ok(endpoint, account, &owner, Via::Refetch) => {
                    (slot, Some(data))
                }
                _ => (slot, None),
            })
            .collect()
    }

    /// Apply a refetch (account index order) from `endpoint`'s RPC.
    pub fn apply_refetch(&mut self, fetched: &[crate::rpc::Fetched], endpoint: u8) {
        let t = phantom_ringbuf::clock::monotonic_ns();
        for (account, (slot, data)) in fetched.iter().enumerate() {
            match data {
                Some(d) => {
                    let what = format_args!("refetch, account {account}");
                    if self.slot_ok_via(endpoint, *slot, what, false) {
                        self.apply(account, *slot, d, endpoint, t);
                    }
                }
                None => self.log_limited(
                    LogKind::Other,
                    format_args!("refetch: account {account} does not exist or was refused"),
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use phantom_ringbuf::names::segment_name;
    use phantom_ringbuf::records::{MarketUpdate, PoolState};
    use phantom_ringbuf::ring;
    use phantom_ringbuf::segment::{self, CreateOptions};
    use phantom_ringbuf::table::Table;

    const WHIRLPOOL: &str = "whirLbMiicVdio4qvUfM5KAg6Ct8VwpYzGff3uctyCc";

    struct Instance(String);

    impl Instance {
        fn new(tag: &str) -> Self {
            let name = format!("et{}{tag}", std::process::id());
            let o = CreateOptions::default();
            phantom_ringbuf::control::Control::create(&name, &o).unwrap();
            Table::<PoolState>::create(&segment_name(&name, "pools"), 4, &o).unwrap();
            ring::create::<MarketUpdate>(&segment_name(&name, "market"), 1024, &o).unwrap();
            Instance(name)
        }
    }

    impl Drop for Instance {
        fn drop(&mut self) {
            for role in phantom_ringbuf::names::ROLES {
                let _ = segment::remove(&segment_name(&self.0, role));
            }
        }
    }

    /// One Whirlpool and one AMM v4 pool, `endpoints` endpoints.
    fn config(endpoints: usize) -> Config {
        let mut text = String::from("[feeder]\nendpoints = [\n");
        for _ in 0..endpoints {
            text += "  { ws = \"ws://127.0.0.1:1/KEY\", rpc = \"http://127.0.0.1:2/KEY\" },\n";
        }
        text += "]\nmax_slot_lead = 150\n";
        text += &format!(
            "[[pools]]\nkind = \"orca_whirlpool\"\naddress = \"{}\"\ndecimals = [9, 6]\n",
            Pubkey([7; 32])
        );
        text += &format!(
            "[[pools]]\nkind = \"raydium_amm_v4\"\naddress = \"{}\"\nvaults = [\"{}\", \"{}\"]\n",
            Pubkey([8; 32]),
            Pubkey([9; 32]),
            Pubkey([10; 32])
        );
        Config::from_toml_str(&text).unwrap()
    }

    fn whirlpool_data(sqrt_price: u128) -> String {
        let w = Whirlpool {
            sqrt_price,
            liquidity: 1 << 40,
            tick_spacing: 64,
            fee_rate: 3000,
            ..Whirlpool::default()
        };
        base64::engine::general_purpose::STANDARD.encode(w.encode())
    }

    fn notification(sub: u64, slot: u64, owner: &str, data_b64: &str) -> String {
        format!(
            r#"{{"jsonrpc":"2.0","method":"accountNotification","params":{{"result":{{"context":{{"slot":{slot}}},"value":{{"lamports":1,"data":["{data_b64}","base64"],"owner":"{owner}","executable":false,"rentEpoch":0,"space":653}}}},"subscription":{sub}}}}}"#
        )
    }

    fn subscribed(id: u64, sub: u64) -> String {
        format!(r#"{{"jsonrpc":"2.0","result":{sub},"id":{id}}}"#)
    }

    fn engine(inst: &Instance, endpoints: usize) -> Engine {
        let mut e = Engine::new(
            &config(endpoints),
            Publisher::attach(&inst.0).expect("attach"),
        );
        for endpoint in 0..endpoints as u8 {
            // Whirlpool = account 0 (request id 1), subscription 100 + endpoint.
            e.on_frame(endpoint, 1, &subscribed(1, 100 + u64::from(endpoint)));
        }
        e
    }

    fn counter(e: &mut Engine, c: EndpointCounter, endpoint: u8) -> u64 {
        phantom_ringbuf::control::endpoint_counters(e.publisher.control().feeder_block(), c)
            [usize::from(endpoint)]
        .load(std::sync::atomic::Ordering::Relaxed)
    }

    fn sqrt_price_of(e: &mut Engine) -> u128 {
        let s = e.publisher().pool(0).unwrap();
        u128::from(s.sqrt_price_lo) | u128::from(s.sqrt_price_hi) << 64
    }

    #[test]
    fn one_lying_slot_is_refused_and_never_freezes_the_pool() {
        let inst = Instance::new("lie");
        let mut e = engine(&inst, 1);
        let s = 300_000_000;
        e.on_frame(
            0,
            2,
            &notification(100, s, WHIRLPOOL, &whirlpool_data(1 << 64)),
        );
        assert_eq!(sqrt_price_of(&mut e), 1 << 64);
        let lie = notification(100, 1 << 63, WHIRLPOOL, &whirlpool_data(5 << 64));
        e.on_frame(0, 3, &lie);
        assert_eq!(sqrt_price_of(&mut e), 1 << 64, "the lie is not applied");
        assert_eq!(e.stats().slot_refused, 1);
        assert_eq!(counter(&mut e, EndpointCounter::SlotRefused, 0), 1);
        assert_eq!(e.take_refetch_wanted().collect::<Vec<_>>(), vec![0]);
        assert_eq!(e.take_refetch_wanted().count(), 0, "asked once");
        // A lying slot notification is refused too, and does not end pending slots.
        e.on_frame(0, 4, r#"{"jsonrpc":"2.0","method":"slotNotification","params":{"result":{"parent":1,"root":1,"slot":18446744073709551615},"subscription":101}}"#);
        assert_eq!(e.stats().slot_refused, 2);
        // The next honest update applies: the pool is not frozen.
        e.on_frame(
            0,
            5,
            &notification(100, s + 1, WHIRLPOOL, &whirlpool_data(2 << 64)),
        );
        assert_eq!(sqrt_price_of(&mut e), 2 << 64);
        assert_eq!(e.publisher().pool(0).unwrap().last_slot, s + 1);
    }

    #[test]
    fn a_peer_bounds_a_new_endpoint_and_a_refused_copy_does_not_win_the_dedupe() {
        let inst = Instance::new("peer");
        let mut e = engine(&inst, 2);
        let s = 300_000_000;
        e.on_frame(
            0,
            1,
            &notification(100, s, WHIRLPOOL, &whirlpool_data(1 << 64)),
        );
        let data = whirlpool_data(3 << 64);
        e.on_frame(1, 2, &notification(101, s + 151, WHIRLPOOL, &data));
        assert_eq!(counter(&mut e, EndpointCounter::SlotRefused, 1), 1);
        assert_eq!(counter(&mut e, EndpointCounter::SlotRefused, 0), 0);
        e.on_frame(0, 3, &notification(100, s + 150, WHIRLPOOL, &data));
        assert_eq!(sqrt_price_of(&mut e), 3 << 64);
    }

    #[test]
    fn a_wrong_owner_is_refused_counted_and_asks_for_a_refetch() {
        let inst = Instance::new("owner");
        let mut e = engine(&inst, 1);
        let fake = "11111111111111111111111111111111";
        e.on_frame(0, 1, &notification(100, 10, fake, &whirlpool_data(1 << 64)));
        assert!(e.publisher().pool(0).is_none_or(|p| p.ready == 0));
        assert_eq!(e.stats().owner_refused, 1);
        assert_eq!(counter(&mut e, EndpointCounter::OwnerRefused, 0), 1);
        assert_eq!(e.take_refetch_wanted().collect::<Vec<_>>(), vec![0]);
        // The same data from the right owner is not a "duplicate" of the refused copy.
        e.on_frame(
            0,
            2,
            &notification(100, 10, WHIRLPOOL, &whirlpool_data(1 << 64)),
        );
        assert_eq!(sqrt_price_of(&mut e), 1 << 64);
        // A refetch answer with a wrong owner is left out (counted), not applied, and does
        // not ask for another refetch.
        let w = base64::engine::general_purpose::STANDARD
            .decode(whirlpool_data(9 << 64))
            .unwrap();
        let fetched = vec![(11, Some((fake.to_owned(), w.clone())))];
        let checked = e.check_refetch_owners(0, fetched);
        assert_eq!(checked, vec![(11, None)]);
        assert_eq!(counter(&mut e, EndpointCounter::OwnerRefused, 0), 2);
        assert_eq!(e.take_refetch_wanted().count(), 0);
        let checked = e.check_refetch_owners(0, vec![(11, Some((WHIRLPOOL.to_owned(), w)))]);
        e.apply_refetch(&checked, 0);
        assert_eq!(sqrt_price_of(&mut e), 9 << 64);
    }

    #[test]
    fn vaults_may_be_owned_by_token_or_token_2022_and_pools_by_their_program() {
        let accounts = watched_accounts(&config(1));
        let (pool, vault) = (&accounts[1], &accounts[2]);
        assert_eq!(vault.role, Role::VaultA);
        assert!(vault.owned_by(TOKEN_PROGRAM_ID) && vault.owned_by(TOKEN_2022_PROGRAM_ID));
        assert!(!vault.owned_by(crate::decode::RAYDIUM_AMM_V4_PROGRAM_ID));
        assert!(pool.owned_by(crate::decode::RAYDIUM_AMM_V4_PROGRAM_ID));
        assert!(!pool.owned_by(TOKEN_PROGRAM_ID) && !pool.owned_by(WHIRLPOOL));
        assert!(accounts[0].owned_by(WHIRLPOOL));
        // A configured program id replaces the mainnet one.
        let mut c = config(1);
        c.pools[0].program_id = Some(Pubkey([42; 32]));
        let w = &watched_accounts(&c)[0];
        assert!(w.owned_by(&Pubkey([42; 32]).to_string()) && !w.owned_by(WHIRLPOOL));
    }

    #[test]
    fn a_flood_of_subscription_replies_is_refused_and_the_map_stays_bounded() {
        let inst = Instance::new("flood");
        let mut e = engine(&inst, 1);
        for i in 0..100_000u64 {
            // Repeats for every request sent (accounts + slot), and unknown request ids.
            let id = 1 + i % 6;
            e.on_frame(0, 1, &subscribed(id, 1_000 + i));
        }
        let accounts = e.accounts().len();
        assert_eq!(accounts, 4);
        let subs = &e.subs[0];
        assert!(subs.by_id.len() <= accounts, "{}", subs.by_id.len());
        // Account 0 kept its first subscription; notifications on it still apply.
        assert_eq!(subs.by_account[0], Some(100));
        let refused = e.stats().subscription_replies_refused;
        // Accounts 1..=3 and the slot subscription took their first reply; the rest refused.
        assert_eq!(refused, 100_000 - 4);
        assert_eq!(
            counter(&mut e, EndpointCounter::SubscriptionRepliesRefused, 0),
            refused
        );
        e.on_frame(
            0,
            2,
            &notification(100, 5, WHIRLPOOL, &whirlpool_data(1 << 64)),
        );
        assert_eq!(sqrt_price_of(&mut e), 1 << 64);
        // A reconnect forgets the connection's subscriptions: the new replies are taken.
        e.on_event(FeedEvent::Disconnected {
            endpoint: 0,
            why: "closed".into(),
            retry_in: std::time::Duration::ZERO,
        });
        assert!(e.subs[0].by_id.is_empty());
        e.on_frame(0, 3, &subscribed(1, 7));
        assert_eq!(e.subs[0].by_account[0], Some(7));
    }

    #[test]
    fn a_drop_for_an_oversized_frame_is_counted_per_endpoint() {
        let inst = Instance::new("big");
        let mut e = engine(&inst, 2);
        e.on_event(FeedEvent::Disconnected {
            endpoint: 1,
            why: format!("{FRAME_TOO_LARGE} (1024): a frame of 9999 bytes refused"),
            retry_in: std::time::Duration::ZERO,
        });
        e.on_event(FeedEvent::Disconnected {
            endpoint: 1,
            why: "connection closed".into(),
            retry_in: std::time::Duration::ZERO,
        });
        assert_eq!(counter(&mut e, EndpointCounter::FramesTooLarge, 1), 1);
        assert_eq!(counter(&mut e, EndpointCounter::FramesTooLarge, 0), 0);
        assert_eq!(e.stats().frames_too_large, 1);
    }
}

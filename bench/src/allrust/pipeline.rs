//! The whole pipeline on one thread: a PubSub frame in, signed transactions out.
//!
//! Per frame, the feeder's steps with the feeder's code ([`phantom_feeder::pubsub`] parse,
//! subscription map, [`phantom_feeder::dedupe`], [`phantom_feeder::decode`],
//! [`PoolAssembler`] under the two-vault rule, and the publisher's stale-slot rule for the
//! pools table), then for every pool state published, at once, the strategy's kernel
//! ([`crate::allrust::arb`]) over the routes touching that pool, and for an intent the signer's
//! template path ([`RouteTemplate::sign_into`] of the `TradeFields` of the `OrderIntent`).
//! No channel, no ring, no other thread between them; each stage is timestamped.

use crate::allrust::arb::{ArbKernel, Intent};
use phantom_feeder::config::PoolKind;
use phantom_feeder::decode::{token, AmmInfo, CpmmPoolState, DecodeError, Whirlpool};
use phantom_feeder::dedupe::{data_hash, Dedupe, Verdict};
use phantom_feeder::engine::{Role, Watched, MAX_ACCOUNT_BYTES};
use phantom_feeder::pool_state::{AccountUpdate, PoolAccountState, PoolAssembler, Ready};
use phantom_feeder::pubsub::{self, Frame};
use phantom_ringbuf::clock::monotonic_ns;
use phantom_ringbuf::records::{OrderIntent, PoolState};
use phantom_ringbuf::schema::Record as _;
use phantom_signer::signing::Signer;
use phantom_signer::template::{RouteTemplate, SignError, TradeFields, PACKET_DATA_SIZE};
use std::collections::HashMap;

/// One signed transaction's timeline: `[frame_idx, t_recv_ns, t_decoded_ns, t_decision_ns,
/// t_signed_ns]`.
pub type Record = [u64; 5];

/// Counters of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Notification frames (account and slot) received.
    pub frames: u64,
    /// Pool states published from notification frames.
    pub ticks: u64,
    /// Intents the kernel produced.
    pub intents: u64,
    /// Transactions signed.
    pub signed: u64,
    /// Frames that failed to parse.
    pub bad_frames: u64,
    /// Account data that failed to decode.
    pub decode_errors: u64,
    /// Notifications for a subscription id not known.
    pub unknown_subscriptions: u64,
    /// JSON-RPC error frames.
    pub rpc_errors: u64,
    /// Intents whose template could not be signed.
    pub sign_errors: u64,
    /// Updates the assembler refused (older slot than the account's).
    pub refused: u64,
    /// Published states the pools table refused (older slot than the table's).
    pub stale: u64,
    /// Copies dropped by the dedupe.
    pub duplicates: u64,
    /// Pool states published by the initial refetch (not frames: no strategy run).
    pub refetch_ticks: u64,
}

impl Counters {
    /// Everything that went wrong.
    pub fn errors(&self) -> u64 {
        self.bad_frames
            + self.decode_errors
            + self.unknown_subscriptions
            + self.rpc_errors
            + self.sign_errors
    }
}

/// What a frame was, for the caller's bookkeeping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameKind {
    /// A subscription confirmation for request `id`.
    Subscribed(u64),
    /// A JSON-RPC error for request `id`.
    Error(Option<u64>),
    /// An account or slot notification.
    Notification,
    /// Anything else (unsubscribe answers, unparseable frames).
    Other,
}

/// The strategy and signer half: the pools table, the kernel, the templates, the key.
pub struct Core {
    pools: Vec<PoolState>,
    kernel: ArbKernel,
    templates: Vec<RouteTemplate>,
    signer: Signer,
    blockhash: [u8; 32],
    wire: [u8; PACKET_DATA_SIZE],
    records: Vec<Record>,
    txs: Vec<Vec<u8>>,
    dump_tx: usize,
    counters: Counters,
}

/// The `OrderIntent` the numba runtime would publish for `intent` (the fields the kernel
/// writes; the runtime's sequence numbers and stamps play no part in the transaction).
pub fn order_intent(intent: &Intent) -> OrderIntent {
    let mut o = OrderIntent::zeroed();
    o.route_id = intent.route_id;
    o.amount_in = intent.amount_in;
    o.min_out = intent.min_out;
    o.cu_price_micro_lamports = intent.cu_price_micro_lamports;
    o.tip_lamports = intent.tip_lamports;
    o.expected_profit = intent.expected_profit;
    o.flags = 0;
    o.tick_array_variant = intent.tick_array_variant;
    o
}

/// Patches and signs the route's template for `intent` exactly as the signer does (its
/// `TradeFields` from the `OrderIntent`); the wire length.
pub fn sign_intent(
    templates: &mut [RouteTemplate],
    intent: &Intent,
    blockhash: &[u8; 32],
    signer: &mut Signer,
    wire: &mut [u8],
) -> Result<usize, SignError> {
    let fields = TradeFields::from(&order_intent(intent));
    let Some(template) = templates.get_mut(intent.route_id as usize) else {
        return Err(SignError::NoSuchVariant {
            variant: fields.variant,
            count: 0,
        });
    };
    template.sign_into(&fields, blockhash, signer, wire)
}

impl Core {
    /// A core for `n_pools` pools; keeps the first `dump_tx` transactions' wire bytes and
    /// preallocates room for `records` records.
    pub fn new(
        n_pools: usize,
        kernel: ArbKernel,
        templates: Vec<RouteTemplate>,
        signer: Signer,
        blockhash: [u8; 32],
        dump_tx: usize,
        records: usize,
    ) -> Self {
        let mut recs = vec![[0u64; 5]; records];
        recs.clear(); // keeps the (touched) capacity: no page faults on the hot path
        Core {
            pools: vec![PoolState::zeroed(); n_pools],
            kernel,
            templates,
            signer,
            blockhash,
            wire: [0; PACKET_DATA_SIZE],
            records: recs,
            txs: Vec::with_capacity(dump_tx),
            dump_tx,
            counters: Counters::default(),
        }
    }

    /// A pool state the assembler published; `frame` is `(frame_idx, t_recv_ns)` of the
    /// notification that completed it (`None`: the refetch).
    fn on_publish(&mut self, pool: usize, r: &Ready, frame: Option<(u64, u64)>) {
        let Some(current) = self.pools.get(pool) else {
            return;
        };
        // The publisher's rule: a state older than the table's is refused.
        if current.ready != 0 && r.state.last_slot < current.last_slot {
            self.counters.stale += 1;
            return;
        }
        let t_decoded = monotonic_ns();
        let mut s = r.state;
        s.t_recv_ns = r.t_recv_ns;
        s.t_pub_ns = t_decoded;
        s.ready = 1;
        self.pools[pool] = s;
        let Some((frame_idx, t_recv)) = frame else {
            self.counters.refetch_ticks += 1;
            return;
        };
        self.counters.ticks += 1;
        let Some(intent) = self.kernel.on_pool_update(pool as u32, &self.pools) else {
            return;
        };
        let t_decision = monotonic_ns();
        self.counters.intents += 1;
        match sign_intent(
            &mut self.templates,
            &intent,
            &self.blockhash,
            &mut self.signer,
            &mut self.wire,
        ) {
            Ok(len) => {
                let t_signed = monotonic_ns();
                self.counters.signed += 1;
                self.records
                    .push([frame_idx, t_recv, t_decoded, t_decision, t_signed]);
                if self.txs.len() < self.dump_tx {
                    self.txs.push(self.wire[..len].to_vec());
                }
            }
            Err(_) => self.counters.sign_errors += 1,
        }
    }
}

/// Decodes watched account `w`'s data into the assembler's update, as the feeder's engine
/// does for each (role, kind).
pub fn decode_update(w: &Watched, data: &[u8]) -> Result<AccountUpdate, DecodeError> {
    match (w.role, w.kind) {
        (Role::VaultA, _) => token::amount(data).map(AccountUpdate::VaultA),
        (Role::VaultB, _) => token::amount(data).map(AccountUpdate::VaultB),
        (Role::Pool, PoolKind::RaydiumAmmV4) => {
            AmmInfo::decode(data).map(|a| AccountUpdate::Pool(PoolAccountState::from_amm_v4(&a)))
        }
        (Role::Pool, PoolKind::RaydiumCpmm) => CpmmPoolState::decode(data)
            .map(|p| AccountUpdate::Pool(PoolAccountState::from_cpmm(&p))),
        (Role::Pool, PoolKind::OrcaWhirlpool) => Whirlpool::decode(data)
            .map(|p| AccountUpdate::Pool(PoolAccountState::from_whirlpool(&p))),
    }
}

/// The feeder half (one endpoint) and the [`Core`].
pub struct Pipeline {
    accounts: Vec<Watched>,
    subs: HashMap<u64, usize>,
    dedupe: Dedupe,
    assemblers: Vec<PoolAssembler>,
    buf: Vec<u8>,
    max_frame_bytes: usize,
    core: Core,
}

impl Pipeline {
    /// A pipeline for `config`'s pools (accounts as `watched_accounts` lists them).
    pub fn new(config: &phantom_feeder::config::Config, core: Core) -> Self {
        Pipeline {
            accounts: phantom_feeder::engine::watched_accounts(config),
            subs: HashMap::new(),
            dedupe: Dedupe::new(phantom_feeder::dedupe::HORIZON_SLOTS),
            assemblers: config.pools.iter().map(PoolAssembler::new).collect(),
            buf: vec![0; MAX_ACCOUNT_BYTES],
            max_frame_bytes: config.feeder.max_frame_bytes,
            core,
        }
    }

    /// The watched accounts (account index = position).
    pub fn accounts(&self) -> &[Watched] {
        &self.accounts
    }

    /// Counters so far.
    pub fn counters(&self) -> Counters {
        self.core.counters
    }

    /// The records of the signed transactions.
    pub fn records(&self) -> &[Record] {
        &self.core.records
    }

    /// Wire bytes of the first `dump_tx` signed transactions.
    pub fn txs(&self) -> &[Vec<u8>] {
        &self.core.txs
    }

    /// The current pools table.
    pub fn pools(&self) -> &[PoolState] {
        &self.core.pools
    }

    /// One text frame, read at `t_recv_ns`.
    pub fn on_frame(&mut self, text: &str, t_recv_ns: u64) -> FrameKind {
        let frame = match pubsub::parse_frame(text, self.max_frame_bytes) {
            Ok(f) => f,
            Err(_) => {
                self.core.counters.bad_frames += 1;
                return FrameKind::Other;
            }
        };
        match frame {
            Frame::Subscribed { id, subscription } => {
                let account = id.wrapping_sub(1) as usize;
                if account < self.accounts.len() {
                    self.subs.insert(subscription, account);
                }
                FrameKind::Subscribed(id)
            }
            Frame::Unsubscribed { .. } => FrameKind::Other,
            Frame::Error { id, .. } => {
                self.core.counters.rpc_errors += 1;
                FrameKind::Error(id)
            }
            Frame::Slot { slot, .. } => {
                let frame_idx = self.next_frame();
                let Pipeline {
                    assemblers, core, ..
                } = self;
                for (pool, a) in assemblers.iter_mut().enumerate() {
                    a.on_slot(slot, &mut |r: Ready| {
                        core.on_publish(pool, &r, Some((frame_idx, t_recv_ns)))
                    });
                }
                FrameKind::Notification
            }
            Frame::Account(n) => {
                let frame_idx = self.next_frame();
                let Some(&account) = self.subs.get(&n.subscription) else {
                    self.core.counters.unknown_subscriptions += 1;
                    return FrameKind::Notification;
                };
                let hash = data_hash(n.data_base64.as_bytes());
                if let Verdict::Duplicate { .. } =
                    self.dedupe
                        .observe(account as u32, n.slot, hash, 0, t_recv_ns)
                {
                    self.core.counters.duplicates += 1;
                    return FrameKind::Notification;
                }
                let mut buf = std::mem::take(&mut self.buf);
                match n.decode_data(&mut buf) {
                    Ok(data) => self.apply(account, n.slot, data, t_recv_ns, Some(frame_idx)),
                    Err(_) => self.core.counters.decode_errors += 1,
                }
                self.buf = buf;
                FrameKind::Notification
            }
        }
    }

    fn next_frame(&mut self) -> u64 {
        let i = self.core.counters.frames;
        self.core.counters.frames += 1;
        i
    }

    /// Account `account`'s data of `slot` into its pool's assembler; what it publishes goes
    /// to the strategy (when it came from frame `frame_idx`).
    fn apply(
        &mut self,
        account: usize,
        slot: u64,
        data: &[u8],
        t_recv_ns: u64,
        frame_idx: Option<u64>,
    ) {
        let Some(w) = self.accounts.get(account) else {
            return;
        };
        let pool = w.pool;
        let update = match decode_update(w, data) {
            Ok(u) => u,
            Err(_) => {
                self.core.counters.decode_errors += 1;
                return;
            }
        };
        let frame = frame_idx.map(|i| (i, t_recv_ns));
        let Pipeline {
            assemblers, core, ..
        } = self;
        let res = assemblers[pool].on_account(slot, update, 0, t_recv_ns, &mut |r: Ready| {
            core.on_publish(pool, &r, frame)
        });
        if res.is_err() {
            self.core.counters.refused += 1;
        }
    }

    /// The getMultipleAccounts refetch (account index order), as the feeder applies it.
    pub fn apply_refetch(&mut self, fetched: &[phantom_feeder::rpc::Fetched]) {
        let t = monotonic_ns();
        for (account, (slot, data)) in fetched.iter().enumerate() {
            if let Some(d) = data {
                self.apply(account, *slot, d, t, None);
            }
        }
    }
}

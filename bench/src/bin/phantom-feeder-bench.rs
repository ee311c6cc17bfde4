//! `phantom-feeder-bench [--frames N] [--consumer inline|thread|both] ...`: the feeder's
//! ingest path on one core, printed as one JSON object.
//!
//! A stream of `accountNotification` text frames for the SPL token vaults of the configured
//! pools, byte for byte as a node (and `feeder/sim/src/pubsub.rs::account_notification`) writes
//! them, the amount changing on every frame (so dedupe keeps them all) and the slot
//! advancing every `--slot-every` frames (with a `slotNotification`, as the feeder
//! subscribes to slots), goes through the real [`Engine`] (`on_frame`: parse, dedupe, base64,
//! decode, two-vault assembly, publish) into real shared-memory segments: the `market` ring,
//! the `pools` table and the control block, under a private instance name, removed at exit.
//!
//! `t_recv_ns` is taken right before each frame is handed to the engine; `t_pub_ns` is read
//! back from the published `MarketUpdate` records, so `t_pub_ns - t_recv_ns` is the feeder's
//! own latency per published pool update (p50/p99/max, hdrhistogram).
//!
//! Two ways to drain the ring, both measured (`--consumer both`, the default):
//! * `inline`: the engine's thread pops the ring in batches every `--drain-every` frames,
//!   inside the timed loop (one core does all the work; the ring never overflows);
//! * `thread`: a second thread pops concurrently (the real layout: the strategy drains the
//!   ring on its own core); the engine thread only ingests.
//!
//! Frames are generated in chunks outside the timed region. `--dump-frames FILE` writes the
//! first `--dump-count` account notification frames of the stream, one per line, for the
//! Python baseline (`phantom_bench.feeder`).

use clap::Parser;
use hdrhistogram::Histogram;
use phantom_feeder::config::{Config, PoolKind};
use phantom_feeder::decode::{
    token, AmmInfo, CpmmPoolState, Pubkey, TokenAccount, TokenAccountState, Whirlpool,
    TOKEN_PROGRAM_ID,
};
use phantom_feeder::engine::{Engine, Role};
use phantom_feeder::publisher::Publisher;
use phantom_ringbuf::clock::monotonic_ns;
use phantom_ringbuf::names::{segment_name, validate_instance};
use phantom_ringbuf::records::{market_kind, MarketUpdate, PoolState};
use phantom_ringbuf::ring::{self, Consumer};
use phantom_ringbuf::segment::{self, CreateOptions};
use phantom_ringbuf::table::Table;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use base64::Engine as _;

#[derive(Parser, Debug)]
#[command(
    name = "phantom-feeder-bench",
    about = "Feeder ingest benchmark: frames decoded and published per second on one core"
)]
struct Args {
    /// Account notification frames per measured run.
    #[arg(long, default_value_t = 1_000_000)]
    frames: u64,
    /// Frames fed before measuring (same stream, not counted).
    #[arg(long, default_value_t = 50_000)]
    warmup: u64,
    /// Pools generated when no --config is given (alternately Raydium AMM v4 and CPMM).
    #[arg(long, default_value_t = 8)]
    pools: usize,
    /// Read the pools from this instance config instead (only pools with vaults are fed).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Account notifications per slot (a slotNotification frame starts each slot).
    #[arg(long, default_value_t = 64)]
    slot_every: u64,
    /// How the market ring is drained: inline, thread, or both (one run each).
    #[arg(long, default_value = "both", value_parser = ["inline", "thread", "both"])]
    consumer: String,
    /// Inline consumer: drain the ring after this many frames.
    #[arg(long, default_value_t = 64)]
    drain_every: u64,
    /// Market ring capacity (power of two).
    #[arg(long, default_value_t = 1 << 16)]
    ring_capacity: u32,
    /// Instance name of the segments (default: a private one); they are removed at exit.
    #[arg(long)]
    instance: Option<String>,
    /// Write the first --dump-count account notification frames here, one per line.
    #[arg(long)]
    dump_frames: Option<PathBuf>,
    /// How many frames --dump-frames writes.
    #[arg(long, default_value_t = 20_000)]
    dump_count: u64,
}

/// Frames generated per chunk (outside the timed region).
const CHUNK: u64 = 8192;
const FIRST_SLOT: u64 = 300_000_000;
const VAULT_LAMPORTS: u64 = 2_039_280;

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("phantom-feeder-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn generated_config(pools: usize) -> String {
    let key = |tag: u8, i: usize| Pubkey([tag.wrapping_add(i as u8); 32]).to_string();
    let mut s = String::from(
        "[feeder]\nendpoints = [{ ws = \"ws://127.0.0.1:8900\", rpc = \"http://127.0.0.1:8899\" }]\n",
    );
    for i in 0..pools {
        let (pool, a, b) = (key(1, i * 3), key(2, i * 3), key(3, i * 3));
        if i % 2 == 0 {
            s += &format!(
                "[[pools]]\nkind = \"raydium_amm_v4\"\naddress = \"{pool}\"\nvaults = [\"{a}\", \"{b}\"]\n"
            );
        } else {
            s += &format!(
                "[[pools]]\nkind = \"raydium_cpmm\"\naddress = \"{pool}\"\nvaults = [\"{a}\", \"{b}\"]\n\
                 fee_numerator = 2500\nfee_denominator = 1000000\n"
            );
        }
    }
    s
}

/// The bench's segments; removed on drop (every exit path, panics included).
struct Segments(String);

impl Segments {
    fn create(instance: &str, pools: u32, ring_capacity: u32) -> Result<Self, String> {
        validate_instance(instance).map_err(|e| e.to_string())?;
        let s = Segments(instance.to_owned());
        let o = CreateOptions {
            instance: instance.to_owned(),
            ..CreateOptions::default()
        };
        let err = |e: segment::SegmentError| e.to_string();
        drop(phantom_ringbuf::control::Control::create(instance, &o).map_err(err)?);
        drop(Table::<PoolState>::create(&segment_name(instance, "pools"), pools, &o).map_err(err)?);
        drop(
            ring::create::<MarketUpdate>(&segment_name(instance, "market"), ring_capacity, &o)
                .map_err(err)?,
        );
        Ok(s)
    }
}

impl Drop for Segments {
    fn drop(&mut self) {
        for role in phantom_ringbuf::names::ROLES {
            let _ = segment::remove(&segment_name(&self.0, role));
        }
    }
}

/// One fed account: its subscription and, for vaults, the token account bytes.
struct Vault {
    subscription: u64,
    base_amount: u64,
    bytes: [u8; token::LEN],
}

/// The frame stream: the same bytes whatever the consumer mode.
struct Stream {
    vaults: Vec<Vault>,
    slot_every: u64,
    b64: String,
}

impl Stream {
    fn slot_of(&self, k: u64) -> u64 {
        FIRST_SLOT + 1 + k / self.slot_every
    }

    /// Account notification `k` of the stream (vaults in turn, a new amount every time).
    fn account_frame(&mut self, k: u64) -> String {
        let i = (k % self.vaults.len() as u64) as usize;
        let slot = self.slot_of(k);
        let v = &mut self.vaults[i];
        let amount = v.base_amount + k;
        v.bytes[token::AMOUNT_OFFSET..token::AMOUNT_OFFSET + 8]
            .copy_from_slice(&amount.to_le_bytes());
        self.b64.clear();
        base64::engine::general_purpose::STANDARD.encode_string(v.bytes, &mut self.b64);
        account_notification(
            v.subscription,
            slot,
            VAULT_LAMPORTS,
            &self.b64,
            TOKEN_PROGRAM_ID,
            token::LEN,
        )
    }
}

/// As `feeder/sim/src/pubsub.rs::account_notification` writes it (and a node does).
fn account_notification(
    sub: u64,
    slot: u64,
    lamports: u64,
    data_b64: &str,
    owner: &str,
    space: usize,
) -> String {
    format!(
        concat!(
            r#"{{"jsonrpc":"2.0","method":"accountNotification","params":{{"result":{{"context":{{"slot":{}}},"#,
            r#""value":{{"lamports":{},"data":["{}","base64"],"owner":"{}","executable":false,"rentEpoch":18446744073709551615,"space":{}}}}},"subscription":{}}}}}"#
        ),
        slot, lamports, data_b64, owner, space, sub
    )
}

/// As `feeder/sim/src/pubsub.rs::slot_notification`.
fn slot_notification(sub: u64, slot: u64) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","method":"slotNotification","params":{{"result":{{"parent":{},"root":{},"slot":{}}},"subscription":{}}}}}"#,
        slot.saturating_sub(1),
        slot.saturating_sub(32),
        slot,
        sub
    )
}

fn subscription_of(account: usize) -> u64 {
    7_000 + account as u64
}

fn pool_account_bytes(kind: PoolKind) -> Vec<u8> {
    match kind {
        PoolKind::RaydiumAmmV4 => {
            let mut a = AmmInfo {
                status: 6,
                coin_decimals: 9,
                pc_decimals: 6,
                ..AmmInfo::default()
            };
            a.fees.swap_fee_numerator = 25;
            a.fees.swap_fee_denominator = 10_000;
            a.fees.trade_fee_numerator = 25;
            a.fees.trade_fee_denominator = 10_000;
            a.encode().to_vec()
        }
        PoolKind::RaydiumCpmm => CpmmPoolState {
            mint_0_decimals: 9,
            mint_1_decimals: 6,
            ..CpmmPoolState::default()
        }
        .encode()
        .to_vec(),
        PoolKind::OrcaWhirlpool => Whirlpool {
            tick_spacing: 64,
            fee_rate: 3000,
            liquidity: 1 << 60,
            sqrt_price: 1 << 64,
            ..Whirlpool::default()
        }
        .encode()
        .to_vec(),
    }
}

fn owner_of(kind: PoolKind) -> &'static str {
    match kind {
        PoolKind::RaydiumAmmV4 => phantom_feeder::decode::RAYDIUM_AMM_V4_PROGRAM_ID,
        PoolKind::RaydiumCpmm => phantom_feeder::decode::RAYDIUM_CPMM_PROGRAM_ID,
        PoolKind::OrcaWhirlpool => phantom_feeder::decode::ORCA_WHIRLPOOL_PROGRAM_ID,
    }
}

/// Counters at one moment, to take differences.
#[derive(Clone, Copy, Default)]
struct Counts {
    notifications: u64,
    decode_errors: u64,
    duplicates: u64,
    stale: u64,
    overflows: u64,
    resyncs: u64,
    published: u64,
    bad_frames: u64,
    unknown: u64,
    refused: u64,
}

fn counts(engine: &mut Engine) -> Counts {
    let s = engine.stats();
    let c = engine.publisher().control().feeder_block();
    let l = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    Counts {
        notifications: l(&c.feeder_notifications),
        decode_errors: s.decode_errors,
        duplicates: l(&c.feeder_duplicates),
        stale: l(&c.feeder_stale_slot),
        overflows: l(&c.feeder_overflows),
        resyncs: l(&c.feeder_resyncs),
        published: s.published,
        bad_frames: s.bad_frames,
        unknown: s.unknown_subscriptions,
        refused: s.refused,
    }
}

/// What the consumer saw: records whose `t_recv_ns` is at or after `from_ns` (the start of
/// the measured run; warmup records are drained but not counted).
struct Drained {
    from_ns: Arc<AtomicU64>,
    hist: Histogram<u64>,
    pool_updates: u64,
    slots: u64,
    other: u64,
}

impl Drained {
    fn new(from_ns: Arc<AtomicU64>) -> Result<Self, String> {
        Ok(Drained {
            from_ns,
            hist: Histogram::new_with_bounds(1, 3_600_000_000_000, 3).map_err(|e| e.to_string())?,
            pool_updates: 0,
            slots: 0,
            other: 0,
        })
    }

    /// Pop everything available; returns how many records were popped.
    fn drain(&mut self, rx: &mut Consumer<MarketUpdate>) -> u64 {
        let mut n = 0;
        loop {
            // Loaded after the ring's Acquire: a record published after the store of the
            // start time sees it.
            let Drained {
                from_ns,
                hist,
                pool_updates,
                slots,
                other,
            } = self;
            let k = rx.pop_batch_with(1024, |u, _| {
                if u.t_recv_ns < from_ns.load(Ordering::Acquire) {
                    return;
                }
                match u.kind {
                    market_kind::POOL_UPDATE => {
                        *pool_updates += 1;
                        hist.saturating_record(u.t_pub_ns.saturating_sub(u.t_recv_ns));
                    }
                    market_kind::SLOT => *slots += 1,
                    _ => *other += 1,
                }
            });
            if k == 0 {
                return n;
            }
            n += k;
        }
    }
}

fn run_mode(
    mode: &str,
    config: &Config,
    instance: &str,
    args: &Args,
    dump: &mut Option<std::io::BufWriter<std::fs::File>>,
) -> Result<serde_json::Value, String> {
    let segs = Segments::create(
        instance,
        config.pools.len().max(1) as u32,
        args.ring_capacity,
    )?;
    let publisher = Publisher::attach(&segs.0).map_err(|e| e.to_string())?;
    let mut engine = Engine::new(config, publisher);
    let mut rx = Consumer::<MarketUpdate>::attach(&segment_name(&segs.0, "market"), None)
        .map_err(|e| e.to_string())?;
    let accounts = engine.accounts().to_vec();

    // Prologue (not measured): confirm every subscription, then every pool account and both
    // vaults of every pool at the first slot, so every pool is complete.
    let mut prologue = Vec::new();
    for i in 0..accounts.len() {
        prologue.push(format!(
            r#"{{"jsonrpc":"2.0","result":{},"id":{}}}"#,
            subscription_of(i),
            i + 1
        ));
    }
    let slot_sub = accounts.len() as u64 + 1;
    prologue.push(slot_notification(slot_sub, FIRST_SLOT));
    let mut vaults = Vec::new();
    for (i, w) in accounts.iter().enumerate() {
        let (bytes, owner) = match w.role {
            Role::Pool => (pool_account_bytes(w.kind), owner_of(w.kind)),
            Role::VaultA | Role::VaultB => {
                let base_amount = 1_000_000_000_000 + (i as u64) * 1_000_000;
                let t = TokenAccount {
                    mint: Pubkey([200u8.wrapping_add(i as u8); 32]),
                    owner: Pubkey([100u8.wrapping_add(w.pool as u8); 32]),
                    amount: base_amount,
                    delegate: None,
                    state: TokenAccountState::Initialized,
                    is_native: None,
                    delegated_amount: 0,
                    close_authority: None,
                };
                vaults.push(Vault {
                    subscription: subscription_of(i),
                    base_amount,
                    bytes: t.encode(),
                });
                (t.encode().to_vec(), TOKEN_PROGRAM_ID)
            }
        };
        let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
        prologue.push(account_notification(
            subscription_of(i),
            FIRST_SLOT,
            VAULT_LAMPORTS,
            &b64,
            owner,
            bytes.len(),
        ));
    }
    if vaults.is_empty() {
        return Err("no pool has vaults: nothing to feed".into());
    }
    let vault_pools = vaults.len() / 2;
    for f in &prologue {
        engine.on_frame(0, monotonic_ns(), f);
    }
    let prologue_counts = counts(&mut engine);
    if prologue_counts.published < vault_pools as u64 || prologue_counts.decode_errors != 0 {
        return Err(format!(
            "the prologue published {} pool states for {} pools ({} decode errors)",
            prologue_counts.published, vault_pools, prologue_counts.decode_errors
        ));
    }
    let mut stream = Stream {
        vaults,
        slot_every: args.slot_every.max(1),
        b64: String::with_capacity(256),
    };

    let from_ns = Arc::new(AtomicU64::new(u64::MAX));
    let stop = Arc::new(AtomicBool::new(false));
    let mut drained = Drained::new(from_ns.clone())?;
    drained.drain(&mut rx);
    let (consumer, mut inline) = if mode == "thread" {
        let stop = stop.clone();
        let mut d = drained;
        let mut rx = rx;
        let h = std::thread::spawn(move || loop {
            if d.drain(&mut rx) == 0 {
                if stop.load(Ordering::Acquire) && rx.available() == 0 {
                    return d;
                }
                std::hint::spin_loop();
            }
        });
        (Some(h), None)
    } else {
        (None, Some((drained, rx)))
    };

    // Warmup then the measured run, one stream; each slot starts with a slotNotification.
    let total = args.warmup + args.frames;
    let mut chunk: Vec<String> = Vec::with_capacity(CHUNK as usize * 2);
    let (mut busy_ns, mut k, mut slot_frames, mut fed) = (0u64, 0u64, 0u64, 0u64);
    let mut measured_from = counts(&mut engine);
    let drain_every = args.drain_every.max(1) as usize;
    while k < total {
        if k == args.warmup {
            if let Some((d, rx)) = inline.as_mut() {
                d.drain(rx);
            }
            measured_from = counts(&mut engine);
            (busy_ns, slot_frames, fed) = (0, 0, 0);
            from_ns.store(monotonic_ns(), Ordering::Release);
        }
        // Generate the next chunk (not timed), never across the warmup boundary.
        chunk.clear();
        let end = if k < args.warmup {
            args.warmup.min(k + CHUNK)
        } else {
            total.min(k + CHUNK)
        };
        for j in k..end {
            if j % stream.slot_every == 0 {
                chunk.push(slot_notification(slot_sub, stream.slot_of(j)));
                slot_frames += 1;
            }
            let f = stream.account_frame(j);
            if let Some(w) = dump.as_mut() {
                if j >= args.warmup && j - args.warmup < args.dump_count {
                    writeln!(w, "{f}").map_err(|e| format!("--dump-frames: {e}"))?;
                }
            }
            chunk.push(f);
        }
        let t0 = monotonic_ns();
        match inline.as_mut() {
            Some((d, rx)) => {
                for (n, f) in chunk.iter().enumerate() {
                    engine.on_frame(0, monotonic_ns(), f);
                    if (n + 1) % drain_every == 0 {
                        d.drain(rx);
                    }
                }
                d.drain(rx);
            }
            None => {
                for f in &chunk {
                    engine.on_frame(0, monotonic_ns(), f);
                }
            }
        }
        busy_ns += monotonic_ns() - t0;
        fed += chunk.len() as u64;
        k = end;
    }
    stop.store(true, Ordering::Release);
    let drained = match (consumer, inline) {
        (Some(h), _) => h.join().map_err(|_| "the consumer thread panicked")?,
        (None, Some((mut d, mut rx))) => {
            d.drain(&mut rx);
            d
        }
        (None, None) => return Err("no consumer".into()),
    };
    let end = counts(&mut engine);
    let d = |f: fn(&Counts) -> u64| f(&end) - f(&measured_from);
    let notifications = d(|c| c.notifications);
    let published = d(|c| c.published);
    let secs = (busy_ns as f64 / 1e9).max(1e-9);
    let h = &drained.hist;
    let lat = serde_json::json!({
        "samples": h.len(),
        "p50_ns": h.value_at_quantile(0.5),
        "p99_ns": h.value_at_quantile(0.99),
        "p999_ns": h.value_at_quantile(0.999),
        "max_ns": h.max(),
        "mean_ns": (h.mean() * 10.0).round() / 10.0,
    });
    Ok(serde_json::json!({
        "consumer": mode,
        "frames_fed": fed,
        "account_frames": fed - slot_frames,
        "slot_frames": slot_frames,
        "notifications": notifications,
        "pool_updates_published": published,
        "ring_pool_updates": drained.pool_updates,
        "ring_slot_events": drained.slots,
        "ring_other_events": drained.other,
        "bad_frames": d(|c| c.bad_frames),
        "decode_errors": d(|c| c.decode_errors),
        "unknown_subscriptions": d(|c| c.unknown),
        "duplicates": d(|c| c.duplicates),
        "refused": d(|c| c.refused),
        "stale_slot": d(|c| c.stale),
        "overflows": d(|c| c.overflows),
        "resyncs": d(|c| c.resyncs),
        "busy_s": (secs * 1e6).round() / 1e6,
        "frames_per_s": (fed as f64 / secs).round(),
        "notifications_per_s": (notifications as f64 / secs).round(),
        "pool_updates_per_s": (published as f64 / secs).round(),
        "ns_per_frame": ((secs * 1e9 / fed.max(1) as f64) * 10.0).round() / 10.0,
        "t_pub_minus_t_recv": lat,
    }))
}

fn run(args: &Args) -> Result<String, String> {
    let (config, source) = match &args.config {
        Some(p) => (
            Config::load(p).map_err(|e| e.to_string())?,
            p.display().to_string(),
        ),
        None => (
            Config::from_toml_str(&generated_config(args.pools.max(1)))
                .map_err(|e| e.to_string())?,
            format!("generated: {} pools", args.pools.max(1)),
        ),
    };
    let vault_pools = config
        .pools
        .iter()
        .filter(|p| p.vaults.is_some() && p.kind.priced_from_vaults())
        .count();
    let base = args
        .instance
        .clone()
        .unwrap_or_else(|| format!("fbench{}", std::process::id()));
    let modes: &[&str] = match args.consumer.as_str() {
        "inline" => &["inline"],
        "thread" => &["thread"],
        _ => &["inline", "thread"],
    };
    let mut dump = match &args.dump_frames {
        Some(p) => Some(std::io::BufWriter::new(
            std::fs::File::create(p).map_err(|e| format!("--dump-frames {}: {e}", p.display()))?,
        )),
        None => None,
    };
    let mut results = serde_json::Map::new();
    for mode in modes {
        let r = run_mode(mode, &config, &format!("{base}-{mode}"), args, &mut dump)?;
        results.insert((*mode).to_owned(), r);
        // Frames are dumped once, from the first run.
        if let Some(mut w) = dump.take() {
            w.flush().map_err(|e| format!("--dump-frames: {e}"))?;
        }
    }
    let out = serde_json::json!({
        "config": source,
        "pools": config.pools.len(),
        "vault_pools": vault_pools,
        "vault_accounts": vault_pools * 2,
        "frames": args.frames,
        "warmup": args.warmup,
        "slot_every": args.slot_every.max(1),
        "ring_capacity": args.ring_capacity,
        "drain_every": args.drain_every.max(1),
        "frame_bytes": account_notification(7000, FIRST_SLOT, VAULT_LAMPORTS,
            &base64::engine::general_purpose::STANDARD.encode([0u8; token::LEN]),
            TOKEN_PROGRAM_ID, token::LEN).len(),
        "runs": results,
    });
    Ok(out.to_string())
}

//! Fuzz target bodies: every parser of bytes that come from outside the process.
//!
//! Each function takes arbitrary bytes and panics only when an invariant breaks (a parser or
//! decoder panicking, two readings of one account disagreeing, an encoder not inverting its
//! decoder, bad input not counted). They are shared by the libFuzzer targets in `fuzz/`
//! (`cargo fuzz run <name>`, see `fuzz/run.sh`) and by `tests/fuzz_corpus.rs`, which replays
//! the checked-in seed corpus on stable in every CI run.
//!
//! | target | input |
//! |---|---|
//! | [`pubsub_frame`] | one PubSub text frame ([`pubsub::parse_frame`], then the account data's base64 and every decoder on it) |
//! | [`token_account`] | SPL Token / Token-2022 account bytes |
//! | [`amm_v4`], [`cpmm`], [`whirlpool`] | pool account bytes |
//! | [`engine_frame`] | newline-separated text frames through a real [`Engine`] publishing into shared memory |

use crate::config::Config;
use crate::decode::{token, AmmInfo, CpmmPoolState, TokenAccount, Whirlpool};
use crate::engine::{Engine, EngineStats, MAX_ACCOUNT_BYTES};
use crate::pool_state::PoolAccountState;
use crate::publisher::Publisher;
use crate::pubsub::{self, Frame, PubSubError};
use phantom_ringbuf::clock::monotonic_ns;
use phantom_ringbuf::names::segment_name;
use phantom_ringbuf::records::{market_kind, MarketUpdate, PoolState};
use phantom_ringbuf::ring::{self, Consumer};
use phantom_ringbuf::schema::Record as _;
use phantom_ringbuf::segment::{self, CreateOptions, DEFAULT_STALE_AFTER_NS};
use phantom_ringbuf::table::Table;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, Once};

/// The frame size limit [`pubsub_frame`] parses under (the feeder's default).
pub const MAX_FRAME_BYTES: usize = 1 << 20;

/// A fuzz target: any bytes in, a panic only when an invariant breaks.
pub type Target = fn(&[u8]);

/// Names of the fuzz targets, as in `fuzz/fuzz_targets/<name>.rs` and `fuzz/seeds/<name>/`.
pub const TARGETS: [(&str, Target); 6] = [
    ("pubsub_frame", pubsub_frame),
    ("token_account", token_account),
    ("amm_v4", amm_v4),
    ("cpmm", cpmm),
    ("whirlpool", whirlpool),
    ("engine_frame", engine_frame),
];

/// One PubSub text frame (invalid UTF-8 replaced, as a WebSocket text frame is always UTF-8):
/// parsed; over-limit frames refused unparsed; account data decoded and, when it decodes,
/// run through every account decoder.
pub fn pubsub_frame(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if !text.is_empty() {
        let limit = text.len() - 1;
        assert!(
            matches!(
                pubsub::parse_frame(&text, limit),
                Err(PubSubError::FrameTooLarge { len, max }) if len == text.len() && max == limit
            ),
            "a frame over the limit must be refused unparsed"
        );
    }
    let Ok(Frame::Account(n)) = pubsub::parse_frame(&text, MAX_FRAME_BYTES) else {
        return;
    };
    let mut buf = vec![0u8; MAX_ACCOUNT_BYTES];
    match n.decode_data(&mut buf) {
        Ok(bytes) => {
            // Canonical padded base64 only: its length gives the decoded size exactly.
            assert_eq!(
                n.data_len(),
                Some(bytes.len()),
                "data_len disagrees with decode"
            );
            let bytes = bytes.to_vec();
            token_account(&bytes);
            amm_v4(&bytes);
            cpmm(&bytes);
            whirlpool(&bytes);
        }
        Err(PubSubError::DataTooLarge { len, max }) => {
            assert!(len > max && max == MAX_ACCOUNT_BYTES);
            assert_eq!(n.data_len(), Some(len));
        }
        Err(PubSubError::Base64(_)) => {}
        Err(e) => panic!("decode_data: unexpected error kind: {e}"),
    }
    // A buffer one byte short of the data is refused, never overrun.
    if let Some(len @ 1..=MAX_ACCOUNT_BYTES) = n.data_len() {
        let mut short = vec![0u8; len - 1];
        assert!(
            n.decode_data(&mut short).is_err(),
            "decoded into a short buffer"
        );
    }
}

/// SPL Token / Token-2022 account bytes: the hot-path [`token::amount`] accepts exactly what
/// [`TokenAccount::decode`] accepts, with the same amount and the same first error, and the
/// encoder writes back a base layout that decodes to the same account.
pub fn token_account(data: &[u8]) {
    let fast = token::amount(data);
    let full = TokenAccount::decode(data);
    match (&fast, &full) {
        (Ok(amount), Ok(account)) => {
            assert_eq!(*amount, account.amount, "amount() and decode() disagree");
            let mut copy = data.to_vec();
            assert!(account.encode_into(&mut copy).is_ok());
            assert_eq!(
                TokenAccount::decode(&copy).as_ref(),
                Ok(account),
                "encode_into then decode is not the identity"
            );
            assert_eq!(
                copy.get(token::LEN..),
                data.get(token::LEN..),
                "extensions touched"
            );
            assert_eq!(
                TokenAccount::decode(&account.encode()).as_ref(),
                Ok(account),
                "encode then decode is not the identity"
            );
        }
        (Err(a), Err(b)) => assert_eq!(a, b, "amount() and decode() report different errors"),
        _ => panic!("amount() = {fast:?} but decode() = {full:?}"),
    }
}

/// Raydium AMM v4 `AmmInfo` bytes: decode, and when it decodes, `encode` gives the very bytes
/// back (every field is kept, padding included).
pub fn amm_v4(data: &[u8]) {
    if let Ok(a) = AmmInfo::decode(data) {
        assert_eq!(&a.encode()[..], data, "AmmInfo: encode(decode(x)) != x");
        let _ = PoolAccountState::from_amm_v4(&a);
        let _ = a.swap_fee();
        let _ = a.reserves(u64::MAX, 0);
        let _ = a.reserves(0, u64::MAX);
    }
}

/// Raydium CPMM `PoolState` bytes: as [`amm_v4`].
pub fn cpmm(data: &[u8]) {
    if let Ok(p) = CpmmPoolState::decode(data) {
        assert_eq!(
            &p.encode()[..],
            data,
            "CpmmPoolState: encode(decode(x)) != x"
        );
        let _ = PoolAccountState::from_cpmm(&p);
        let _ = p.swap_enabled();
        let (o0, o1) = p.fees_owed();
        assert_eq!(p.reserves(o0, o1), Ok((0, 0)));
        let _ = p.reserves(u64::MAX, 0);
    }
}

/// Orca `Whirlpool` bytes: as [`amm_v4`].
pub fn whirlpool(data: &[u8]) {
    if let Ok(w) = Whirlpool::decode(data) {
        assert_eq!(&w.encode()[..], data, "Whirlpool: encode(decode(x)) != x");
        let _ = PoolAccountState::from_whirlpool(&w);
        let _ = w.fee();
    }
}

/// Config of the [`engine_frame`] harness: the pools of the mainnet fixtures in
/// `tests/fixtures` (and of `examples/simulator.toml`), two endpoints so cross-endpoint
/// dedupe runs, and a small frame limit so the fuzzer reaches it.
pub const ENGINE_CONFIG: &str = r#"
[feeder]
endpoints = [
  { ws = "ws://127.0.0.1:1", rpc = "http://127.0.0.1:1" },
  { ws = "ws://127.0.0.1:2", rpc = "http://127.0.0.1:2" },
]
max_frame_bytes = 4096

[[pools]]
kind = "raydium_amm_v4"
address = "58oQChx4yWmvKdwLLZzBi4ChoCc2fqCUWBkwMihLYQo2"
vaults = ["DQyrAcCrDXQ7NeoqGgDCZwBvWDcYmFCjSb9JtteuvPpz", "HLmqeL62xR1QoZ1HKKbXRrdN1p3phKpxRMb2VVopvBBz"]

[[pools]]
kind = "orca_whirlpool"
address = "Czfq3xZZDmsdGdUyrNLtRhGc47cXcZtLG4crryfu44zE"
decimals = [9, 6]

[[pools]]
kind = "raydium_cpmm"
address = "2higKRf25Q9WMcYfgyK96AAuFVv5zucfDAFHHDuVETcq"
vaults = ["47KLLXNKUMuJBgis11NWmZ9iNPW2wHX2ZKQKUDCL3LA6", "5Ap19VZWbmP9NnvFabeyGzWjTqXFcFLPcuFDsNyAB9Sg"]
fee_numerator = 2500
fee_denominator = 1000000
"#;

/// Subscription id the [`engine_frame`] harness confirms for account index `i` (request id
/// `i + 1`) on both endpoints before each input: seeds use these ids.
pub const fn engine_subscription(i: usize) -> u64 {
    1000 + i as u64
}

const ENGINE_RING_CAPACITY: u32 = 1 << 14;

/// The shared-memory segments of the [`engine_frame`] harness: created once per thread under
/// a private instance name, removed by [`engine_cleanup`] (and at process exit).
struct Harness {
    instance: String,
    config: Config,
    pools: Table<PoolState>,
    market: Consumer<MarketUpdate>,
}

thread_local! {
    static HARNESS: RefCell<Option<Harness>> = const { RefCell::new(None) };
}

/// Every instance this process created, for the exit hook.
static INSTANCES: Mutex<Vec<String>> = Mutex::new(Vec::new());
static AT_EXIT: Once = Once::new();

fn remove_segments(instance: &str) {
    for role in phantom_ringbuf::names::ROLES {
        let _ = segment::remove(&segment_name(instance, role));
    }
}

extern "C" fn remove_at_exit() {
    let instances = match INSTANCES.lock() {
        Ok(mut v) => std::mem::take(&mut *v),
        Err(p) => std::mem::take(&mut *p.into_inner()),
    };
    for instance in instances {
        remove_segments(&instance);
    }
}

fn harness() -> Harness {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // Segments of an earlier run that crashed (its pid is gone) are removed first.
    let _ = segment::clean_stale("phantom-fz", DEFAULT_STALE_AFTER_NS);
    AT_EXIT.call_once(|| {
        // SAFETY: registers a plain `extern "C" fn()` that captures nothing.
        unsafe { libc::atexit(remove_at_exit) };
    });
    let instance = format!(
        "fz{}t{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    if let Ok(mut v) = INSTANCES.lock() {
        v.push(instance.clone());
    }
    let config = Config::from_toml_str(ENGINE_CONFIG).expect("the harness config is valid");
    let o = CreateOptions {
        instance: instance.clone(),
        ..CreateOptions::default()
    };
    remove_segments(&instance);
    let pools = segment_name(&instance, "pools");
    let market = segment_name(&instance, "market");
    drop(phantom_ringbuf::control::Control::create(&instance, &o).expect("create control"));
    let pools =
        Table::<PoolState>::create(&pools, config.pools.len() as u32, &o).expect("create pools");
    drop(ring::create::<MarketUpdate>(&market, ENGINE_RING_CAPACITY, &o).expect("create market"));
    let market = Consumer::<MarketUpdate>::attach(&market, None).expect("attach market");
    Harness {
        instance,
        config,
        pools,
        market,
    }
}

/// Remove this thread's [`engine_frame`] harness segments (tests call it when done; a
/// fuzzing process removes them at exit).
pub fn engine_cleanup() {
    if let Some(h) = HARNESS.with(|h| h.borrow_mut().take()) {
        remove_segments(&h.instance);
        if let Ok(mut v) = INSTANCES.lock() {
            v.retain(|i| *i != h.instance);
        }
    }
}

/// Newline-separated text frames (invalid UTF-8 replaced) through a fresh [`Engine`] that
/// publishes into real shared-memory segments, alternating endpoints 0 and 1, after every
/// watched account's subscription was confirmed on both. Checks that every frame that does
/// not parse is counted (control block and engine stats), that a notification for an unknown
/// subscription is counted, and that what reaches the ring is well-formed and matches the
/// engine's own count of published states.
pub fn engine_frame(data: &[u8]) {
    let _ = engine_frame_stats(data);
}

/// [`engine_frame`], returning the engine's counters for the input (for tests of the seeds).
pub fn engine_frame_stats(data: &[u8]) -> EngineStats {
    HARNESS.with(|cell| {
        let mut cell = cell.borrow_mut();
        let h = cell.get_or_insert_with(harness);
        // A fresh table and an empty ring for every input, so inputs are independent.
        for i in 0..h.pools.capacity() {
            h.pools.write(i, &PoolState::zeroed());
        }
        while h.market.try_pop().is_some() {}
        run_engine(h, data)
    })
}

fn run_engine(h: &mut Harness, data: &[u8]) -> EngineStats {
    let publisher = Publisher::attach(&h.instance).expect("attach the publisher");
    let mut engine = Engine::new(&h.config, publisher);
    let accounts = engine.accounts().len();
    // Mirror of the engine's subscription maps, to know which notifications are unknown.
    let mut known: [HashMap<u64, usize>; 2] = [HashMap::new(), HashMap::new()];
    for (endpoint, map) in known.iter_mut().enumerate() {
        for i in 0..accounts {
            let sub = engine_subscription(i);
            let frame = format!(r#"{{"jsonrpc":"2.0","result":{sub},"id":{}}}"#, i + 1);
            engine.on_frame(endpoint as u8, monotonic_ns(), &frame);
            map.insert(sub, i);
        }
    }
    let control = |e: &mut Engine| {
        let c = e.publisher().control().feeder_block();
        (
            c.feeder_decode_errors.load(Ordering::Relaxed),
            c.feeder_overflows.load(Ordering::Relaxed),
        )
    };
    let (errors_before, overflows_before) = control(&mut engine);
    let text = String::from_utf8_lossy(data);
    let mut accepted_slots: HashSet<u64> = HashSet::new();
    for (i, line) in text.split('\n').enumerate() {
        let endpoint = (i % 2) as u8;
        let before = engine.stats();
        let errors = control(&mut engine).0;
        let parsed = pubsub::parse_frame(line, h.config.feeder.max_frame_bytes);
        let expect_unknown = match &parsed {
            Ok(Frame::Account(n)) => !known[endpoint as usize].contains_key(&n.subscription),
            _ => false,
        };
        // Every account is already subscribed on both endpoints: a further reply to one of
        // the requests is refused (one subscription per request and connection), so the
        // mirror does not change.
        if let Ok(Frame::Slot { slot, .. }) = &parsed {
            accepted_slots.insert(*slot);
        }
        let bad = parsed.is_err();
        drop(parsed);
        engine.on_frame(endpoint, monotonic_ns(), line);
        let after = engine.stats();
        if bad {
            assert_eq!(
                after.bad_frames,
                before.bad_frames + 1,
                "bad frame not counted"
            );
            assert_eq!(
                control(&mut engine).0,
                errors + 1,
                "bad frame not in control"
            );
        } else {
            assert_eq!(after.bad_frames, before.bad_frames);
        }
        let unknown = after.unknown_subscriptions - before.unknown_subscriptions;
        assert_eq!(
            unknown,
            u64::from(expect_unknown),
            "unknown subscription miscounted"
        );
    }
    let stats = engine.stats();
    let (errors_after, overflows_after) = control(&mut engine);
    assert_eq!(
        errors_after - errors_before,
        stats.bad_frames + stats.decode_errors,
        "control block's decode errors != bad frames + decode errors"
    );
    drop(engine);
    let (mut pool_updates, mut next_seq) = (0u64, None::<u64>);
    while let Some(u) = h.market.try_pop() {
        if let Some(s) = next_seq {
            assert_eq!(u.seq, s, "ring seq not consecutive");
        }
        next_seq = Some(u.seq + 1);
        match u.kind {
            market_kind::POOL_UPDATE => {
                pool_updates += 1;
                assert!((u.pool_id as usize) < h.config.pools.len(), "pool id");
                assert!(u.t_pub_ns >= u.t_recv_ns, "published before received");
                let s = h.pools.read(u.pool_id as usize).expect("pool state");
                assert_eq!(s.ready, 1);
                assert!(s.last_slot >= u.slot, "table went back in slot");
            }
            market_kind::SLOT => assert!(accepted_slots.contains(&u.slot), "slot from nowhere"),
            market_kind::RESYNC => {}
            k => panic!("unexpected market record kind {k}"),
        }
    }
    if overflows_after == overflows_before {
        assert_eq!(pool_updates, stats.published, "ring and engine disagree");
    }
    stats
}

//! `phantom-allrust --config CONFIG.toml --out OUT.json [--signing rfc8032|precomputed]
//! [--dump-tx N]`: the all-Rust single-thread baseline (see the library docs).
//!
//! Start-up: read the config (the feeder's, signer's and strategy's tables), load the key,
//! derive the legs given by pool (as the signer does, from its first RPC endpoint),
//! compile the route templates, fetch the latest blockhash once, connect to the FIRST feeder
//! endpoint's WebSocket, subscribe as the feeder does (same requests, same order), wait for
//! every confirmation, refetch the pool accounts with getMultipleAccounts, then print `READY`
//! on stdout. From then on every frame is read, decoded, assembled, priced and (for an intent)
//! signed on this thread. SIGTERM/SIGINT or the connection closing ends the run: OUT is
//! written (`{"system": "all-rust", "frames", "ticks", "intents", "signed": [[frame_idx,
//! t_recv_ns, t_decoded_ns, t_decision_ns, t_signed_ns], ...], "pids": {"main": pid},
//! "errors"}`, plus `"txs"`: base64 wire bytes of the first N transactions with `--dump-tx N`)
//! and the process exits 0.

use base64::Engine as _;
use clap::{Parser, ValueEnum};
use phantom_bench::allrust::pipeline::{Core, FrameKind, Pipeline};
use phantom_bench::allrust::setup::Setup;
use phantom_bench::allrust::ws::{Connection, Read};
use phantom_feeder::engine::subscriptions;
use phantom_feeder::rpc::get_multiple_accounts;
use phantom_ringbuf::clock::monotonic_ns;
use phantom_signer::blockhash::PLACEHOLDER_BLOCKHASH;
use phantom_signer::config::SigningMode;
use phantom_signer::engine::build_templates;
use phantom_signer::keypair::Keypair;
use phantom_signer::rpc::RpcClient;
use phantom_signer::signing::Signer;
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Set by SIGTERM/SIGINT.
static STOP: AtomicBool = AtomicBool::new(false);

/// Socket read timeout: how stale a stop request can get while no frame arrives.
const READ_TIMEOUT: Duration = Duration::from_millis(100);

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum SigningArg {
    /// Deterministic RFC 8032 ed25519.
    Rfc8032,
    /// Precomputed nonces (a background thread keeps the pool full).
    #[value(alias = "precomputed-nonce")]
    Precomputed,
}

/// The all-Rust single-process baseline: feeder, strategy maths and signer on one thread.
#[derive(Debug, Parser)]
#[command(name = "phantom-allrust", version)]
struct Args {
    /// The pipeline's TOML config ([feeder], [[pools]], [strategy], [signer], [[routes]]).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Where to write the run's JSON at exit.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Signing mode (default: the config's `signer.signing`).
    #[arg(long, value_enum)]
    signing: Option<SigningArg>,
    /// Also write the first N signed transactions (base64 wire bytes) into OUT as "txs".
    #[arg(long, value_name = "N", default_value_t = 0)]
    dump_tx: usize,
    /// Records preallocated (and pre-faulted) for signed transactions.
    #[arg(long, value_name = "N", default_value_t = 1 << 18)]
    prealloc_records: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("phantom-allrust: {e}");
            ExitCode::FAILURE
        }
    }
}

extern "C" fn on_stop_signal(_: libc::c_int) {
    // Async-signal-safe: one atomic store.
    STOP.store(true, Ordering::Relaxed);
}

fn install_signal_handlers() -> std::io::Result<()> {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value; the handler only
        // stores an atomic (async-signal-safe); sigaction reads the struct during the call
        // only. No SA_RESTART: a blocking read returns EINTR at once, so a stop is prompt.
        let rc = unsafe {
            let mut action: libc::sigaction = core::mem::zeroed();
            action.sa_sigaction = on_stop_signal as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, core::ptr::null_mut())
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

fn stopping() -> bool {
    STOP.load(Ordering::Relaxed)
}

fn make_signer(setup: &Setup, mode: Option<SigningArg>) -> Result<Signer, String> {
    let cfg = &setup.signer.signer;
    let keypair = match &cfg.keypair_path {
        Some(path) => Keypair::load(path).map_err(|e| format!("signer.keypair_path: {e}"))?,
        None => Keypair::generate().map_err(|e| format!("OS random source: {e}"))?,
    };
    let precomputed = match mode {
        Some(SigningArg::Rfc8032) => false,
        Some(SigningArg::Precomputed) => true,
        None => cfg.signing == SigningMode::PrecomputedNonce,
    };
    let pool = cfg.nonce_pool_size.clamp(1, 1 << 20);
    let signer = if precomputed {
        Signer::precomputed_nonce(keypair.signing_key(), pool)
    } else {
        Signer::rfc8032(keypair.signing_key())
    };
    if precomputed {
        // Start measured work with a full pool, as a signer that has been running would.
        let deadline = monotonic_ns() + 60_000_000_000;
        while signer.nonces_ready() < pool && monotonic_ns() < deadline && !stopping() {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    Ok(signer)
}

/// The signer's blockhash source, read once: `getLatestBlockhash` from the first signer RPC
/// endpoint that answers; the dry-run placeholder when there is none (as the signer does).
fn fetch_blockhash(setup: &Setup) -> Result<[u8; 32], String> {
    let cfg = &setup.signer.signer;
    if cfg.rpc_endpoints.is_empty() {
        return Ok(PLACEHOLDER_BLOCKHASH);
    }
    let timeout = Duration::from_millis(cfg.send_timeout_ms);
    let mut last = String::new();
    for url in &cfg.rpc_endpoints {
        match RpcClient::new(url, timeout).get_latest_blockhash() {
            Ok((hash, _)) => return Ok(hash),
            Err(e) => last = e.to_string(),
        }
    }
    Err(format!(
        "getLatestBlockhash failed on every endpoint: {last}"
    ))
}

fn run(args: &Args) -> Result<(), String> {
    install_signal_handlers().map_err(|e| format!("installing signal handlers: {e}"))?;
    let setup = Setup::load(&args.config)?;
    let signer = make_signer(&setup, args.signing)?;
    let payer = solana_address::Address::new_from_array(signer.public_key());
    // Legs given by pool are derived as the signer derives them (from its first endpoint).
    let rpc = setup.signer.signer.rpc_endpoints.first().cloned();
    let (resolved, _) =
        phantom_signer::routes::derive_at_start(&setup.signer, payer, rpc.as_deref(), false)
            .map_err(|e| e.to_string())?;
    let templates = build_templates(&resolved, payer).map_err(|e| e.to_string())?;
    let blockhash = fetch_blockhash(&setup)?;
    let core = Core::new(
        setup.feeder.pools.len(),
        setup.kernel(),
        templates,
        signer,
        blockhash,
        args.dump_tx,
        args.prealloc_records,
    );
    let mut pipeline = Pipeline::new(&setup.feeder, core);
    let feeder = &setup.feeder.feeder;
    let endpoint = &feeder.endpoints[0];
    let startup = Duration::from_millis(feeder.read_timeout_ms);

    let mut conn = Connection::connect(&endpoint.ws, startup, READ_TIMEOUT)?;
    let subs = subscriptions(&setup.feeder, pipeline.accounts());
    for s in &subs {
        conn.send_text(s)?;
    }
    // Every request (ids 1..=n) confirmed; notifications meanwhile are processed as usual.
    let mut confirmed = vec![false; subs.len()];
    let mut missing = subs.len();
    let deadline = monotonic_ns() + startup.as_nanos() as u64;
    let mut closed = None;
    while missing > 0 && !stopping() {
        if monotonic_ns() > deadline {
            return Err(format!(
                "{missing} of {} subscriptions unconfirmed after {} ms",
                subs.len(),
                startup.as_millis()
            ));
        }
        match conn.read() {
            Read::Text(text, t) => match pipeline.on_frame(&text, t) {
                FrameKind::Subscribed(id) => {
                    if let Some(c) = confirmed.get_mut(id.wrapping_sub(1) as usize) {
                        if !*c {
                            *c = true;
                            missing -= 1;
                        }
                    }
                }
                FrameKind::Error(Some(id)) if (1..=subs.len() as u64).contains(&id) => {
                    return Err(format!("subscription request {id} refused: {text}"));
                }
                _ => {}
            },
            Read::Closed(why) => {
                closed = Some(why);
                break;
            }
            Read::Idle | Read::Other => {}
        }
    }
    if closed.is_none() && !stopping() {
        let addresses: Vec<String> = pipeline
            .accounts()
            .iter()
            .map(|w| w.address.to_string())
            .collect();
        let agent = ureq::Agent::new_with_defaults();
        match get_multiple_accounts(
            &agent,
            &endpoint.rpc,
            &addresses,
            feeder.commitment.as_str(),
        ) {
            Ok(fetched) => pipeline.apply_refetch(&fetched),
            // A stop signal interrupts the request: that run ends here, output written.
            Err(_) if stopping() => {}
            Err(e) => return Err(format!("refetch: {e}")),
        }
        if !stopping() {
            let mut out = std::io::stdout().lock();
            writeln!(out, "READY")
                .and_then(|()| out.flush())
                .map_err(|e| format!("stdout: {e}"))?;
        }
    }

    let ping_every = feeder.heartbeat_interval_ms.saturating_mul(1_000_000);
    let mut last_ping = monotonic_ns();
    while closed.is_none() && !stopping() {
        match conn.read() {
            Read::Text(text, t) => {
                pipeline.on_frame(&text, t);
            }
            Read::Idle => {
                let now = monotonic_ns();
                if now.saturating_sub(last_ping) >= ping_every {
                    last_ping = now;
                    if let Err(e) = conn.ping() {
                        closed = Some(e);
                    }
                }
            }
            Read::Other => {}
            Read::Closed(why) => closed = Some(why),
        }
    }
    match &closed {
        Some(why) => eprintln!("phantom-allrust: connection closed: {why}"),
        None => conn.close(),
    }
    let c = pipeline.counters();
    eprintln!("phantom-allrust: {c:?}");
    write_out(&args.out, &pipeline, args.dump_tx > 0)
}

fn write_out(path: &Path, p: &Pipeline, dump: bool) -> Result<(), String> {
    let c = p.counters();
    let mut doc = json!({
        "system": "all-rust",
        "frames": c.frames,
        "ticks": c.ticks,
        "intents": c.intents,
        "signed": p.records(),
        "pids": {"main": std::process::id()},
        "errors": c.errors(),
        "detail": {
            "bad_frames": c.bad_frames,
            "decode_errors": c.decode_errors,
            "unknown_subscriptions": c.unknown_subscriptions,
            "rpc_errors": c.rpc_errors,
            "sign_errors": c.sign_errors,
            "refused": c.refused,
            "stale": c.stale,
            "duplicates": c.duplicates,
            "refetch_ticks": c.refetch_ticks,
        },
    });
    if dump {
        let b64 = base64::engine::general_purpose::STANDARD;
        doc["txs"] = p.txs().iter().map(|t| b64.encode(t)).collect();
    }
    // Written whole under a temporary name, then renamed: a reader never sees half a file.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let text = serde_json::to_string(&doc).map_err(|e| e.to_string())?;
    std::fs::write(&tmp, text).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}

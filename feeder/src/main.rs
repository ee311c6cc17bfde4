//! `phantom-feeder --instance NAME --config FILE [--check-config] [--record FILE | --replay FILE
//! [--replay-speed max|F]] [--frame-log FILE] [--supervisor-pid PID]`: Solana PubSub market data
//! into the instance's `pools` table and `market` ring (DESIGN §2).
//!
//! One tokio task per endpoint reads frames; the engine (this thread) dedupes, decodes,
//! assembles and publishes. Reads only `[feeder]` and `[[pools]]` of the config.
//!
//! Refetches (after a connect, or after an endpoint's update was refused) run on the
//! blocking pool with a deadline (`[feeder] rpc_timeout_ms`), at most one in flight per
//! endpoint: a request while one runs is remembered and served when it ends, so reconnects
//! and refusals never pile up threads. A refusal-triggered refetch waits at least
//! [`REFUSAL_REFETCH_INTERVAL`] after the previous one of that endpoint.

use clap::Parser;
use phantom_feeder::config::Config;
use phantom_feeder::engine::{subscriptions, Engine};
use phantom_feeder::publisher::Publisher;
use phantom_feeder::recording::{FrameLog, Recorder, ReplaySource, Speed};
use phantom_feeder::rpc::{self, get_multiple_accounts_owned};
use phantom_feeder::source::{Backoff, FeedEvent, FeedSource, PubSubSource};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Shortest interval between two refetches of one endpoint asked for by refusals.
const REFUSAL_REFETCH_INTERVAL: Duration = Duration::from_secs(1);

/// Per endpoint: whether a refetch is running, one is wanted, and when the last began.
#[derive(Clone, Copy, Debug, Default)]
struct RefetchState {
    in_flight: bool,
    wanted: bool,
    /// A connect asked: serve it as soon as nothing is in flight (no interval).
    wanted_now: bool,
    last_start: Option<Instant>,
}

#[derive(Parser, Debug)]
#[command(
    name = "phantom-feeder",
    version,
    about = "Solana PubSub market data into shared memory"
)]
struct Args {
    /// Instance name (segments phantom-NAME-*).
    #[arg(long, default_value = "default")]
    instance: String,
    /// The instance config (TOML); only [feeder] and [[pools]] are read.
    #[arg(long)]
    config: PathBuf,
    /// Validate the config and exit (0: valid; 1: the error, naming the key).
    #[arg(long)]
    check_config: bool,
    /// Append every input frame (with its receive time), connect, drop and refetch to this
    /// recording file (format in docs/architecture.md and feeder/src/recording.rs).
    #[arg(long, conflicts_with = "replay")]
    record: Option<PathBuf>,
    /// Replay a recording instead of connecting to the endpoints; exit at its end.
    #[arg(long)]
    replay: Option<PathBuf>,
    /// Replay pace: "max" (as fast as the engine takes them) or a factor of the recorded
    /// pace (1 = as recorded).
    #[arg(long, default_value = "1")]
    replay_speed: Speed,
    /// Write a 16-byte record per notification frame (receive time, position on its
    /// connection): the end-to-end benchmark joins it with the simulator's send log.
    #[arg(long)]
    frame_log: Option<PathBuf>,
    /// The supervisor's pid: this process sets SIGTERM as its death signal and exits at
    /// once if its parent is not this pid (the supervisor died before it could ask).
    #[arg(long, value_name = "PID")]
    supervisor_pid: Option<u32>,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    std::panic::set_hook(Box::new(|info| {
        tracing::error!("panic: {info}");
        std::process::exit(101);
    }));
    let args = Args::parse();
    if let Some(pid) = args.supervisor_pid {
        if let Err(e) = phantom_ringbuf::process::die_with_supervisor(pid) {
            eprintln!("phantom-feeder: {e}");
            return ExitCode::FAILURE;
        }
    }
    let config = match Config::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("phantom-feeder: {e}");
            return ExitCode::FAILURE;
        }
    };
    if args.check_config {
        return ExitCode::SUCCESS;
    }
    if let Some(p) = &args.replay {
        // Refuse a bad file now, with its name, rather than after the runtime started.
        if let Err(e) = phantom_feeder::recording::Reader::open(p) {
            eprintln!("phantom-feeder: --replay: {e}");
            return ExitCode::FAILURE;
        }
    }
    if let Some(cpu) = config.feeder.cpu {
        pin(cpu);
    }
    let publisher = match Publisher::attach(&args.instance) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("phantom-feeder: {e}");
            return ExitCode::FAILURE;
        }
    };
    if publisher.pool_capacity() < config.pools.len() {
        eprintln!(
            "phantom-feeder: the pools table has {} entries but the config has {} pools",
            publisher.pool_capacity(),
            config.pools.len()
        );
        return ExitCode::FAILURE;
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("phantom-feeder: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let recorder = match &args.record {
        Some(p) => match Recorder::open(p) {
            Ok(r) => Some(r),
            Err(e) => {
                eprintln!("phantom-feeder: --record: {e}");
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    let frame_log = match &args.frame_log {
        Some(p) => match FrameLog::create(p) {
            Ok(l) => Some(l),
            Err(e) => {
                eprintln!("phantom-feeder: --frame-log {}: {e}", p.display());
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    let replay = args.replay.map(|path| ReplaySource {
        path,
        speed: args.replay_speed,
        endpoints: config.feeder.endpoints.len() as u8,
    });
    rt.block_on(run(config, publisher, recorder.as_ref(), frame_log, replay));
    if let Some(r) = recorder {
        match r.finish() {
            Ok(n) => tracing::info!(records = n, "recording closed"),
            Err(e) => {
                eprintln!("phantom-feeder: --record: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

fn pin(cpu: u32) {
    // SAFETY: cpu_set_t is plain data; CPU_SET writes within it for cpu < CPU_SETSIZE, which
    // sched_setaffinity then reads; failure is reported, not fatal.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if (cpu as usize) < libc::CPU_SETSIZE as usize {
            libc::CPU_SET(cpu as usize, &mut set);
            if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
                tracing::warn!(
                    cpu,
                    "could not pin to the cpu: {}",
                    std::io::Error::last_os_error()
                );
            }
        }
    }
}

async fn run(
    config: Config,
    publisher: Publisher,
    recorder: Option<&Recorder>,
    frame_log: Option<FrameLog>,
    replay: Option<ReplaySource>,
) {
    let mut engine = Engine::new(&config, publisher);
    if let Some(l) = frame_log {
        engine.set_frame_log(l);
    }
    let replaying = replay.is_some();
    let subs = subscriptions(&config, engine.accounts());
    let addresses: Vec<String> = engine
        .accounts()
        .iter()
        .map(|w| w.address.to_string())
        .collect();
    // Small on purpose: when the engine falls behind, frames wait in the socket (and the
    // server's queue), not in this process's memory.
    let (tx, mut rx) = mpsc::channel(256);
    if let Some(src) = replay {
        tokio::spawn(src.run(tx.clone()));
    }
    for (i, ep) in config.feeder.endpoints.iter().enumerate() {
        if replaying {
            break;
        }
        let src = PubSubSource {
            endpoint: i as u8,
            url: ep.ws.clone(),
            subscriptions: subs.clone(),
            read_timeout: Duration::from_millis(config.feeder.read_timeout_ms),
            ping_interval: Duration::from_millis(config.feeder.heartbeat_interval_ms),
            backoff: Backoff::new(
                Duration::from_millis(config.feeder.reconnect_backoff_min_ms),
                Duration::from_millis(config.feeder.reconnect_backoff_max_ms),
                std::process::id() as u64 ^ (i as u64) << 32,
            ),
            max_frame_bytes: config.feeder.max_frame_bytes,
        };
        tokio::spawn(src.run(tx.clone()));
    }
    drop(tx);
    let (refetch_tx, mut refetch_rx) = mpsc::channel(16);
    let agent = rpc::agent(Duration::from_millis(config.feeder.rpc_timeout_ms));
    let commitment = config.feeder.commitment.as_str();
    let mut refetches = vec![RefetchState::default(); config.feeder.endpoints.len()];
    // Starts the refetches that are due: at most one in flight per endpoint.
    let start_due = |refetches: &mut [RefetchState]| {
        for (endpoint, r) in refetches.iter_mut().enumerate() {
            let interval_over = r
                .last_start
                .is_none_or(|t| t.elapsed() >= REFUSAL_REFETCH_INTERVAL);
            if r.in_flight || !(r.wanted_now || (r.wanted && interval_over)) {
                continue;
            }
            *r = RefetchState {
                in_flight: true,
                wanted: false,
                wanted_now: false,
                last_start: Some(Instant::now()),
            };
            let url = config.feeder.endpoints[endpoint].rpc.clone();
            let (agent, addresses, tx) = (agent.clone(), addresses.clone(), refetch_tx.clone());
            tokio::task::spawn_blocking(move || {
                let r = get_multiple_accounts_owned(&agent, &url, &addresses, commitment);
                let _ = tx.blocking_send((endpoint as u8, r));
            });
        }
    };
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut quiet_ticks = 0u32;
    loop {
        tokio::select! {
            ev = rx.recv() => {
                let Some(ev) = ev else {
                    if replaying {
                        tracing::info!("replay ended");
                    }
                    return;
                };
                quiet_ticks = 0;
                if let Some(r) = recorder {
                    r.event(&ev);
                }
                let connected = engine.on_event(ev);
                if replaying {
                    continue;
                }
                if let Some(endpoint) = connected {
                    // The table must be right again before trading resumes: refetch now (or
                    // as soon as the one in flight ends).
                    if let Some(r) = refetches.get_mut(endpoint as usize) {
                        r.wanted_now = true;
                    }
                }
                for endpoint in engine.take_refetch_wanted() {
                    if let Some(r) = refetches.get_mut(endpoint as usize) {
                        r.wanted = true;
                    }
                }
                start_due(&mut refetches);
            }
            Some((endpoint, result)) = refetch_rx.recv() => {
                if let Some(r) = refetches.get_mut(endpoint as usize) {
                    r.in_flight = false;
                }
                match result {
                    Ok(fetched) => {
                        let fetched = engine.check_refetch_owners(endpoint, fetched);
                        let ev = FeedEvent::Refetched { endpoint, fetched };
                        if let Some(r) = recorder {
                            r.event(&ev);
                        }
                        engine.on_event(ev);
                    }
                    Err(e) => {
                        engine.publisher().control().feeder().endpoint_count(
                            phantom_ringbuf::control::EndpointCounter::RefetchFailures,
                            endpoint,
                        );
                        tracing::warn!(endpoint, "refetch failed: {e}");
                    }
                }
                start_due(&mut refetches);
            }
            _ = tick.tick() => {
                if !replaying {
                    start_due(&mut refetches);
                }
                let p = engine.publisher();
                p.heartbeat();
                if p.stopping() {
                    tracing::info!("stop requested");
                    return;
                }
                quiet_ticks += 1;
                if quiet_ticks >= 10 {
                    quiet_ticks = 0;
                    p.publish_heartbeat();
                }
            }
        }
    }
}

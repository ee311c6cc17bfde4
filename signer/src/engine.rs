//! The signer's loop: intents in, checks, patch + sign, reports out (DESIGN §2, §6).
//!
//! For every intent read from the `intents` ring the loop builds a [`Context`] (kill switch
//! from the control block and the kill-switch file, the epoch fence from the control block,
//! the blockhash's age), runs the [`Limits`], and either refuses the intent (a `REJECTED`
//! report with its reason code) or patches and signs the route's template with the current
//! blockhash (`ACCEPTED`, then `SIGNED` with the signature and `t_signed_ns`). In dry-run the
//! wire bytes go to the capture writer; live, to every endpoint ([`crate::send`]), whose
//! replies come back as events that become `SENT`, `LANDED` and `FAILED` reports. Every intent
//! gets at least one report, and every report is counted in the control block: nothing is
//! dropped silently. If the `reports` ring is full, reports wait in a local backlog (bounded;
//! beyond it they are counted in the ring's `overflows` and logged).
//!
//! The loop is the only writer of the `reports` ring and of the signer's control-block
//! counters. It stops when the control block's `run_state` is non-zero or the stop flag is
//! set (SIGTERM): it then processes every intent already in the ring, waits for the sends in
//! flight, gives the landing tracker one last poll, flushes the capture and returns.

use crate::blockhash::{spawn_refresher, BlockhashSource, RecentBlockhash};
use crate::capture::{CaptureRecord, CaptureWriter};
use crate::config::RouteConfig;
use crate::config::{Config, Mode, SignerConfig, WaitMode};
use crate::derive::{DerivedLeg, WhirlpoolFollow};
use crate::ledger::{self, Ledger, LedgerError, Recovery};
use crate::limits::{Context, EpochFence, Limits, Refusal, RouteRules};
use crate::preflight::Preflight;
use crate::programs::orca_whirlpool;
use crate::rpc::RpcClient;
use crate::send::{self, Event, Lander, SendPool};
use crate::signing::Signer;
use crate::template::{RouteTemplate, TemplateError, TradeFields, PACKET_DATA_SIZE};
use phantom_ringbuf::clock::{monotonic_ns, unix_ns};
use phantom_ringbuf::control::{Control, SignerCounter, Writer};
use phantom_ringbuf::names::segment_name;
use phantom_ringbuf::records::PoolState;
use phantom_ringbuf::records::{
    exec_error, exec_status, signer_mode, ExecReport, OrderIntent, StrategyBlock,
};
use phantom_ringbuf::ring::{Consumer, Producer, WaitStrategy};
use phantom_ringbuf::schema::Record;
use phantom_ringbuf::segment::SegmentError;
use phantom_ringbuf::table::Table;
use solana_address::Address;
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Intents read per batch.
const BATCH: usize = 64;
/// Reports kept while the `reports` ring is full; beyond this they are counted as overflows.
const MAX_BACKLOG: usize = 1 << 16;
/// How often heartbeats are refreshed.
const HEARTBEAT_NS: u64 = 50_000_000;
/// How often the kill-switch file is looked at.
const KILL_FILE_POLL: Duration = Duration::from_millis(5);
/// Longest idle wait for intents when nothing is in flight (the ring's producer wakes the
/// wait early; this bounds how stale heartbeats and stop checks get).
const IDLE_WAIT: Duration = Duration::from_millis(20);
/// Wait for intents while sends or landings are pending, so their events are reported
/// promptly.
const BUSY_WAIT: Duration = Duration::from_millis(1);

/// Why the signer could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A segment could not be attached.
    #[error(transparent)]
    Segment(#[from] SegmentError),
    /// A route could not be compiled.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// The write-ahead ledger could not be opened.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// A thread or file could not be started or opened.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
}

fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> EngineError {
    let what = what.into();
    move |source| EngineError::Io { what, source }
}

/// Compiles every route of `config` for the fee payer `payer`.
pub fn build_templates(
    config: &Config,
    payer: Address,
) -> Result<Vec<RouteTemplate>, TemplateError> {
    config
        .routes
        .iter()
        .enumerate()
        .map(|(i, r)| RouteTemplate::build(i as u32, r, payer))
        .collect()
}

/// What a run did, for the exit log line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Intents read.
    pub intents: u64,
    /// Accepted.
    pub accepted: u64,
    /// Rejected.
    pub rejected: u64,
    /// Signed.
    pub signed: u64,
    /// Sent.
    pub sent: u64,
    /// Landed.
    pub landed: u64,
    /// Failed.
    pub failed: u64,
    /// Capture lines written.
    pub captured: u64,
    /// Reports that found the ring and the backlog full.
    pub reports_lost: u64,
}

/// A transaction handed to the endpoints, until every endpoint answered and its fate is
/// known.
struct InFlight {
    report: ExecReport,
    /// The signed blockhash's last valid block height (0: unknown): the transaction can land
    /// until the chain passes it, and is expired only then.
    last_valid_block_height: u64,
    awaiting: usize,
    sent: bool,
    settled: bool,
    first_error: i32,
}

/// Whether the kill-switch file says "stop signing". Fails closed: the switch is off only
/// when the file provably does not exist, that is `lstat` says "no such file" *and* its
/// directory is a directory this process can search. A file (of any kind, a dangling
/// symlink included), a permission error, a missing or mistyped directory, or any other
/// error counts as on.
pub fn kill_file_on(path: &Path) -> bool {
    match std::fs::symlink_metadata(path) {
        Ok(_) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let dir = match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            // The directory must exist and be a directory (metadata follows a symlinked
            // directory, which is fine: the path is looked up through it the same way).
            !std::fs::metadata(dir).is_ok_and(|m| m.is_dir())
        }
        Err(_) => true,
    }
}

/// Watches the kill-switch file from a thread; the hot path reads one atomic.
struct KillFile {
    on: Arc<AtomicBool>,
    /// Dropping it ends the thread.
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl KillFile {
    fn start(path: PathBuf) -> std::io::Result<Self> {
        let on = Arc::new(AtomicBool::new(kill_file_on(&path)));
        let (stop_tx, stop_rx) = channel::<()>();
        let flag = Arc::clone(&on);
        let thread = std::thread::Builder::new()
            .name("kill-file".into())
            .spawn(move || loop {
                let exists = kill_file_on(&path);
                // Relaxed: a flag on its own; no other data is published with it.
                if flag.swap(exists, Ordering::Relaxed) != exists {
                    tracing::warn!(path = %path.display(), on = exists, "kill-switch file changed");
                }
                match stop_rx.recv_timeout(KILL_FILE_POLL) {
                    Err(RecvTimeoutError::Timeout) => {}
                    _ => return,
                }
            })?;
        Ok(KillFile {
            on,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }
}

impl Drop for KillFile {
    fn drop(&mut self) {
        self.stop = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The running signer.
pub struct Engine {
    cfg: SignerConfig,
    templates: Vec<RouteTemplate>,
    signer: Signer,
    limits: Limits,
    intents: Consumer<OrderIntent>,
    reports: Producer<ExecReport>,
    control: Control,
    blockhash: BlockhashSource,
    blockhash_stop: Option<Sender<()>>,
    blockhash_thread: Option<JoinHandle<()>>,
    kill_file: Option<KillFile>,
    capture: Option<CaptureWriter>,
    /// Preflight mode: the simulating thread (off the hot path).
    preflight: Option<Preflight>,
    ledger: Ledger,
    /// What the ledger rebuilt; its in-flight intents are reported when the loop starts.
    recovery: Option<Recovery>,
    /// The previous signer of this run acted on every intent up to this seq: they are not
    /// processed again (each was reported, or is reported as in flight).
    acted_through: Option<u64>,
    pool: Option<SendPool>,
    lander: Option<Lander>,
    events: Receiver<Event>,
    inflight: HashMap<u64, InFlight>,
    backlog: VecDeque<ExecReport>,
    wire: [u8; PACKET_DATA_SIZE],
    batch: Vec<OrderIntent>,
    summary: Summary,
    last_heartbeat_ns: u64,
    /// Routes whose Whirlpool legs follow the current tick (by route id), and the pools
    /// table their ticks are read from.
    following: Vec<Option<Following>>,
    pools: Option<Table<PoolState>>,
}

/// A route whose tick arrays follow its Whirlpool pools' current ticks: an intent with
/// `tick_array_variant = 0` is signed with the template for the ticks in the pools table;
/// when none was prepared, it is refused (`unsignable`) and the route's templates are
/// rebuilt around the new ticks after the batch, off the per-intent path.
#[derive(Clone, Debug)]
pub struct Following {
    /// The followed Whirlpool legs, in leg order.
    pub legs: Vec<WhirlpoolFollow>,
    /// The route as configured.
    pub route: RouteConfig,
    /// Its derived legs.
    pub derived: Vec<Option<DerivedLeg>>,
    /// Set when an intent found no template: rebuild around the current ticks.
    pub rebuild: bool,
}

/// Most Whirlpool legs a route has (one per leg).
const MAX_FOLLOWED: usize = crate::config::MAX_LEGS;

impl Engine {
    /// Attaches the instance's segments and starts the background threads. `live` is the
    /// already-checked decision to send (config `mode = "live"` and `--live`).
    pub fn new(
        config: &Config,
        instance: &str,
        live: bool,
        signer: Signer,
    ) -> Result<Self, EngineError> {
        let cfg = config.signer.clone();
        debug_assert!(!live || cfg.mode == Mode::Live);
        let payer = Address::new_from_array(signer.public_key());
        let templates = build_templates(config, payer)?;
        let mut limits = Limits::new(
            &cfg.limits,
            config.routes.iter().map(RouteRules::of).collect(),
            cfg.blockhash_max_age_ms,
        );
        let intents = Consumer::<OrderIntent>::attach(&segment_name(instance, "intents"), None)?;
        let reports = Producer::<ExecReport>::attach(&segment_name(instance, "reports"), None)?;
        let control = Control::attach(instance, Writer::Signer)?;
        let run = ledger::run_id(control.header());
        let ledger_path = ledger::default_path(instance, live).ok_or_else(|| EngineError::Io {
            what: "find the ledger's directory".into(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "neither XDG_STATE_HOME nor HOME is set",
            ),
        })?;
        let (ledger, recovery) = Ledger::open(
            &ledger_path,
            run,
            cfg.limits.max_intents_per_second,
            &mut limits,
            unix_ns(),
        )?;
        tracing::info!(
            ledger = %ledger_path.display(),
            run = format_args!("{run:016x}"),
            replayed = recovery.replayed,
            in_flight = recovery.in_flight.len(),
            committed_minute = recovery.committed.0,
            committed_day = recovery.committed.1,
            "ledger opened"
        );
        let acted_through = recovery.last_intent_seq;

        let (blockhash, blockhash_stop, blockhash_thread) = if cfg.rpc_endpoints.is_empty() {
            if live {
                // Config validation makes live need an endpoint; a Jito-only live config
                // has no way to learn a blockhash.
                tracing::warn!(
                    "live without rpc_endpoints: no blockhash source, every intent will be refused"
                );
                (BlockhashSource::fetched(), None, None)
            } else {
                tracing::info!(
                    "dry-run without rpc_endpoints: signing with the placeholder blockhash"
                );
                (BlockhashSource::Placeholder, None, None)
            }
        } else {
            let source = BlockhashSource::fetched();
            let timeout = Duration::from_millis(cfg.send_timeout_ms);
            let clients = cfg
                .rpc_endpoints
                .iter()
                .map(|u| RpcClient::new(u, timeout))
                .collect();
            let (tx, rx) = channel();
            let thread = spawn_refresher(
                clients,
                source.clone(),
                Duration::from_millis(cfg.blockhash_refresh_ms),
                rx,
            )
            .map_err(io_err("start the blockhash thread"))?;
            (source, Some(tx), Some(thread))
        };
        let kill_file = match &cfg.kill_switch_path {
            Some(p) => {
                Some(KillFile::start(p.clone()).map_err(io_err("start the kill-file thread"))?)
            }
            None => None,
        };
        let capture = match &cfg.capture_path {
            Some(p) => Some(
                CaptureWriter::open(p)
                    .map_err(io_err(format!("open capture file {}", p.display())))?,
            ),
            None => None,
        };
        let preflight = match (live, cfg.mode, cfg.rpc_endpoints.first()) {
            (false, Mode::Preflight, Some(endpoint)) => Some(
                Preflight::start(
                    endpoint,
                    Duration::from_millis(cfg.send_timeout_ms),
                    cfg.preflight_max_per_second,
                    config.routes.iter().map(|r| r.compute_unit_limit).collect(),
                    capture.as_ref(),
                    crate::preflight::stats_path(instance),
                )
                .map_err(io_err("start the preflight thread"))?,
            ),
            _ => None,
        };
        let (events_tx, events) = channel();
        let (pool, lander) = if live {
            let pool = SendPool::start(&cfg, events_tx.clone()).map_err(io_err("start senders"))?;
            let lander = if cfg.rpc_endpoints.is_empty() {
                None
            } else {
                Some(Lander::start(&cfg, events_tx).map_err(io_err("start the landing tracker"))?)
            };
            (Some(pool), lander)
        } else {
            (None, None)
        };
        Ok(Engine {
            following: Vec::new(),
            pools: None,
            cfg,
            templates,
            signer,
            limits,
            intents,
            reports,
            control,
            blockhash,
            blockhash_stop,
            blockhash_thread,
            kill_file,
            capture,
            preflight,
            ledger,
            recovery: Some(recovery),
            acted_through,
            pool,
            lander,
            events,
            inflight: HashMap::new(),
            backlog: VecDeque::with_capacity(1024),
            wire: [0; PACKET_DATA_SIZE],
            batch: Vec::with_capacity(BATCH),
            summary: Summary::default(),
            last_heartbeat_ns: 0,
        })
    }

    fn lease(&self) -> &StrategyBlock {
        self.control.strategy()
    }

    /// Tells `status` who the signer is: pid, mode, capture file.
    fn announce(&mut self, live: bool) {
        let path = self
            .capture
            .as_ref()
            .map(|c| c.path().to_string_lossy().into_owned())
            .unwrap_or_default();
        self.publish_budget();
        let w = self.control.signer();
        w.set_pid(std::process::id());
        let mode = if live {
            signer_mode::LIVE
        } else if self.preflight.is_some() {
            signer_mode::PREFLIGHT
        } else {
            signer_mode::DRY_RUN
        };
        w.announce(mode, &path);
    }

    /// Publishes the lamports committed in the rolling windows (they fall as time passes,
    /// so this runs with every heartbeat as well as after every commit).
    fn publish_budget(&mut self) {
        let (minute, day) = self.limits.committed_lamports(unix_ns());
        let limits = (
            self.cfg.limits.max_lamports_per_minute,
            self.cfg.limits.max_lamports_per_day,
        );
        self.control.signer().budget(minute, day, limits);
    }

    fn heartbeat(&mut self, now: u64) {
        if now.saturating_sub(self.last_heartbeat_ns) < HEARTBEAT_NS {
            return;
        }
        self.last_heartbeat_ns = now;
        self.publish_budget();
        self.control.signer().heartbeat(now);
        self.intents.heartbeat();
        self.reports.heartbeat();
    }

    fn stop_requested(&self, stop: &AtomicBool) -> bool {
        // Acquire: pairs with the supervisor's Release store of run_state.
        stop.load(Ordering::Relaxed) || self.control.stopping()
    }

    /// Reports the intents the previous signer of this run accepted and did not finish:
    /// `FAILED` with [`exec_error::IN_FLIGHT_AT_RESTART`] (they may have been signed and
    /// sent; they are never signed again).
    fn report_in_flight_at_restart(&mut self) {
        let Some(recovery) = self.recovery.take() else {
            return;
        };
        for f in &recovery.in_flight {
            tracing::warn!(
                intent_seq = f.intent_seq,
                tick_seq = f.tick_seq,
                route_id = f.route_id,
                "intent in flight when the previous signer died: reported, not signed again"
            );
            let mut r = ExecReport::zeroed();
            r.intent_seq = f.intent_seq;
            r.epoch = f.epoch;
            r.tick_seq = f.tick_seq;
            r.route_id = f.route_id;
            r.status = exec_status::FAILED;
            r.error_code = exec_error::IN_FLIGHT_AT_RESTART;
            r.t_landed_ns = monotonic_ns();
            // Relaxed: a statistics counter.
            self.control.signer().add(SignerCounter::Failed, 1);
            self.summary.failed += 1;
            self.emit(r);
        }
    }

    /// Runs until stopped (see the module doc); returns what it did.
    pub fn run(&mut self, stop: &AtomicBool, live: bool) -> Summary {
        self.announce(live);
        self.report_in_flight_at_restart();
        let wait = match self.cfg.wait {
            WaitMode::Adaptive => WaitStrategy::LEARNED,
            WaitMode::Spin => WaitStrategy::Spin,
        };
        tracing::info!(
            mode = if live {
                "live"
            } else if self.preflight.is_some() {
                "preflight"
            } else {
                "dry-run"
            },
            routes = self.templates.len(),
            endpoints = self.pool.as_ref().map_or(0, |p| p.endpoints().len()),
            "signer running"
        );
        loop {
            self.pump_events();
            self.flush_backlog();
            self.heartbeat(monotonic_ns());
            if self.stop_requested(stop) {
                break;
            }
            let timeout = if self.inflight.is_empty() {
                IDLE_WAIT
            } else {
                BUSY_WAIT
            };
            if self.intents.wait(wait, timeout) > 0 {
                self.process_available();
            }
        }
        tracing::info!("stop requested: draining");
        self.drain();
        self.summary
    }

    /// Processes everything in the ring now, then waits for the transactions in flight.
    fn drain(&mut self) {
        while self.intents.available() > 0 {
            self.process_available();
            self.pump_events();
            self.flush_backlog();
        }
        // Sends: every endpoint answers within send_timeout_ms of taking a job, and takes
        // jobs in order; allow for a queue of them, then give up (counted below).
        let deadline = monotonic_ns().saturating_add(
            self.cfg
                .send_timeout_ms
                .saturating_mul(1_000_000)
                .saturating_mul(1 + self.inflight.len() as u64),
        );
        while self.inflight.values().any(|f| f.awaiting > 0) && monotonic_ns() < deadline {
            self.heartbeat(monotonic_ns());
            match self.events.recv_timeout(BUSY_WAIT * 10) {
                Ok(e) => self.on_event(e),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            self.flush_backlog();
        }
        if let Some(lander) = self.lander.take() {
            lander.stop();
        }
        if let Some(pool) = self.pool.take() {
            pool.shutdown();
        }
        self.pump_events();
        for (key, f) in self.inflight.drain() {
            // Sends that never answered (or untracked landings): their fate is unknown.
            tracing::warn!(intent_seq = key, sent = f.sent, "fate unknown at stop");
        }
        self.blockhash_stop = None;
        if let Some(t) = self.blockhash_thread.take() {
            let _ = t.join();
        }
        self.kill_file = None;
        // Before the capture: the preflight thread writes its lines through it.
        if let Some(preflight) = self.preflight.take() {
            preflight.finish();
        }
        if let Some(capture) = self.capture.take() {
            match capture.finish() {
                Ok(n) => self.summary.captured = n,
                Err(e) => tracing::error!(error = %e, "capture file"),
            }
        }
        // The consumer may be gone: one last try, then what is left is counted.
        self.flush_backlog();
        if !self.backlog.is_empty() {
            let n = self.backlog.len() as u64;
            self.reports.count_overflow(n);
            self.summary.reports_lost += n;
            tracing::warn!(
                reports = n,
                "reports ring full at exit: reports not delivered (counted in its overflows)"
            );
        }
        self.heartbeat(u64::MAX);
    }

    fn process_available(&mut self) {
        self.batch.clear();
        let batch = &mut self.batch;
        // Read without releasing: each intent is handed back once acted on, so one that a
        // dying signer had read but not decided stays in the ring for its successor.
        self.intents
            .peek_batch_with(BATCH as u64, |rec, _| batch.push(*rec));
        if self.batch.is_empty() {
            return;
        }
        let t_read = monotonic_ns();
        // Loaded after the intents were acquired: the lease changes that made them were
        // published before them. lease_epoch first: the handover fields are stored before
        // the new epoch is.
        let c = self.lease();
        let current_epoch = c.lease_epoch.load(Ordering::Acquire);
        let fence = EpochFence {
            current_epoch,
            handover_epoch: c.handover_epoch.load(Ordering::Acquire),
            handover_intent_end: c.handover_intent_end.load(Ordering::Acquire),
        };
        let blockhash = self.blockhash.current();
        for k in 0..self.batch.len() {
            let intent = self.batch[k];
            if self.acted_through.is_some_and(|last| intent.seq <= last) {
                // The previous signer of this run accepted it (the ledger says so): it was
                // reported then, or as in flight at start; never signed twice.
                tracing::debug!(intent_seq = intent.seq, "acted on before the restart");
            } else {
                self.handle(&intent, t_read, fence, blockhash);
            }
            self.intents.release(1);
        }
        self.summary.intents += self.batch.len() as u64;
        if self.following.iter().flatten().any(|f| f.rebuild) {
            self.rebuild_templates();
        }
        self.heartbeat(monotonic_ns());
    }

    /// Follows the current tick on the routes of `following` (by route id), reading the
    /// instance's `pools` table.
    pub fn follow(
        &mut self,
        instance: &str,
        following: Vec<Option<Following>>,
    ) -> Result<(), EngineError> {
        if following.iter().any(Option::is_some) {
            // Read-only: only the feeder writes the pools table.
            self.pools = Some(Table::<PoolState>::attach_as(
                &segment_name(instance, "pools"),
                None,
                phantom_ringbuf::shm::Access::ReadOnly,
            )?);
        }
        self.following = following;
        Ok(())
    }

    /// The current tick of the followed legs of `route` (the pools table's, or the one
    /// seen at derivation while the feeder has not published the pool yet).
    fn current_ticks(&self, f: &Following, out: &mut [i32; MAX_FOLLOWED]) -> usize {
        let n = f.legs.len().min(MAX_FOLLOWED);
        for (k, leg) in f.legs.iter().take(n).enumerate() {
            let entry = self
                .pools
                .as_ref()
                .filter(|t| (leg.pool as usize) < t.capacity())
                .and_then(|t| t.read(leg.pool as usize))
                .filter(|e| e.updates > 0);
            out[k] = entry.map_or(leg.tick_current, |e| e.tick_current);
        }
        n
    }

    /// The template of `route` for the current ticks; `None` when the route does not
    /// follow ticks (the intent's variant is used as is) or when none was prepared.
    fn current_variant(&self, route: usize) -> Option<u32> {
        let f = self.following.get(route)?.as_ref()?;
        let mut ticks = [0i32; MAX_FOLLOWED];
        let n = self.current_ticks(f, &mut ticks);
        let mut keys = [0i32; MAX_FOLLOWED];
        for k in 0..n {
            let leg = &f.legs[k];
            keys[k] =
                orca_whirlpool::tick_array_starts(ticks[k], leg.tick_spacing, leg.direction)[0];
        }
        self.templates[route].variant_for_start_ticks(&keys[..n])
    }

    /// Rebuilds the templates of routes whose intents found none for the current ticks.
    fn rebuild_templates(&mut self) {
        for r in 0..self.following.len() {
            let Some(f) = self.following[r].as_ref().filter(|f| f.rebuild) else {
                continue;
            };
            let mut ticks = [0i32; MAX_FOLLOWED];
            let n = self.current_ticks(f, &mut ticks);
            let route = crate::derive::resolve_route(&f.route, &f.derived, &ticks[..n]);
            let payer = Address::new_from_array(self.signer.public_key());
            match RouteTemplate::build(r as u32, &route, payer) {
                Ok(t) => {
                    tracing::info!(route_id = r, ticks = ?&ticks[..n], variants = t.variant_count(), "tick-array templates rebuilt");
                    self.templates[r] = t;
                }
                Err(e) => {
                    tracing::error!(route_id = r, error = %e, "tick-array templates not rebuilt")
                }
            }
            if let Some(f) = self.following[r].as_mut() {
                f.rebuild = false;
            }
        }
    }

    fn kill_switch_on(&self) -> bool {
        self.control.kill_switch()
            || self
                .kill_file
                .as_ref()
                .is_some_and(|k| k.on.load(Ordering::Relaxed))
    }

    fn base_report(intent: &OrderIntent, t_read: u64) -> ExecReport {
        let mut r = ExecReport::zeroed();
        r.intent_seq = intent.seq;
        r.epoch = intent.epoch;
        r.tick_seq = intent.tick_seq;
        r.route_id = intent.route_id;
        r.t_intent_read_ns = t_read;
        r
    }

    fn handle(
        &mut self,
        intent: &OrderIntent,
        t_read: u64,
        fence: EpochFence,
        blockhash: Option<RecentBlockhash>,
    ) {
        let now = monotonic_ns();
        let ctx = Context {
            now_ns: now,
            wall_ns: unix_ns(),
            kill_switch: self.kill_switch_on(),
            fence,
            blockhash_age_ns: blockhash.map(|b| now.saturating_sub(b.fetched_ns)),
        };
        let base = Self::base_report(intent, t_read);
        let commit = match self.limits.check(intent, &ctx) {
            Ok(commit) => commit,
            Err(reason) => {
                self.reject(base, reason);
                return;
            }
        };
        // Write-ahead: the ledger knows of the intent before anything is signed.
        self.ledger.write_ahead(&commit, intent.epoch, intent.seq);
        let Some(blockhash) = blockhash else {
            // Unreachable: the limits refuse an intent without a blockhash.
            self.limits.refuse_accepted(Refusal::BlockhashTooOld);
            self.ledger.finish();
            self.reject(base, Refusal::BlockhashTooOld);
            return;
        };
        let mut fields = TradeFields::from(intent);
        if fields.variant == 0 {
            if let Some(v) = self.current_variant(intent.route_id as usize) {
                fields.variant = v;
            } else if let Some(Some(f)) = self.following.get_mut(intent.route_id as usize) {
                // The price left the prepared tick arrays: rebuilt after this batch.
                f.rebuild = true;
                tracing::info!(
                    route_id = intent.route_id,
                    intent_seq = intent.seq,
                    "no template for the pool's current tick arrays: refused, rebuilding"
                );
                self.limits.refuse_accepted(Refusal::Unsignable);
                self.ledger.finish();
                self.reject(base, Refusal::Unsignable);
                return;
            }
        }
        let template = &mut self.templates[intent.route_id as usize];
        let signed = template.sign_into(&fields, &blockhash.hash, &mut self.signer, &mut self.wire);
        let t_signed = monotonic_ns();
        let len = match signed {
            Ok(len) => len,
            Err(e) => {
                tracing::debug!(intent_seq = intent.seq, error = %e, "unsignable intent");
                self.limits.refuse_accepted(Refusal::Unsignable);
                self.ledger.finish();
                self.reject(base, Refusal::Unsignable);
                return;
            }
        };
        let mut signature = [0u8; 64];
        signature.copy_from_slice(&self.wire[1..65]);

        let w = self.control.signer();
        w.add(SignerCounter::Accepted, 1);
        w.add(SignerCounter::Signed, 1);
        self.summary.accepted += 1;
        self.summary.signed += 1;
        self.emit(ExecReport {
            status: exec_status::ACCEPTED,
            ..base
        });
        let signed_report = ExecReport {
            status: exec_status::SIGNED,
            signature,
            t_signed_ns: t_signed,
            ..base
        };
        self.emit(signed_report);

        if self.capture.is_some() || self.preflight.is_some() {
            let record = CaptureRecord {
                epoch: intent.epoch,
                intent_seq: intent.seq,
                tick_seq: intent.tick_seq,
                route_id: intent.route_id,
                signature,
                t_signed_ns: t_signed,
                hops: [
                    intent.t_tick_recv_ns,
                    intent.t_tick_pub_ns,
                    intent.t_strategy_read_ns,
                    intent.t_intent_ns,
                    t_read,
                ],
                tx: self.wire[..len].to_vec(),
                preflight: None,
            };
            if let Some(preflight) = &self.preflight {
                // Simulated off the hot path; its capture line is written once it is.
                preflight.submit(record);
            } else if let Some(capture) = &self.capture {
                Self::capture_line(capture, record, self.pool.is_some());
            }
        }
        match &self.pool {
            Some(pool) if !pool.endpoints().is_empty() => {
                pool.send(intent.seq, &self.wire[..len]);
                self.inflight.insert(
                    intent.seq,
                    InFlight {
                        report: signed_report,
                        last_valid_block_height: blockhash.last_valid_block_height,
                        awaiting: pool.endpoints().len(),
                        sent: false,
                        settled: false,
                        first_error: 0,
                    },
                );
            }
            // Dry-run: signing is the end of the intent.
            _ => self.limits.finish(),
        }
        self.ledger.finish();
        self.publish_budget();
    }

    fn capture_line(capture: &CaptureWriter, record: CaptureRecord, live: bool) {
        if live {
            // Live: the line is in the file (page cache) before the transaction leaves.
            if let Err(e) = capture.write_now(&record) {
                tracing::error!(error = %e, "capture file: line not written");
            }
        } else {
            capture.record(record);
        }
    }

    fn reject(&mut self, base: ExecReport, reason: Refusal) {
        self.control.signer().rejected(reason.code());
        self.summary.rejected += 1;
        self.emit(ExecReport {
            status: exec_status::REJECTED,
            reason: reason.code(),
            ..base
        });
    }

    fn emit(&mut self, report: ExecReport) {
        if self.backlog.is_empty() && self.reports.try_push(&report) {
            return;
        }
        if self.backlog.len() >= MAX_BACKLOG {
            // Oldest first out: counted, never silent.
            self.backlog.pop_front();
            self.reports.count_overflow(1);
            self.summary.reports_lost += 1;
            if self.summary.reports_lost.is_power_of_two() {
                tracing::warn!(
                    lost = self.summary.reports_lost,
                    "reports ring and backlog full: reports lost (is anything consuming reports?)"
                );
            }
        }
        self.backlog.push_back(report);
    }

    fn flush_backlog(&mut self) {
        while let Some(front) = self.backlog.front() {
            if !self.reports.try_push(front) {
                return;
            }
            self.backlog.pop_front();
        }
    }

    fn pump_events(&mut self) {
        if self.pool.is_none() {
            return;
        }
        let mut pending = Vec::new();
        send::drain(&self.events, |e| pending.push(e));
        for e in pending {
            self.on_event(e);
        }
    }

    fn on_event(&mut self, event: Event) {
        let key = match &event {
            Event::Sent { key, .. }
            | Event::SendFailed { key, .. }
            | Event::Landed { key, .. }
            | Event::LandFailed { key, .. } => *key,
        };
        let Some(mut f) = self.inflight.remove(&key) else {
            return;
        };
        match event {
            Event::Sent { t_ns, endpoint, .. } => {
                f.awaiting = f.awaiting.saturating_sub(1);
                if !f.sent {
                    f.sent = true;
                    f.report.t_sent_ns = t_ns;
                    self.control.signer().add(SignerCounter::Sent, 1);
                    self.summary.sent += 1;
                    tracing::debug!(intent_seq = key, endpoint, "sent");
                    self.emit(ExecReport {
                        status: exec_status::SENT,
                        ..f.report
                    });
                    match &self.lander {
                        Some(lander) => {
                            lander.track(key, f.report.signature, f.last_valid_block_height);
                        }
                        None => {
                            // No RPC endpoint to poll (Jito only): sent is the last word.
                            f.settled = true;
                            self.limits.finish();
                        }
                    }
                }
            }
            Event::SendFailed { code, .. } => {
                f.awaiting = f.awaiting.saturating_sub(1);
                if f.first_error == 0 {
                    f.first_error = code;
                }
                if f.awaiting == 0 && !f.sent {
                    f.settled = true;
                    self.fail(&f.report, 0, f.first_error, monotonic_ns());
                }
            }
            Event::Landed { slot, t_ns, .. } => {
                f.settled = true;
                self.control.signer().add(SignerCounter::Landed, 1);
                self.summary.landed += 1;
                self.limits.finish();
                self.emit(ExecReport {
                    status: exec_status::LANDED,
                    slot,
                    t_landed_ns: t_ns,
                    ..f.report
                });
            }
            Event::LandFailed {
                slot, code, t_ns, ..
            } => {
                f.settled = true;
                self.fail(&f.report, slot, code, t_ns);
            }
        }
        if f.awaiting > 0 || !f.settled {
            self.inflight.insert(key, f);
        }
    }

    fn fail(&mut self, report: &ExecReport, slot: u64, code: i32, t_ns: u64) {
        self.control.signer().add(SignerCounter::Failed, 1);
        self.summary.failed += 1;
        self.limits.finish();
        self.emit(ExecReport {
            status: exec_status::FAILED,
            slot,
            error_code: code,
            t_landed_ns: t_ns,
            ..*report
        });
    }
}

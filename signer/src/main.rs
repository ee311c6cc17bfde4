//! `phantom-signer`: the signer process (DESIGN §2, §6).
//!
//! ```text
//! phantom-signer --instance NAME --config FILE [--check-config] [--live] [--supervisor-pid PID]
//! phantom-signer --generate-keypair PATH
//! phantom-signer --config FILE --print-routes [--rpc URL] [--wallet PUBKEY]
//! ```
//!
//! Legs given by pool and direction are derived at start from the first of
//! `[signer].rpc_endpoints` (see `phantom_signer::derive`); `--print-routes` prints every
//! route's accounts with their sources as JSON and exits 0, or 1 when they cannot be
//! derived.
//!
//! Dry-run is the default; sending needs `mode = "live"` in the config *and* `--live`. The
//! process disables core dumps before it touches the key, logs to stderr with `tracing`
//! (never key material), exits non-zero on a panic, and on SIGTERM/SIGINT or the control
//! block's `run_state` drains the intents already queued and exits 0. With
//! `--supervisor-pid` SIGTERM is also its death signal: a signer whose supervisor dies
//! stops taking intents, drains and exits like on `stop`.

use clap::Parser;
use phantom_signer::config::{Config, ConfigError, Mode, SigningMode};
use phantom_signer::engine::{build_templates, Engine};
use phantom_signer::keypair::Keypair;
use phantom_signer::routes;
use phantom_signer::signing::Signer;
use solana_address::Address;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by SIGTERM/SIGINT.
static STOP: AtomicBool = AtomicBool::new(false);

/// The signer of phantom-pipeline: intents from the strategy into signed Solana transactions,
/// within limits the strategy cannot bypass.
#[derive(Debug, Parser)]
#[command(name = "phantom-signer", version)]
struct Args {
    /// Instance whose segments to attach (`phantom-<instance>-<role>`).
    #[arg(
        long,
        value_name = "NAME",
        required_unless_present_any = ["generate_keypair", "print_routes"]
    )]
    instance: Option<String>,
    /// The pipeline's TOML config; the signer reads `[signer]`, `[[routes]]`, `[[pools]]`.
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "generate_keypair"
    )]
    config: Option<PathBuf>,
    /// Validate the config (and the key file, and every route's template) and exit 0 or 1.
    #[arg(long)]
    check_config: bool,
    /// Send transactions; the config must also say `mode = "live"`.
    #[arg(long)]
    live: bool,
    /// Write a fresh keypair JSON file (mode 0600, never overwriting) and exit.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["check_config", "live", "instance", "config"])]
    generate_keypair: Option<PathBuf>,
    /// Print every route's accounts, each with its source, as JSON (hand-written overrides
    /// and missing wallet token accounts listed), and exit.
    #[arg(long, conflicts_with_all = ["check_config", "live", "instance"])]
    print_routes: bool,
    /// The JSON-RPC endpoint pools are read from (default: the first of
    /// `[signer].rpc_endpoints`).
    #[arg(long, value_name = "URL")]
    rpc: Option<String>,
    /// The wallet whose token accounts are derived (default: the key file's public key).
    #[arg(long, value_name = "PUBKEY", requires = "print_routes")]
    wallet: Option<String>,
    /// The supervisor's pid: this process sets SIGTERM as its death signal and exits at
    /// once if its parent is not this pid (the supervisor died before it could ask).
    #[arg(long, value_name = "PID")]
    supervisor_pid: Option<u32>,
}

fn main() -> ExitCode {
    init_logging();
    install_panic_hook();
    if let Err(e) = harden() {
        tracing::error!(error = %e, "cannot disable core dumps; refusing to load a key");
        return ExitCode::FAILURE;
    }
    let args = Args::parse();
    if let Some(pid) = args.supervisor_pid {
        if let Err(e) = phantom_ringbuf::process::die_with_supervisor(pid) {
            eprintln!("phantom-signer: {e}");
            return ExitCode::FAILURE;
        }
    }
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("phantom-signer: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), String> {
    if let Some(path) = &args.generate_keypair {
        let keypair = Keypair::generate().map_err(|e| format!("OS random source: {e}"))?;
        keypair.write_new(path).map_err(|e| e.to_string())?;
        println!(
            "wrote a new keypair for {} to {}",
            keypair.pubkey(),
            path.display()
        );
        return Ok(());
    }
    if args.print_routes {
        let Some(config_path) = &args.config else {
            return Err("--print-routes needs --config".into());
        };
        let config = load_config(config_path)?;
        let wallet = match &args.wallet {
            Some(w) => w
                .parse::<Address>()
                .map_err(|_| format!("--wallet: {w:?} is not a base58 address"))?,
            None => wallet_of(&config)?,
        };
        let rpc = rpc_url(&config, args.rpc.as_deref());
        // Overrides and missing token accounts are in the report; judging them is the
        // caller's (`phantom-pipeline routes --check`). Exit 1: not derived at all.
        let (report, _clean) = routes::print_routes(&config, wallet, rpc.as_deref())?;
        println!("{report}");
        return Ok(());
    }
    let (Some(instance), Some(config_path)) = (&args.instance, &args.config) else {
        return Err("--instance and --config are required".into());
    };
    phantom_ringbuf::names::validate_instance(instance).map_err(|e| e.to_string())?;
    let config = load_config(config_path)?;
    if args.check_config {
        // The supervisor checks without --live; with it, the live gate is checked too.
        if args.live {
            live_decision(config.signer.mode, true)?;
        }
        check(&config, args.rpc.as_deref())?;
        println!(
            "{}: signer config OK ({} routes, mode {})",
            config_path.display(),
            config.routes.len(),
            match config.signer.mode {
                Mode::Live => "live",
                Mode::Preflight => "preflight",
                Mode::DryRun => "dry-run",
            }
        );
        return Ok(());
    }
    let live = live_decision(config.signer.mode, args.live)?;
    let keypair = load_key(&config)?;
    let payer = keypair.pubkey();
    let rpc = rpc_url(&config, args.rpc.as_deref());
    let (config, following) =
        routes::derive_at_start(&config, payer, rpc.as_deref(), live).map_err(|e| e.to_string())?;
    tracing::info!(instance = %instance, fee_payer = %keypair.pubkey(), "starting");
    let signer = match config.signer.signing {
        SigningMode::Rfc8032 => Signer::rfc8032(keypair.signing_key()),
        SigningMode::PrecomputedNonce => {
            Signer::precomputed_nonce(keypair.signing_key(), config.signer.nonce_pool_size)
        }
    };
    // The signer holds its own copy; this one is zeroized now.
    drop(keypair);
    install_signal_handlers().map_err(|e| format!("installing signal handlers: {e}"))?;
    let mut engine = Engine::new(&config, instance, live, signer).map_err(|e| e.to_string())?;
    engine
        .follow(instance, following)
        .map_err(|e| e.to_string())?;
    let summary = engine.run(&STOP, live);
    drop(engine);
    tracing::info!(?summary, "stopped");
    Ok(())
}

fn load_config(path: &Path) -> Result<Config, String> {
    Config::load(path).map_err(|e| match e {
        ConfigError::Invalid { .. } => format!("{}: {e}", path.display()),
        ConfigError::Read { .. } => e.to_string(),
    })
}

/// Live only when both the config and the command line say so; a mismatch is refused rather
/// than guessed at.
fn live_decision(mode: Mode, flag: bool) -> Result<bool, String> {
    match (mode, flag) {
        (Mode::DryRun | Mode::Preflight, false) => Ok(false),
        (Mode::Live, true) => Ok(true),
        (Mode::Live, false) => Err(
            "signer.mode is \"live\" but --live was not given: refusing to send. Pass --live \
             to send real transactions, or set mode = \"dry-run\""
                .into(),
        ),
        (Mode::DryRun, true) => Err(
            "--live was given but signer.mode is \"dry-run\": refusing to send. Set \
             mode = \"live\" in the config as well"
                .into(),
        ),
        (Mode::Preflight, true) => Err(
            "--live was given but signer.mode is \"preflight\" (simulate only): refusing to \
             send. Set mode = \"live\" in the config as well"
                .into(),
        ),
    }
}

fn load_key(config: &Config) -> Result<Keypair, String> {
    match &config.signer.keypair_path {
        Some(path) => Keypair::load(path).map_err(|e| format!("signer.keypair_path: {e}")),
        None => {
            // Config validation allows this in dry-run only.
            tracing::info!("no keypair_path: using a throwaway key (dry-run)");
            Keypair::generate().map_err(|e| format!("OS random source: {e}"))
        }
    }
}

/// Everything `--check-config` checks beyond parsing: the key file (permissions, shape) and
/// that every route compiles into a transaction that fits a packet.
fn check(config: &Config, rpc: Option<&str>) -> Result<(), String> {
    let payer = match &config.signer.keypair_path {
        Some(path) => Keypair::load(path)
            .map_err(|e| format!("signer.keypair_path: {e}"))?
            .pubkey(),
        None => Address::new_from_array([1; 32]),
    };
    let rpc = rpc_url(config, rpc);
    match routes::derive_at_start(config, payer, rpc.as_deref(), false) {
        Ok((config, _)) => {
            build_templates(&config, payer).map_err(|e| e.to_string())?;
        }
        Err(routes::StartError::Unreachable(e)) => {
            // The config is checked; the derivation needs the RPC, which start needs too
            // (and refuses to start without). Routes given in full are still built.
            eprintln!(
                "phantom-signer: warning: legs given by pool were not derived ({e}); \
                 `phantom-pipeline routes --config FILE --check` derives them"
            );
            for (i, route) in config.routes.iter().enumerate() {
                if route.legs.iter().any(|l| {
                    l.is_derived(&config.pools) && phantom_signer::derive::needs_derivation(l)
                }) {
                    continue;
                }
                phantom_signer::template::RouteTemplate::build(i as u32, route, payer)
                    .map_err(|e| e.to_string())?;
            }
        }
        Err(e) => return Err(e.to_string()),
    }
    Ok(())
}

/// The wallet of the key file (`--print-routes` without `--wallet`).
fn wallet_of(config: &Config) -> Result<Address, String> {
    match &config.signer.keypair_path {
        Some(path) => Ok(Keypair::load(path)
            .map_err(|e| format!("signer.keypair_path: {e}"))?
            .pubkey()),
        None => Err(
            "no signer.keypair_path: pass --wallet PUBKEY to derive the wallet's token accounts"
                .into(),
        ),
    }
}

/// `--rpc`, else the first of `[signer].rpc_endpoints`.
fn rpc_url(config: &Config, flag: Option<&str>) -> Option<String> {
    flag.map(str::to_owned)
        .or_else(|| config.signer.rpc_endpoints.first().cloned())
}

fn init_logging() {
    let level = std::env::var("PHANTOM_LOG")
        .ok()
        .and_then(|v| v.parse::<tracing_subscriber::filter::LevelFilter>().ok())
        .unwrap_or(tracing_subscriber::filter::LevelFilter::INFO);
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_target(false)
        .with_thread_names(true)
        .init();
}

/// Logs the panic (message and location; no key material is ever formatted into one) and
/// exits non-zero at once, whichever thread panicked: a signer with a dead thread must not
/// limp on.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        tracing::error!(thread = thread.name().unwrap_or("?"), "panic: {info}");
        std::process::exit(101);
    }));
}

/// No core dump may carry the key: RLIMIT_CORE 0 and not dumpable (which also keeps other
/// processes of the same user from ptrace-attaching).
fn harden() -> std::io::Result<()> {
    let zero = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: setrlimit reads the struct we pass by pointer; it lives across the call.
    if unsafe { libc::setrlimit(libc::RLIMIT_CORE, &zero) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: prctl(PR_SET_DUMPABLE, 0) takes plain integer arguments and touches no memory
    // of ours.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

extern "C" fn on_stop_signal(_: libc::c_int) {
    // Async-signal-safe: one atomic store.
    STOP.store(true, Ordering::Relaxed);
}

fn install_signal_handlers() -> std::io::Result<()> {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value; we then set the
        // handler to a function that only stores an atomic (async-signal-safe), and
        // sigaction reads the struct during the call only.
        let rc = unsafe {
            let mut action: libc::sigaction = core::mem::zeroed();
            action.sa_sigaction = on_stop_signal as extern "C" fn(libc::c_int) as usize;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, core::ptr::null_mut())
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn flags_are_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn live_needs_both_config_and_flag() {
        assert_eq!(live_decision(Mode::DryRun, false), Ok(false));
        assert_eq!(live_decision(Mode::Live, true), Ok(true));
        assert!(live_decision(Mode::Live, false)
            .expect_err("refused")
            .contains("--live was not given"));
        assert_eq!(live_decision(Mode::Preflight, false), Ok(false));
        assert!(live_decision(Mode::Preflight, true)
            .unwrap_err()
            .contains("preflight"));
        assert!(live_decision(Mode::DryRun, true)
            .expect_err("refused")
            .contains("mode = \"live\""));
    }
}

//! `phantom-sim`: a local Solana market for phantom-pipeline and for any Solana client.
//!
//! JSON-RPC over HTTP on `--port` (default 8899) and PubSub over WebSocket on `--port + 1`,
//! as `solana-test-validator` lays them out. Pools start from real mainnet account snapshots
//! (Raydium AMM v4, Raydium CPMM, Orca Whirlpool) and move: each pair follows a random-walk
//! fair price, pools of a pair are noisy around it and now and then dislocated, slots advance
//! every `--slot-ms`. Prints one JSON line with the endpoints and the pools when ready.
//!
//! With `--programs DIR` transactions execute on the real programs in an embedded SVM
//! (`phantom_sim::svm`); a program without a binary is modelled, and the ready line says
//! which (`"executed"`, `"modelled"`). `--fund-wallet PUBKEY` gives a trader lamports and a
//! funded associated token account for every mint.

use clap::Parser;
use phantom_ringbuf::clock::monotonic_ns;
use phantom_sim::codec;
use phantom_sim::market::{Market, MarketParams, PoolModel, SimPool};
use phantom_sim::state::{Account, Event, State};
use phantom_sim::traders::Trader;
use phantom_sim::world::{self, WorldPool};
use phantom_sim::{pubsub, rpc, sendlog, svm};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::broadcast;

#[derive(Parser, Debug)]
#[command(
    name = "phantom-sim",
    version,
    about = "Local Solana market simulator (PubSub + JSON-RPC)"
)]
struct Args {
    /// JSON-RPC (HTTP) port; PubSub (WebSocket) listens on port + 1. 0 picks free ports.
    #[arg(long, default_value_t = 8899)]
    port: u16,
    /// Account notifications per second (all pools together).
    #[arg(long, default_value_t = 1000.0)]
    rate: f64,
    /// Slot length in milliseconds.
    #[arg(long, default_value_t = 400)]
    slot_ms: u64,
    /// Seed of the price process (same seed, same market).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Per-step relative move of a pair's fair price.
    #[arg(long, default_value_t = 2e-4)]
    volatility: f64,
    /// Probability that a step dislocates its pool.
    #[arg(long, default_value_t = 0.01)]
    dislocation_probability: f64,
    /// Size of a dislocation (relative).
    #[arg(long, default_value_t = 0.01)]
    dislocation: f64,
    /// Append a 24-byte record per notification frame sent (see sendlog.rs).
    #[arg(long)]
    send_log: Option<PathBuf>,
    /// Stop after this many seconds (default: run until killed).
    #[arg(long)]
    duration_s: Option<f64>,
    /// Stop moving prices after this many market steps, but keep serving (tests compare a
    /// frozen market's accounts with what a client made of the notifications).
    #[arg(long)]
    steps: Option<u64>,
    /// Hold the market (slots, prices, notifications) until this many `accountSubscribe`
    /// requests for served accounts have arrived, so every client of a benchmark sees the
    /// same stream from its first step. `--duration-s` counts from the start of the market.
    #[arg(long, default_value_t = 0)]
    start_after_subscriptions: u64,
    /// Hold the market until a line arrives on stdin (a benchmark starts it once its client
    /// is ready); combines with --start-after-subscriptions (both must be met).
    #[arg(long)]
    start_on_stdin: bool,
    /// Keep serving (JSON-RPC, PubSub, frames still queued) after `--duration-s` ends the
    /// market, until killed: a benchmark stops its client first.
    #[arg(long)]
    hold: bool,
    /// Serve the `[[pools]]` of this instance config (kind, address, vaults) instead of the
    /// default four pools; each is built from the real snapshot of its kind.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Fault: close each connection after N notifications.
    #[arg(long, default_value_t = 0)]
    drop_every: u64,
    /// Fault: stall each connection for --stall-ms every N notifications.
    #[arg(long, default_value_t = 0)]
    stall_every: u64,
    /// Fault: length of a stall.
    #[arg(long, default_value_t = 0)]
    stall_ms: u64,
    /// Fault: probability of a duplicated notification.
    #[arg(long, default_value_t = 0.0)]
    duplicate_probability: f64,
    /// Fault: probability of swapping two notifications.
    #[arg(long, default_value_t = 0.0)]
    reorder_probability: f64,
    /// Fault: probability of a malformed frame.
    #[arg(long, default_value_t = 0.0)]
    malformed_probability: f64,
    /// Fault: every N-th notification of a connection claims slot 2^63 (account and slot
    /// notifications alike; 0: never).
    #[arg(long, default_value_t = 0)]
    lying_slot_every: u64,
    /// Fault: after every 200 notifications of a connection, one frame of this many bytes
    /// (0: never).
    #[arg(long, default_value_t = 0)]
    oversized_frame_bytes: usize,
    /// Fault: after each subscription reply, this many more replies to the same request with
    /// fresh subscription ids.
    #[arg(long, default_value_t = 0)]
    subscription_reply_flood: u64,
    /// Fault: every account notification names this owner (base58) instead of the account's
    /// real one; JSON-RPC answers stay truthful.
    #[arg(long, value_parser = parse_address)]
    wrong_owner: Option<[u8; 32]>,
    /// Fault: hold every JSON-RPC answer this many milliseconds.
    #[arg(long, default_value_t = 0)]
    rpc_stall_ms: u64,
    /// The hostile faults (--lying-slot-every, --oversized-frame-bytes,
    /// --subscription-reply-flood, --wrong-owner, --rpc-stall-ms) stop when the market stops
    /// moving (--steps), so the endpoint behaves from then on.
    #[arg(long)]
    faults_end_with_market: bool,
    /// The hostile faults take turns: for S seconds only --lying-slot-every acts, then only
    /// --oversized-frame-bytes, --subscription-reply-flood, --wrong-owner, --rpc-stall-ms,
    /// then S seconds of none, and again (0: all act at once).
    #[arg(long, default_value_t = 0.0)]
    fault_cycle_s: f64,
    /// The supervisor's pid: this process sets SIGTERM as its death signal and exits at
    /// once if its parent is not this pid (the supervisor died before it could ask).
    #[arg(long, value_name = "PID")]
    supervisor_pid: Option<u32>,
    /// Execute transactions on the real programs: the directory of their binaries
    /// (`raydium_cp_swap.so`, `whirlpool.so`, `raydium_amm_v4.so`; those present are loaded
    /// into an embedded SVM, the others are modelled).
    #[arg(long, value_name = "DIR")]
    programs: Option<PathBuf>,
    /// The Python interpreter of the SVM executor (it needs `solders` >= 0.29).
    #[arg(long, default_value = "python3")]
    python: String,
    /// Give this wallet 1 000 SOL and, for every mint of the world, a token account with a
    /// million tokens at its associated token account address (repeatable).
    #[arg(long, value_name = "PUBKEY", value_parser = parse_address)]
    fund_wallet: Vec<[u8; 32]>,
    /// One more token account of the (first) --fund-wallet at ADDRESS, of MINT, funded like
    /// its ATAs: for routes that name accounts other than the ATAs (repeatable). MINT is an
    /// address, or KIND.a / KIND.b: the token a / b mint of the first pool of KIND
    /// (e.g. raydium_cpmm.a).
    #[arg(long, value_name = "ADDRESS:MINT", value_parser = parse_token_account)]
    fund_token_account: Vec<([u8; 32], MintRef)>,
    /// With --programs: the walk's moves of executed pools are other traders' swaps,
    /// executed on the programs; the market steps at most this many times a second.
    #[arg(long, default_value_t = 50.0)]
    trades_per_second: f64,
}

/// A mint named on the command line.
#[derive(Debug, Clone, Copy)]
enum MintRef {
    /// By address.
    Address([u8; 32]),
    /// Token a (0) or b (1) of the first pool of a kind.
    Side(world::Kind, usize),
}

fn parse_token_account(s: &str) -> Result<([u8; 32], MintRef), String> {
    let (a, m) = s
        .split_once(':')
        .ok_or_else(|| format!("{s:?}: expected ADDRESS:MINT"))?;
    let mint = match m.rsplit_once('.') {
        Some((kind, side @ ("a" | "b"))) => {
            MintRef::Side(world::Kind::parse(kind)?, usize::from(side == "b"))
        }
        _ => MintRef::Address(codec::address(m)?),
    };
    Ok((codec::address(a)?, mint))
}

fn parse_address(s: &str) -> Result<[u8; 32], String> {
    codec::address(s)
}

/// Apply a pool's new state to its accounts; returns the changed account indices.
fn apply(world_pool: &WorldPool, pool: &SimPool, state: &State, out: &mut Vec<usize>) {
    out.clear();
    match pool.model {
        PoolModel::ConstantProduct => {
            for (i, amount) in [(1, pool.reserve_a), (2, pool.reserve_b)] {
                let idx = world_pool.accounts[i];
                if let Some(a) = state_account(state, idx) {
                    let mut data = a.data.clone();
                    codec::set_token_amount(&mut data, amount);
                    state.set_data(idx, data);
                    out.push(idx);
                }
            }
        }
        PoolModel::Concentrated => {
            let idx = world_pool.accounts[0];
            if let Some(a) = state_account(state, idx) {
                let mut data = a.data.clone();
                codec::set_whirlpool_price(
                    &mut data,
                    pool.liquidity,
                    pool.sqrt_price_x64,
                    pool.tick,
                );
                state.set_data(idx, data);
                out.push(idx);
            }
        }
    }
}

/// Re-read a pool's model state from its accounts (a landed transaction may have moved it).
fn resync(pool: &mut SimPool, world_pool: &WorldPool, state: &State) {
    match pool.model {
        PoolModel::ConstantProduct => {
            let amount = |k: usize| {
                state_account(state, world_pool.accounts[k])
                    .and_then(|a| codec::token_amount(&a.data))
            };
            if let (Some(a), Some(b)) = (amount(1), amount(2)) {
                pool.reserve_a = a.max(1);
                pool.reserve_b = b.max(1);
            }
        }
        PoolModel::Concentrated => {
            if let Some((liquidity, sqrt_price_x64, tick)) =
                state_account(state, world_pool.accounts[0])
                    .and_then(|a| codec::whirlpool_price(&a.data))
            {
                pool.liquidity = liquidity;
                pool.sqrt_price_x64 = sqrt_price_x64;
                pool.tick = tick;
            }
        }
    }
}

fn state_account(state: &State, idx: usize) -> Option<Arc<Account>> {
    state.account_at(idx)
}

/// The walk's executor: the SVM and the trader whose swaps move executed pools.
struct Trading {
    svm: Arc<svm::Svm>,
    trader: Trader,
    /// Per pool: executed (its program's binary is loaded) or modelled.
    executed: Vec<bool>,
    failures: u64,
}

impl Trading {
    /// Moves pool `i` to the walk's target by a swap on the program; returns the accounts
    /// it changed.
    fn trade(&mut self, state: &State, pool: &WorldPool, target: &SimPool) -> Vec<usize> {
        let Some(wire) = self.trader.trade(state, pool, target) else {
            return Vec::new();
        };
        match self.svm.execute(state, &wire, true, false, None) {
            Ok(o) if o.err.is_null() => o
                .changed
                .iter()
                .filter_map(|a| state.index_of(&a.address))
                .collect(),
            Ok(o) => {
                self.failures += 1;
                if self.failures.is_power_of_two() {
                    eprintln!(
                        "phantom-sim: a trader's swap on {} failed ({} so far): {} {:?}",
                        pool.name,
                        self.failures,
                        o.err,
                        o.logs.iter().rev().take(4).collect::<Vec<_>>()
                    );
                }
                Vec::new()
            }
            Err(e) => {
                self.failures += 1;
                if self.failures.is_power_of_two() {
                    eprintln!("phantom-sim: a trader's swap on {}: {e}", pool.name);
                }
                Vec::new()
            }
        }
    }
}

fn drive(
    mut market: Market,
    pools: Vec<WorldPool>,
    state: Arc<State>,
    tx: broadcast::Sender<Event>,
    args: &Args,
    stats: &pubsub::Stats,
    mut trading: Option<Trading>,
) {
    if args.start_on_stdin {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    }
    while stats
        .account_subscriptions
        .load(std::sync::atomic::Ordering::Relaxed)
        < args.start_after_subscriptions
    {
        std::thread::sleep(Duration::from_millis(1));
    }
    if args.start_after_subscriptions > 0 || args.start_on_stdin {
        eprintln!("phantom-sim: market started");
    }
    // Wake-ups close to the pace asked for: timer slack 1 µs instead of the default 50 µs.
    // SAFETY: prctl(PR_SET_TIMERSLACK) takes plain integers and affects only this thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1_000_u64, 0u64, 0u64, 0u64);
    }
    let start = monotonic_ns();
    let slot_ns = args.slot_ms.max(1) * 1_000_000;
    let mut slot = state.slot();
    let mut sent: u64 = 0;
    let mut changed = Vec::with_capacity(2);
    let end = args.duration_s.map(|d| start + (d * 1e9) as u64);
    let mut steps = 0u64;
    let mut frozen_faults_off = false;
    loop {
        let now = monotonic_ns();
        if end.is_some_and(|e| now >= e) {
            return;
        }
        let want_slot = state_slot_base(&state) + (now - start) / slot_ns;
        while slot < want_slot {
            slot += 1;
            state.advance_slot(slot);
            let _ = tx.send(Event::Slot { slot });
        }
        if args.fault_cycle_s > 0.0 && !frozen_faults_off {
            let phase = ((now - start) as f64 / 1e9 / args.fault_cycle_s) as usize
                % (pubsub::Knob::ALL.len() + 1);
            let active = pubsub::Knob::ALL
                .get(phase)
                .map_or(pubsub::HOSTILE_NONE, |k| *k as u8);
            if pubsub::HOSTILE.swap(active, Ordering::Relaxed) != active {
                let name = pubsub::Knob::ALL.get(phase).map_or("none", |k| k.flag());
                eprintln!("phantom-sim: hostile fault now: {name}");
            }
        }
        if args.steps.is_some_and(|n| steps >= n) {
            if args.faults_end_with_market && !frozen_faults_off {
                frozen_faults_off = true;
                pubsub::HOSTILE.store(pubsub::HOSTILE_NONE, Ordering::Relaxed);
                eprintln!("phantom-sim: market frozen; hostile faults off");
            }
            // Frozen: slots still advance (a live node's do), prices no longer move.
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        // Pace notifications at --rate (and executed trades at --trades-per-second).
        let mut due = start + (sent as f64 * 1e9 / args.rate.max(1e-3)) as u64;
        if trading.is_some() {
            due = due.max(start + (steps as f64 * 1e9 / args.trades_per_second.max(1e-3)) as u64);
        }
        if now < due {
            // Sleep, never spin: a spinning simulator would take a core from the system it
            // feeds (a benchmark's subject). A late wake-up is caught up with a burst; the send
            // log has the true send times.
            std::thread::sleep(Duration::from_nanos(due - now));
            continue;
        }
        // Trades landed through sendTransaction moved pools: the walk goes on from there.
        for (pool, wp) in market.pools.iter_mut().zip(&pools) {
            resync(pool, wp, &state);
        }
        let i = market.step();
        steps += 1;
        match &mut trading {
            Some(t) if t.executed[i] => {
                changed = t.trade(&state, &pools[i], &market.pools[i]);
            }
            _ => apply(&pools[i], &market.pools[i], &state, &mut changed),
        }
        for &idx in &changed {
            if let Some(account) = state.account_at(idx) {
                let _ = tx.send(Event::Account {
                    index: idx,
                    slot,
                    account,
                });
                sent += 1;
            }
        }
    }
}

fn state_slot_base(state: &State) -> u64 {
    state.base_slot()
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(pid) = args.supervisor_pid {
        if let Err(e) = phantom_ringbuf::process::die_with_supervisor(pid) {
            eprintln!("phantom-sim: {e}");
            return ExitCode::FAILURE;
        }
    }
    let specs = match &args.config {
        Some(p) => world::specs_from_config(p),
        None => world::default_specs(),
    };
    let mut world = match specs.and_then(|s| world::build(&s)) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("phantom-sim: cannot build the market: {e}");
            return ExitCode::FAILURE;
        }
    };
    if !args.fund_token_account.is_empty() && args.fund_wallet.is_empty() {
        eprintln!("phantom-sim: --fund-token-account needs --fund-wallet (the account's owner)");
        return ExitCode::FAILURE;
    }
    let mut extra = Vec::new();
    for (address, mint) in &args.fund_token_account {
        let mint = match *mint {
            MintRef::Address(m) => Some(m),
            MintRef::Side(kind, side) => world::pool_mint(&world, kind, side),
        };
        match mint {
            Some(m) => extra.push((*address, m)),
            None => {
                eprintln!("phantom-sim: --fund-token-account: the world has no pool of that kind");
                return ExitCode::FAILURE;
            }
        }
    }
    for (i, wallet) in args.fund_wallet.iter().enumerate() {
        let extra = if i == 0 { &extra[..] } else { &[] };
        if let Err(e) = world::fund_wallet(&mut world, wallet, extra) {
            eprintln!("phantom-sim: {e}");
            return ExitCode::FAILURE;
        }
    }
    let programs = match &args.programs {
        Some(dir) => match svm::programs_in(dir) {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("phantom-sim: {e}");
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    let svm = match programs {
        Some(p) => match svm::Svm::start(&args.python, p) {
            Ok(s) => Some(Arc::new(s)),
            Err(e) => {
                eprintln!("phantom-sim: cannot start the SVM: {e}");
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("phantom-sim: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The walk's trader, funded like a --fund-wallet, when there is something to execute.
    let trader = match &svm {
        Some(_) => {
            let t = Trader::new(args.seed);
            // Deep pockets: a 2 % move of the mainnet Whirlpool's liquidity takes ~3 M USDC.
            if let Err(e) = world::fund_wallet_with(&mut world, &t.address, &[], 1_000_000_000) {
                eprintln!("phantom-sim: the trader: {e}");
                return ExitCode::FAILURE;
            }
            Some(t)
        }
        None => None,
    };
    match rt.block_on(run(args, world, svm, trader)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("phantom-sim: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(
    args: Args,
    world: world::World,
    svm: Option<Arc<svm::Svm>>,
    trader: Option<Trader>,
) -> Result<(), String> {
    let ws_port = if args.port == 0 {
        0
    } else {
        args.port.checked_add(1).ok_or("--port too large")?
    };
    let http = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], args.port)))
        .await
        .map_err(|e| format!("bind 127.0.0.1:{}: {e}", args.port))?;
    let ws = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], ws_port)))
        .await
        .map_err(|e| format!("bind 127.0.0.1:{ws_port}: {e}"))?;
    let http_addr = http.local_addr().map_err(|e| e.to_string())?;
    let ws_addr = ws.local_addr().map_err(|e| e.to_string())?;
    let state = Arc::new(State::new(world.accounts, 300_000_000));
    let (tx, _) = broadcast::channel::<Event>(1 << 16);
    let log = match &args.send_log {
        Some(p) => Some(
            sendlog::SendLog::create(p)
                .map_err(|e| format!("--send-log {}: {e}", p.display()))?
                .0,
        ),
        None => None,
    };
    let faults = pubsub::Faults {
        drop_every: args.drop_every,
        stall_every: args.stall_every,
        stall_ms: args.stall_ms,
        duplicate_probability: args.duplicate_probability,
        reorder_probability: args.reorder_probability,
        malformed_probability: args.malformed_probability,
        lying_slot_every: args.lying_slot_every,
        oversized_frame_bytes: args.oversized_frame_bytes,
        subscription_reply_flood: args.subscription_reply_flood,
        wrong_owner: args.wrong_owner,
    };
    let stats = Arc::new(pubsub::Stats::default());
    tokio::spawn(pubsub::serve(
        ws,
        state.clone(),
        tx.clone(),
        faults,
        stats.clone(),
        log,
    ));
    // Pool programs of the world: executed when their binary is loaded, else modelled.
    let mut executed = Vec::new();
    let mut modelled = Vec::new();
    for (_, id, name) in svm::known_programs() {
        if !world.pools.iter().any(|p| p.kind.name() == name) {
            continue;
        }
        match &svm {
            Some(s) if s.programs.iter().any(|p| p.id == id) => executed.push(name),
            _ => modelled.push((id, name)),
        }
    }
    let trader_address = trader
        .as_ref()
        .map(|t| bs58::encode(t.address).into_string());
    let trading = match (&svm, trader) {
        (Some(s), Some(trader)) => Some(Trading {
            svm: s.clone(),
            executed: world
                .pools
                .iter()
                .map(|p| executed.contains(&p.kind.name()))
                .collect(),
            trader,
            failures: 0,
        }),
        _ => None,
    };
    let rpc_ctx = Arc::new(rpc::Ctx {
        state: state.clone(),
        svm,
        modelled: modelled.clone(),
        events: tx.clone(),
    });
    let rpc_stall = Duration::from_millis(args.rpc_stall_ms);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = http.accept().await else {
                continue;
            };
            let st = rpc_ctx.clone();
            tokio::spawn(async move {
                let io = hyper_util::rt::TokioIo::new(stream);
                let svc = hyper::service::service_fn(move |req| {
                    let st = st.clone();
                    async move {
                        if !rpc_stall.is_zero() && pubsub::hostile(pubsub::Knob::RpcStall) {
                            tokio::time::sleep(rpc_stall).await;
                        }
                        rpc::handle(req, st).await
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, svc)
                    .await;
            });
        }
    });
    let pools_json: Vec<serde_json::Value> = world
        .pools
        .iter()
        .map(|p| {
            serde_json::json!({
                "name": p.name,
                "kind": p.kind.name(),
                "address": bs58::encode(state.address_at(p.accounts[0])).into_string(),
                "vaults": [bs58::encode(state.address_at(p.accounts[1])).into_string(),
                           bs58::encode(state.address_at(p.accounts[2])).into_string()],
            })
        })
        .collect();
    println!(
        "{}",
        serde_json::json!({"rpc": format!("http://{http_addr}"), "ws": format!("ws://{ws_addr}"),
            "pools": pools_json, "executed": executed, "trader": trader_address,
            "modelled": modelled.iter().map(|(_, n)| *n).collect::<Vec<_>>()})
    );
    let params = MarketParams {
        volatility: args.volatility,
        noise: args.volatility,
        dislocation_probability: args.dislocation_probability,
        dislocation: args.dislocation,
    };
    let mut market = Market::new(world.sim, params, args.seed);
    if let Some(t) = &trading {
        // Executed pools move only by trades: a pair's fair price starts at one of them, so
        // the walk does not ask them to jump to another snapshot's price.
        for (i, executed) in t.executed.iter().enumerate() {
            if *executed {
                market.anchor(i);
            }
        }
    }
    let driver_state = state.clone();
    let hold = args.hold;
    let driver = std::thread::spawn(move || {
        drive(
            market,
            world.pools,
            driver_state,
            tx.clone(),
            &args,
            &stats,
            trading,
        );
        tx // the channel stays open while held: connections keep sending what is queued
    });
    let tx = tokio::task::spawn_blocking(move || driver.join())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|_| "the market driver panicked".to_string())?;
    if hold {
        eprintln!("phantom-sim: market ended; holding until killed");
        std::future::pending::<()>().await;
    }
    drop(tx);
    Ok(())
}

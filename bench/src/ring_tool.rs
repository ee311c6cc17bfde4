//! `phantom-ring`: the Rust end of ring tests and benchmarks.
//!
//! Each subcommand attaches to segments another process created (usually a pytest test or
//! the benchmark harness) and prints one JSON object on stdout. A failed check exits 1 with
//! the reason on stderr.

use clap::{Parser, Subcommand, ValueEnum};
use hdrhistogram::Histogram;
use phantom_ringbuf::clock::monotonic_ns;
use phantom_ringbuf::records::{
    ExecReport, FeederBlock, MarketUpdate, OrderIntent, PoolState, ProbeRecord, SignerBlock,
    StrategyBlock, SupervisorBlock,
};
use phantom_ringbuf::ring::{Consumer, Producer, WaitStrategy};
use phantom_ringbuf::schema::{Container, Record};
use phantom_ringbuf::segment::{Layout, Segment};
use phantom_ringbuf::table::Table;
use serde_json::json;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(name = "phantom-ring", version, about = "Ring test and benchmark tool")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum Wait {
    Spin,
    Adaptive,
}

impl From<Wait> for WaitStrategy {
    fn from(w: Wait) -> Self {
        match w {
            Wait::Spin => WaitStrategy::Spin,
            Wait::Adaptive => WaitStrategy::ADAPTIVE,
        }
    }
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum ContainerArg {
    Ring,
    Table,
}

#[derive(Subcommand)]
enum Cmd {
    /// Push `count` ProbeRecords (seq 0.., valid checksums) into a ring, in batches.
    Produce {
        #[arg(long)]
        ring: String,
        /// Expected capacity (attach refuses another).
        #[arg(long)]
        capacity: Option<u32>,
        #[arg(long)]
        count: u64,
        #[arg(long, default_value_t = 64)]
        batch: u64,
        /// Seconds to keep trying while the ring stays full before giving up.
        #[arg(long, default_value_t = 120.0)]
        timeout_s: f64,
    },
    /// Pop `count` ProbeRecords and verify gapless seq and every checksum.
    Consume {
        #[arg(long)]
        ring: String,
        /// Expected capacity (attach refuses another).
        #[arg(long)]
        capacity: Option<u32>,
        #[arg(long)]
        count: u64,
        #[arg(long, default_value_t = 256)]
        batch: u64,
        #[arg(long, value_enum, default_value = "adaptive")]
        wait: Wait,
        /// Adaptive wait: longest futex sleep in ms (tests set it huge, so that a lost
        /// wake-up hangs instead of merely slowing down).
        #[arg(long, default_value_t = 100)]
        sleep_ms: u64,
        /// Seconds without a new record before giving up.
        #[arg(long, default_value_t = 120.0)]
        timeout_s: f64,
    },
    /// Write one record of `record` with every field set to its pattern for `seed`
    /// (a ring: pushed; a table: entry 0).
    PatternWrite {
        #[arg(long)]
        segment: String,
        #[arg(long)]
        record: String,
        #[arg(long, value_enum)]
        container: ContainerArg,
        #[arg(long)]
        seed: u64,
    },
    /// Read one record (ring: pop; table: entry 0) and check every field's pattern.
    PatternCheck {
        #[arg(long)]
        segment: String,
        #[arg(long)]
        record: String,
        #[arg(long, value_enum)]
        container: ContainerArg,
        #[arg(long)]
        seed: u64,
        #[arg(long, default_value_t = 60.0)]
        timeout_s: f64,
    },
    /// Latency ping: send `count` timestamped probes on `out`, each after the echo of the
    /// previous one arrives on `back` (paced ping-pong).
    Ping {
        #[arg(long)]
        out: String,
        #[arg(long)]
        back: String,
        #[arg(long)]
        count: u64,
        #[arg(long, value_enum, default_value = "spin")]
        wait: Wait,
    },
    /// Latency echo: receive probes on `inp`, record one-way latency (now - t_send), send
    /// each back on `out`. Prints the percentiles.
    Echo {
        #[arg(long = "in")]
        inp: String,
        #[arg(long)]
        out: String,
        #[arg(long)]
        count: u64,
        /// Leading samples not recorded (warm-up).
        #[arg(long, default_value_t = 1000)]
        warmup: u64,
        #[arg(long, value_enum, default_value = "spin")]
        wait: Wait,
    },
    /// Seqlock churn: write `count` versions of every entry of a PoolState table, each
    /// version with every data word equal to the version number (readers check that).
    TableChurn {
        #[arg(long)]
        table: String,
        #[arg(long)]
        count: u64,
    },
    /// Throughput source: push `count` records (only `seq` written) in batches, as fast as
    /// the consumer lets it.
    Source {
        #[arg(long)]
        ring: String,
        #[arg(long)]
        count: u64,
        #[arg(long, default_value_t = 256)]
        batch: u64,
    },
    /// Throughput sink: pop `count` records in batches, summing `seq` (checked), and report
    /// the rate from the first record to the last.
    Sink {
        #[arg(long)]
        ring: String,
        #[arg(long)]
        count: u64,
        #[arg(long, default_value_t = 256)]
        batch: u64,
    },
    /// Throughput: a producer and a consumer thread in this process, over the same
    /// shared-memory ring (the Rust→Rust figure across two cores).
    Throughput {
        #[arg(long)]
        ring: String,
        #[arg(long)]
        count: u64,
        #[arg(long, default_value_t = 256)]
        batch: u64,
    },
}

fn fail(msg: String) -> ExitCode {
    eprintln!("phantom-ring: {msg}");
    ExitCode::FAILURE
}

/// Run `phantom-ring` with the process's arguments.
pub fn main() -> ExitCode {
    match run(Cli::parse().cmd) {
        Ok(v) => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

type Res = Result<serde_json::Value, String>;

fn run(cmd: Cmd) -> Res {
    match cmd {
        Cmd::Produce {
            ring,
            capacity,
            count,
            batch,
            timeout_s,
        } => produce(&ring, capacity, count, batch, timeout_s),
        Cmd::Consume {
            ring,
            capacity,
            count,
            batch,
            wait,
            sleep_ms,
            timeout_s,
        } => {
            let strategy = match WaitStrategy::from(wait) {
                WaitStrategy::Adaptive {
                    spin_iters,
                    yield_iters,
                    ..
                } => WaitStrategy::Adaptive {
                    spin_iters,
                    yield_iters,
                    sleep_ns: sleep_ms.saturating_mul(1_000_000),
                },
                spin => spin,
            };
            consume(&ring, capacity, count, batch, strategy, timeout_s)
        }
        Cmd::TableChurn { table, count } => table_churn(&table, count),
        Cmd::PatternWrite {
            segment,
            record,
            container,
            seed,
        } => with_record(
            &record,
            PatternOp::Write {
                segment,
                container,
                seed,
            },
        ),
        Cmd::PatternCheck {
            segment,
            record,
            container,
            seed,
            timeout_s,
        } => with_record(
            &record,
            PatternOp::Check {
                segment,
                container,
                seed,
                timeout_s,
            },
        ),
        Cmd::Ping {
            out,
            back,
            count,
            wait,
        } => ping(&out, &back, count, wait.into()),
        Cmd::Echo {
            inp,
            out,
            count,
            warmup,
            wait,
        } => echo(&inp, &out, count, warmup, wait.into()),
        Cmd::Throughput { ring, count, batch } => throughput(&ring, count, batch),
        Cmd::Source { ring, count, batch } => {
            let mut tx = Producer::<ProbeRecord>::attach(&ring, None).map_err(|e| e.to_string())?;
            source(&mut tx, count, batch);
            Ok(json!({"produced": count}))
        }
        Cmd::Sink { ring, count, batch } => {
            let mut rx = Consumer::<ProbeRecord>::attach(&ring, None).map_err(|e| e.to_string())?;
            let (ns, sum) = sink(&mut rx, count, batch);
            check_seq_sum(sum, count)?;
            Ok(json!({"records": count, "ns": ns, "records_per_s": count as f64 * 1e9 / ns as f64}))
        }
    }
}

fn produce(ring: &str, capacity: Option<u32>, count: u64, batch: u64, timeout_s: f64) -> Res {
    let mut tx = Producer::<ProbeRecord>::attach(ring, capacity).map_err(|e| e.to_string())?;
    let t0 = monotonic_ns();
    let mut next = 0u64;
    let mut last_progress = t0;
    let mut full_spins = 0u64;
    while next < count {
        let want = batch.min(count - next);
        let n = tx.push_batch_with(want, |slot, _| {
            // SAFETY: `slot` is a free slot owned by this producer until published.
            unsafe { slot.write(ProbeRecord::for_seq(next, 0)) };
            next += 1;
        });
        if n == 0 {
            full_spins += 1;
            if full_spins.is_multiple_of(64) {
                std::thread::yield_now();
                let now = monotonic_ns();
                if now - last_progress > (timeout_s * 1e9) as u64 {
                    return Err(format!(
                        "ring {ring} stayed full for {timeout_s} s after {next} records"
                    ));
                }
            } else {
                std::hint::spin_loop();
            }
        } else {
            last_progress = monotonic_ns();
            if next % (1 << 16) < n {
                tx.heartbeat();
            }
        }
    }
    let dt = monotonic_ns() - t0;
    Ok(json!({"produced": count, "ns": dt, "tail": tx.tail()}))
}

fn consume(
    ring: &str,
    capacity: Option<u32>,
    count: u64,
    batch: u64,
    wait: WaitStrategy,
    timeout_s: f64,
) -> Res {
    let mut rx = Consumer::<ProbeRecord>::attach(ring, capacity).map_err(|e| e.to_string())?;
    let mut expect = 0u64;
    let mut bad: Option<String> = None;
    let mut t_first = 0u64;
    while expect < count {
        if rx.wait(wait, Duration::from_secs_f64(timeout_s)) == 0 {
            return Err(format!(
                "no record for {timeout_s} s on {ring} after {expect} of {count}"
            ));
        }
        if t_first == 0 {
            t_first = monotonic_ns();
        }
        rx.pop_batch_with(batch.min(count - expect), |r, idx| {
            if bad.is_none() && (r.seq != expect || !r.is_valid()) {
                bad = Some(format!(
                    "record at ring index {idx}: seq {} (expected {expect}), checksum {}",
                    r.seq,
                    if r.is_valid() { "ok" } else { "BAD" }
                ));
            }
            expect += 1;
        });
        if let Some(b) = bad {
            return Err(b);
        }
    }
    let dt = monotonic_ns() - t_first;
    Ok(json!({"consumed": count, "ns": dt, "head": rx.head(), "verified": true}))
}

enum PatternOp {
    Write {
        segment: String,
        container: ContainerArg,
        seed: u64,
    },
    Check {
        segment: String,
        container: ContainerArg,
        seed: u64,
        timeout_s: f64,
    },
}

fn with_record(record: &str, op: PatternOp) -> Res {
    match record {
        "MarketUpdate" => pattern::<MarketUpdate>(op),
        "PoolState" => pattern::<PoolState>(op),
        "OrderIntent" => pattern::<OrderIntent>(op),
        "ExecReport" => pattern::<ExecReport>(op),
        "SupervisorBlock" => pattern::<SupervisorBlock>(op),
        "FeederBlock" => pattern::<FeederBlock>(op),
        "SignerBlock" => pattern::<SignerBlock>(op),
        "StrategyBlock" => pattern::<StrategyBlock>(op),
        "ProbeRecord" => pattern::<ProbeRecord>(op),
        other => Err(format!("unknown record {other:?}")),
    }
}

fn pattern<T: Record>(op: PatternOp) -> Res {
    match op {
        PatternOp::Write {
            segment,
            container,
            seed,
        } => {
            let mut rec = T::zeroed();
            rec.fill_pattern(seed);
            if container == ContainerArg::Ring {
                let mut tx = Producer::<T>::attach(&segment, None).map_err(|e| e.to_string())?;
                if !tx.try_push(&rec) {
                    return Err(format!("ring {segment} is full"));
                }
            } else {
                // Raw copy of the whole entry, seqlock word included: the point is that
                // every field, whatever its role, lands where numpy looks for it.
                let seg = table_segment::<T>(&segment)?;
                // SAFETY: entry 0 exists (capacity >= 1, validated) and no other process
                // writes the table during this test.
                unsafe { (seg.slot_ptr(0) as *mut T).write(rec) };
            }
            Ok(json!({"written": T::NAME, "seed": seed}))
        }
        PatternOp::Check {
            segment,
            container,
            seed,
            timeout_s,
        } => {
            let rec: T = if container == ContainerArg::Ring {
                let mut rx = Consumer::<T>::attach(&segment, None).map_err(|e| e.to_string())?;
                if rx.wait(WaitStrategy::ADAPTIVE, Duration::from_secs_f64(timeout_s)) == 0 {
                    return Err(format!("no record on {segment} within {timeout_s} s"));
                }
                rx.try_pop().ok_or("ring emptied under us")?
            } else {
                let seg = table_segment::<T>(&segment)?;
                // SAFETY: as in the write arm; T is valid for any bits.
                unsafe { (seg.slot_ptr(0) as *const T).read() }
            };
            let bad = rec.pattern_mismatches(seed);
            if bad.is_empty() {
                Ok(json!({"checked": T::NAME, "fields": T::FIELDS.len()}))
            } else {
                Err(format!(
                    "{}: fields differ from the pattern: {bad:?}",
                    T::NAME
                ))
            }
        }
    }
}

fn table_segment<T: Record>(name: &str) -> Result<Segment, String> {
    Segment::attach(name, Layout::of::<T>(Container::Table), None).map_err(|e| e.to_string())
}

fn ping(out: &str, back: &str, count: u64, wait: WaitStrategy) -> Res {
    let mut tx = Producer::<ProbeRecord>::attach(out, None).map_err(|e| e.to_string())?;
    let mut rx = Consumer::<ProbeRecord>::attach(back, None).map_err(|e| e.to_string())?;
    let mut rtt = Histogram::<u64>::new(3).map_err(|e| e.to_string())?;
    for seq in 0..count {
        let t = monotonic_ns();
        while !tx.try_push(&ProbeRecord::for_seq(seq, t)) {
            std::hint::spin_loop();
        }
        if rx.wait(wait, Duration::from_secs(60)) == 0 {
            return Err(format!("no echo of probe {seq} within 60 s"));
        }
        let r = rx.try_pop().ok_or("echo ring emptied under us")?;
        if r.seq != seq {
            return Err(format!("echo out of order: got {} expected {seq}", r.seq));
        }
        let _ = rtt.record(monotonic_ns() - t);
    }
    Ok(
        json!({"pings": count, "rtt_p50_ns": rtt.value_at_quantile(0.5), "rtt_p99_ns": rtt.value_at_quantile(0.99)}),
    )
}

fn echo(inp: &str, out: &str, count: u64, warmup: u64, wait: WaitStrategy) -> Res {
    let mut rx = Consumer::<ProbeRecord>::attach(inp, None).map_err(|e| e.to_string())?;
    let mut tx = Producer::<ProbeRecord>::attach(out, None).map_err(|e| e.to_string())?;
    let mut lat = Histogram::<u64>::new(3).map_err(|e| e.to_string())?;
    for i in 0..count {
        if rx.wait(wait, Duration::from_secs(60)) == 0 {
            return Err(format!("no probe {i} within 60 s"));
        }
        let r = rx.try_pop().ok_or("probe ring emptied under us")?;
        let now = monotonic_ns();
        if i >= warmup {
            let _ = lat.record(now.saturating_sub(r.t_send_ns));
        }
        while !tx.try_push(&r) {
            std::hint::spin_loop();
        }
    }
    Ok(json!({
        "samples": lat.len(),
        "p50_ns": lat.value_at_quantile(0.5),
        "p99_ns": lat.value_at_quantile(0.99),
        "p999_ns": lat.value_at_quantile(0.999),
        "max_ns": lat.max(),
    }))
}

fn source(tx: &mut Producer<ProbeRecord>, count: u64, batch: u64) {
    let mut next = 0u64;
    while next < count {
        let n = tx.push_batch_with(batch.min(count - next), |slot, _| {
            // SAFETY: `slot` is free and ours until published.
            unsafe { (*slot).seq = next };
            next += 1;
        });
        if n == 0 {
            std::hint::spin_loop();
        }
    }
}

/// Returns (ns from the first record to the last, sum of seqs).
fn sink(rx: &mut Consumer<ProbeRecord>, count: u64, batch: u64) -> (u64, u64) {
    let mut got = 0u64;
    let mut sum = 0u64;
    let mut t0 = 0;
    while got < count {
        let n = rx.pop_batch_with(batch, |r, _| sum = sum.wrapping_add(r.seq));
        if n == 0 {
            std::hint::spin_loop();
        } else if t0 == 0 {
            t0 = monotonic_ns();
        }
        got += n;
    }
    (monotonic_ns() - t0, sum)
}

fn check_seq_sum(sum: u64, count: u64) -> Result<(), String> {
    let expect = count.wrapping_mul(count.wrapping_sub(1)) / 2;
    if sum == expect {
        Ok(())
    } else {
        Err(format!(
            "sum of seqs {sum} != {expect}: records lost or repeated"
        ))
    }
}

fn throughput(ring: &str, count: u64, batch: u64) -> Res {
    let mut tx = Producer::<ProbeRecord>::attach(ring, None).map_err(|e| e.to_string())?;
    let mut rx = Consumer::<ProbeRecord>::attach(ring, None).map_err(|e| e.to_string())?;
    let consumer = std::thread::spawn(move || sink(&mut rx, count, batch));
    source(&mut tx, count, batch);
    let (ns, sum) = consumer.join().map_err(|_| "consumer thread panicked")?;
    check_seq_sum(sum, count)?;
    Ok(json!({"records": count, "ns": ns, "records_per_s": count as f64 * 1e9 / ns as f64}))
}

fn table_churn(table: &str, count: u64) -> Res {
    let t = Table::<PoolState>::attach(table, None).map_err(|e| e.to_string())?;
    let words = PoolState::SIZE / 8;
    let mut rec = PoolState::zeroed();
    for v in 1..=count {
        let p = &mut rec as *mut PoolState as *mut u64;
        for w in 1..words {
            // SAFETY: w < words = size_of::<PoolState>() / 8; PoolState is plain data.
            unsafe { p.add(w).write(v) };
        }
        for i in 0..t.capacity() {
            t.write(i, &rec);
        }
    }
    Ok(json!({"versions": count, "entries": t.capacity()}))
}

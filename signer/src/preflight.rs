//! Preflight mode (`[signer] mode = "preflight"`): every signed transaction is simulated
//! through `simulateTransaction` on the first RPC endpoint, and nothing is sent.
//!
//! Off the hot path: the signing loop hands each signed transaction (its capture record) to
//! this module's thread and goes on. The thread simulates at most
//! `preflight_max_per_second` of them (a token bucket); the rest are counted as skipped. The
//! transaction goes with its signature zeroed and `sigVerify: false`: the signer has checked
//! its own signature, and a validly signed transaction is never handed to a node that could
//! land it. Each result goes into the transaction's capture line (`preflight: {err,
//! units_consumed, logs_tail}`, or `{skipped: true}`) and into the counts that `status --json`
//! shows as `signer.preflight` (read from [`stats_path`], rewritten every second and at
//! stop): `ok`, `failed` by reason, `skipped`, `modelled` (the endpoint did not execute the
//! transaction: a simulator without the program's binary), `errors` (no answer), compute
//! units used (p50, max) overall and per route. A route whose `compute_unit_limit` is more
//! than [`OVERSIZED_FACTOR`] times the most it was seen to use is warned about, once.

use crate::capture::{CaptureRecord, CaptureWriter};
use crate::rpc::{base64, RpcClient};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A route is warned about when its limit exceeds this many times its largest use.
pub const OVERSIZED_FACTOR: u64 = 4;
/// Successful simulations of a route before its limit is judged.
const JUDGE_AFTER: u64 = 5;
/// Log lines kept in a capture line.
const LOGS_TAIL: usize = 5;
/// Unit samples kept for the percentile (the most recent).
const MAX_SAMPLES: usize = 1 << 14;

/// Where the preflight counts of `instance` are written (beside the signer's ledger).
pub fn stats_path(instance: &str) -> Option<PathBuf> {
    Some(
        crate::ledger::default_path(instance, false)?
            .parent()?
            .join("preflight.json"),
    )
}

/// The failure reason of a simulation error: the program's own error name when its logs
/// give one (Anchor's `Error Code: NAME.`), else the runtime's (`BlockhashNotFound`,
/// `InstructionError.ExternalAccountDataModified`, `InstructionError.Custom.6005`).
pub fn reason(err: &Value, logs: &[Value]) -> String {
    for l in logs.iter().rev().filter_map(Value::as_str) {
        if let Some(rest) = l.split("Error Code: ").nth(1) {
            if let Some(name) = rest.split('.').next() {
                if !name.is_empty() {
                    return name.to_owned();
                }
            }
        }
    }
    match err {
        Value::String(s) => s.clone(),
        Value::Object(m) => match m.iter().next() {
            Some((k, Value::Array(a))) if k == "InstructionError" => match a.get(1) {
                Some(Value::String(s)) => format!("InstructionError.{s}"),
                Some(Value::Object(inner)) => match inner.iter().next() {
                    Some((ik, iv)) => format!("InstructionError.{ik}.{iv}"),
                    None => "InstructionError".into(),
                },
                _ => "InstructionError".into(),
            },
            Some((k, _)) => k.clone(),
            None => "unknown".into(),
        },
        other => other.to_string(),
    }
}

/// Reasons that are the market's doing, not a bug: the output fell below `min_out`.
pub fn is_slippage(reason: &str) -> bool {
    matches!(
        reason,
        "ExceededSlippage" | "AmountOutBelowMinimum" | "ExceededSlippageLimit"
    )
}

#[derive(Default)]
struct RouteStats {
    ok: u64,
    units_max: u64,
    warned: bool,
}

/// The counts `status --json` shows.
#[derive(Default)]
struct Stats {
    ok: u64,
    failed: BTreeMap<String, u64>,
    skipped: u64,
    modelled: u64,
    errors: u64,
    units: Vec<u64>,
    routes: BTreeMap<u32, RouteStats>,
}

impl Stats {
    fn json(&self, limits: &[u32]) -> Value {
        let mut sorted = self.units.clone();
        sorted.sort_unstable();
        let p50 = sorted.get(sorted.len() / 2).copied().unwrap_or(0);
        let routes: serde_json::Map<String, Value> = self
            .routes
            .iter()
            .map(|(id, r)| {
                let limit = limits.get(*id as usize).copied().unwrap_or(0);
                (
                    id.to_string(),
                    json!({"ok": r.ok, "units_max": r.units_max, "compute_unit_limit": limit,
                           "limit_far_above_use": r.warned}),
                )
            })
            .collect();
        json!({
            "ok": self.ok,
            "failed": self.failed,
            "skipped": self.skipped,
            "modelled": self.modelled,
            "errors": self.errors,
            "units_p50": p50,
            "units_max": sorted.last().copied().unwrap_or(0),
            "routes": routes,
        })
    }
}

/// The preflight thread.
pub struct Preflight {
    tx: Option<Sender<CaptureRecord>>,
    thread: Option<JoinHandle<()>>,
}

struct Worker {
    client: RpcClient,
    max_per_second: u32,
    limits: Vec<u32>,
    capture: Option<Sender<CaptureRecord>>,
    stats_path: Option<PathBuf>,
    stats: Stats,
    tokens: f64,
    refilled: Instant,
}

impl Preflight {
    /// Starts the thread: simulations go to `endpoint`, capture lines to `capture`, counts to
    /// `stats_path`. `limits[route_id]` is each route's `compute_unit_limit`.
    pub fn start(
        endpoint: &str,
        timeout: Duration,
        max_per_second: u32,
        limits: Vec<u32>,
        capture: Option<&CaptureWriter>,
        stats_path: Option<PathBuf>,
    ) -> std::io::Result<Self> {
        let (tx, rx) = channel::<CaptureRecord>();
        let mut w = Worker {
            client: RpcClient::new(endpoint, timeout),
            max_per_second,
            limits,
            capture: capture.and_then(CaptureWriter::sender),
            stats_path,
            stats: Stats::default(),
            tokens: f64::from(max_per_second),
            refilled: Instant::now(),
        };
        w.publish();
        let thread = std::thread::Builder::new()
            .name("preflight".into())
            .spawn(move || w.run(&rx))?;
        Ok(Preflight {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Hands a signed transaction over; never blocks.
    pub fn submit(&self, record: CaptureRecord) {
        if let Some(tx) = &self.tx {
            // Fails only if the thread died (it does not panic on bad answers).
            let _ = tx.send(record);
        }
    }

    /// Simulates or skips what was handed over, writes the counts, and ends the thread.
    pub fn finish(mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Worker {
    fn run(&mut self, rx: &Receiver<CaptureRecord>) {
        let mut last_publish = Instant::now();
        loop {
            match rx.recv_timeout(Duration::from_secs(1)) {
                Ok(r) => self.one(r),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if last_publish.elapsed() >= Duration::from_secs(1) {
                self.publish();
                last_publish = Instant::now();
            }
        }
        self.publish();
    }

    fn take_token(&mut self) -> bool {
        let now = Instant::now();
        let rate = f64::from(self.max_per_second);
        self.tokens = (self.tokens + now.duration_since(self.refilled).as_secs_f64() * rate)
            .min(rate.max(1.0));
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn one(&mut self, mut record: CaptureRecord) {
        let result = if self.take_token() {
            self.simulate(&record)
        } else {
            self.stats.skipped += 1;
            json!({"skipped": true})
        };
        record.preflight = Some(result);
        if let Some(c) = &self.capture {
            let _ = c.send(record);
        }
    }

    fn simulate(&mut self, record: &CaptureRecord) -> Value {
        let mut wire = record.tx.clone();
        // Signature zeroed (the first one, after the one-byte count): the node simulates
        // without it (`sigVerify: false`) and cannot land it.
        if let Some(sig) = wire.get_mut(1..65) {
            sig.fill(0);
        }
        let params = json!([base64(&wire), {"encoding": "base64", "sigVerify": false,
            "replaceRecentBlockhash": false, "commitment": "processed"}]);
        let value = match self.client.call("simulateTransaction", params) {
            Ok(v) => v.get("value").cloned().unwrap_or(Value::Null),
            Err(e) => {
                self.stats.errors += 1;
                tracing::warn!(error = %e, "preflight: simulateTransaction failed");
                return json!({"error": e.to_string()});
            }
        };
        let err = value.get("err").cloned().unwrap_or(Value::Null);
        let logs: Vec<Value> = value
            .get("logs")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let units = value
            .get("unitsConsumed")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let tail = logs[logs.len().saturating_sub(LOGS_TAIL)..].to_vec();
        let mut out = json!({"err": err, "units_consumed": units, "logs_tail": tail});
        if let Some(m) = value.get("modelled").filter(|m| !m.is_null()) {
            self.stats.modelled += 1;
            out["modelled"] = m.clone();
            return out;
        }
        if err.is_null() {
            self.stats.ok += 1;
            if self.stats.units.len() >= MAX_SAMPLES {
                self.stats.units.remove(0);
            }
            self.stats.units.push(units);
            let limit = u64::from(
                self.limits
                    .get(record.route_id as usize)
                    .copied()
                    .unwrap_or(0),
            );
            let r = self.stats.routes.entry(record.route_id).or_default();
            r.ok += 1;
            r.units_max = r.units_max.max(units);
            if !r.warned && r.ok >= JUDGE_AFTER && limit > OVERSIZED_FACTOR * r.units_max {
                r.warned = true;
                tracing::warn!(
                    route_id = record.route_id,
                    compute_unit_limit = limit,
                    units_max = r.units_max,
                    "preflight: the route's compute_unit_limit is far above what it uses \
                     (lower it: the priority fee is paid on the limit)"
                );
            }
        } else {
            let why = reason(&err, &logs);
            out["reason"] = json!(why);
            *self.stats.failed.entry(why).or_insert(0) += 1;
        }
        out
    }

    fn publish(&self) {
        let Some(path) = &self.stats_path else {
            return;
        };
        if let Err(e) = write_atomic(path, &self.stats.json(&self.limits)) {
            tracing::warn!(path = %path.display(), error = %e, "preflight: counts not written");
        }
    }
}

fn write_atomic(path: &Path, value: &Value) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, value.to_string())?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_name_the_program_error_or_the_runtime_error() {
        let logs = [json!(
            "Program log: AnchorError occurred. Error Code: ExceededSlippage. Error Number: 6005."
        )];
        let err = json!({"InstructionError": [1, {"Custom": 6005}]});
        assert_eq!(reason(&err, &logs), "ExceededSlippage");
        assert!(is_slippage(&reason(&err, &logs)));
        assert_eq!(reason(&err, &[]), "InstructionError.Custom.6005");
        assert_eq!(
            reason(&json!("BlockhashNotFound"), &[]),
            "BlockhashNotFound"
        );
        assert_eq!(
            reason(
                &json!({"InstructionError": [1, "ExternalAccountDataModified"]}),
                &[]
            ),
            "InstructionError.ExternalAccountDataModified"
        );
        assert!(!is_slippage("AccountNotInitialized"));
    }

    #[test]
    fn the_counts_have_the_status_shape() {
        let mut s = Stats {
            ok: 3,
            units: vec![30, 10, 20],
            ..Stats::default()
        };
        s.failed.insert("ExceededSlippage".into(), 2);
        s.routes.insert(
            1,
            RouteStats {
                ok: 3,
                units_max: 30,
                warned: true,
            },
        );
        let v = s.json(&[0, 300]);
        assert_eq!(v["units_p50"], 20);
        assert_eq!(v["units_max"], 30);
        assert_eq!(v["failed"]["ExceededSlippage"], 2);
        assert_eq!(v["routes"]["1"]["compute_unit_limit"], 300);
        assert_eq!(v["routes"]["1"]["limit_far_above_use"], true);
    }
}

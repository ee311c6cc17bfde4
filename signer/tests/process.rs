//! The `phantom-signer` executable end to end: real segments, a real process, and local
//! JSON-RPC servers on 127.0.0.1 (one fast, one slow, one erroring).
//!
//! Every test uses its own instance name; a guard removes its segments and kills the process
//! even when the test fails. Waits are on conditions with generous deadlines, never sleeps,
//! and nothing asserts a duration.

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use phantom_ringbuf::clock::monotonic_ns;
use phantom_ringbuf::control::Control;
use phantom_ringbuf::names::segment_name;
use phantom_ringbuf::records::{
    exec_error, exec_status, reject_reason, signer_mode, ExecReport, OrderIntent, SignerBlock,
};
use phantom_ringbuf::ring::{self, Consumer, Producer};
use phantom_ringbuf::schema::Record;
use phantom_ringbuf::segment::{self, CreateOptions};
use serde_json::{json, Value};
use solana_address::Address;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(60);
const BIN: &str = env!("CARGO_BIN_EXE_phantom-signer");

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::yield_now();
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// An instance's segments and the signer process; removed/killed on drop.
struct Instance {
    name: String,
    dir: PathBuf,
    intents: Producer<OrderIntent>,
    reports: Consumer<ExecReport>,
    control: Control,
    child: Option<Child>,
    seen: Vec<ExecReport>,
}

impl Instance {
    fn new(test: &str) -> Self {
        let name = format!("rs{}{}", std::process::id(), test);
        let opts = |role: &str| CreateOptions {
            instance: name.clone(),
            role: role.into(),
            ..CreateOptions::default()
        };
        for role in phantom_ringbuf::names::ROLES {
            let _ = segment::remove(&segment_name(&name, role));
        }
        let control = Control::create(&name, &opts("control")).expect("control");
        let intents = Producer::new(
            ring::create::<OrderIntent>(&segment_name(&name, "intents"), 256, &opts("intents"))
                .expect("intents"),
        );
        let reports = Consumer::new(
            ring::create::<ExecReport>(&segment_name(&name, "reports"), 1024, &opts("reports"))
                .expect("reports"),
        );
        let dir = std::env::temp_dir().join(format!("phantom-signer-test-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        control.strategy().lease_epoch.store(1, Ordering::Release);
        Instance {
            name,
            dir,
            intents,
            reports,
            control,
            child: None,
            seen: Vec::new(),
        }
    }

    /// The signer's block (what the signer under test writes).
    fn ctl(&self) -> &SignerBlock {
        self.control.signer_block()
    }

    fn write_config(&self, signer_table: &str) -> PathBuf {
        let path = self.dir.join("config.toml");
        std::fs::write(&path, config(signer_table)).expect("config");
        path
    }

    fn spawn(&mut self, config: &Path, extra: &[&str]) {
        let log = std::fs::File::create(self.dir.join("signer.log")).expect("log");
        let child = Command::new(BIN)
            .args(["--instance", &self.name, "--config"])
            .arg(config)
            .args(extra)
            .env("PHANTOM_LOG", "debug")
            // The ledger lives with the test's files, not in the user's state directory.
            .env("XDG_STATE_HOME", &self.dir)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn phantom-signer");
        self.child = Some(child);
        let ctl = self.control.signer_block();
        wait_until("the signer to announce itself", || {
            ctl.signer_mode.load(Ordering::Acquire) != signer_mode::UNKNOWN
        });
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("signer.log")).unwrap_or_default()
    }

    fn push(&mut self, intent: OrderIntent) {
        assert_eq!(
            intent.seq,
            self.intents.tail(),
            "intent seq must be the ring index"
        );
        assert!(self.intents.try_push(&intent), "intents ring full");
    }

    /// Reads reports until `cond` holds over all reports seen so far.
    fn reports_until(&mut self, what: &str, mut cond: impl FnMut(&[ExecReport]) -> bool) {
        let start = Instant::now();
        loop {
            while let Some(r) = self.reports.try_pop() {
                self.seen.push(r);
            }
            if cond(&self.seen) {
                return;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "timed out waiting for {what}; reports: {:?}\nlog:\n{}",
                self.seen
                    .iter()
                    .map(|r| (r.intent_seq, r.status, r.reason))
                    .collect::<Vec<_>>(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Reads the reports available now.
    fn drain_reports(&mut self) {
        while let Some(r) = self.reports.try_pop() {
            self.seen.push(r);
        }
    }

    fn of(&self, seq: u64) -> Vec<&ExecReport> {
        self.seen.iter().filter(|r| r.intent_seq == seq).collect()
    }

    fn terminate(&mut self) -> i32 {
        let mut child = self.child.take().expect("running");
        // SAFETY: kill(2) with the pid of a child we spawned and have not reaped.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status.code().unwrap_or(-1);
            }
            assert!(start.elapsed() < DEADLINE, "signer did not stop");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn wait_exit(&mut self) -> i32 {
        let mut child = self.child.take().expect("running");
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status.code().unwrap_or(-1);
            }
            assert!(
                start.elapsed() < DEADLINE,
                "signer did not exit; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        for role in phantom_ringbuf::names::ROLES {
            let _ = segment::remove(&segment_name(&self.name, role));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn addr(n: u8) -> String {
    Address::new_from_array([n; 32]).to_string()
}

/// A whole config: the given `[signer]` table body, limits, one transfer route (max 1000)
/// and a second transfer route with a tip account.
fn config(signer_table: &str) -> String {
    config_with(signer_table, "")
}

/// [`config`] with extra `[signer.limits]` lines.
fn config_with(signer_table: &str, extra_limits: &str) -> String {
    format!(
        r#"
[[pools]]
name = "unused"

[signer]
{signer_table}

[signer.limits]
max_intents_per_second = 100000
max_notional_per_minute_raw = 1000000000
max_open_intents = 64
max_tick_age_ms = 60000
max_compute_unit_price_micro_lamports = 1000
max_tip_lamports = 500
{extra_limits}

[[routes]]
name = "transfer"
compute_unit_limit = 10000
max_amount_in_raw = 1000
min_out_per_in_ppm = 1000000
[[routes.legs]]
program = "spl_transfer"
[routes.legs.accounts]
source = "{src}"
destination = "{dst}"

[[routes]]
name = "transfer-with-tip"
compute_unit_limit = 10000
max_amount_in_raw = 1000
min_out_per_in_ppm = 1000000
tip_account = "{tip}"
[[routes.legs]]
program = "spl_transfer"
[routes.legs.accounts]
source = "{src}"
destination = "{dst}"
"#,
        src = addr(2),
        dst = addr(3),
        tip = addr(9),
    )
}

fn intent(seq: u64, tick_seq: u64, route_id: u32, amount: u64) -> OrderIntent {
    let mut i = OrderIntent::zeroed();
    let now = monotonic_ns();
    i.seq = seq;
    i.epoch = 1;
    i.tick_seq = tick_seq;
    i.route_id = route_id;
    i.amount_in = [amount, 0, 0];
    i.cu_price_micro_lamports = 5;
    i.t_tick_recv_ns = now;
    i.t_tick_pub_ns = now;
    i.t_strategy_read_ns = now;
    i.t_intent_ns = now;
    i
}

fn status_of(r: &[&ExecReport]) -> Vec<u8> {
    r.iter().map(|r| r.status).collect()
}

/// Verifies a wire transaction's signature with its first account key (the fee payer).
fn verify_wire(wire: &[u8]) -> [u8; 64] {
    assert_eq!(wire[0], 1, "one signature");
    let signature: [u8; 64] = wire[1..65].try_into().expect("sig");
    let message = &wire[65..];
    assert_eq!(message[0], 0x80, "v0 message");
    let keys_at = 4 + 1; // prefix, 3 header bytes, compact-u16 count (< 128 keys)
    let payer: [u8; 32] = message[keys_at..keys_at + 32].try_into().expect("payer");
    VerifyingKey::from_bytes(&payer)
        .expect("key")
        .verify(message, &Signature::from_bytes(&signature))
        .expect("signature verifies with the fee payer's key");
    signature
}

// ---------------------------------------------------------------------------------------
// A local JSON-RPC server.

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Answers everything at once; reports sent transactions as confirmed in slot 777.
    Fast,
    /// Holds every `sendTransaction` reply until released.
    Slow,
    /// Serves blockhashes but refuses every send with JSON-RPC error -32002.
    Erroring,
    /// Answers every call with HTTP 503.
    Broken,
    /// Takes every send but never reports a status; `getBlockHeight` says `height`.
    Silent,
}

struct Server {
    url: String,
    kind: Kind,
    sends: AtomicUsize,
    signatures: Mutex<Vec<String>>,
    gate: (Mutex<bool>, Condvar),
    /// What `getBlockHeight` answers, and how many times it was asked.
    height: AtomicU64,
    height_calls: AtomicUsize,
}

impl Server {
    fn start(kind: Kind) -> Arc<Server> {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let server = Arc::new(Server {
            url: format!("http://{}", listener.local_addr().expect("addr")),
            kind,
            sends: AtomicUsize::new(0),
            signatures: Mutex::new(Vec::new()),
            gate: (Mutex::new(false), Condvar::new()),
            height: AtomicU64::new(800),
            height_calls: AtomicUsize::new(0),
        });
        let s = Arc::clone(&server);
        std::thread::spawn(move || {
            // Connections end when the test process does (each test is its own process).
            for stream in listener.incoming().flatten() {
                let s = Arc::clone(&s);
                std::thread::spawn(move || s.connection(stream));
            }
        });
        server
    }

    fn release(&self) {
        *self.gate.0.lock().expect("gate") = true;
        self.gate.1.notify_all();
    }

    fn connection(&self, stream: TcpStream) {
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut writer = stream;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let mut length = 0usize;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 {
                    return;
                }
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    if k.eq_ignore_ascii_case("content-length") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
            }
            let mut body = vec![0u8; length];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let (status, reply) = if self.kind == Kind::Broken {
                ("503 Service Unavailable", String::from("overloaded"))
            } else {
                ("200 OK", self.answer(&request).to_string())
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                reply.len()
            );
            if writer.write_all(head.as_bytes()).is_err()
                || writer.write_all(reply.as_bytes()).is_err()
            {
                return;
            }
        }
    }

    fn answer(&self, request: &Value) -> Value {
        let id = request.get("id").cloned().unwrap_or(Value::Null);
        let method = request["method"].as_str().unwrap_or("");
        let sending = matches!(method, "sendTransaction" | "sendBundle");
        if self.kind == Kind::Erroring && sending {
            self.sends.fetch_add(1, Ordering::SeqCst);
            return json!({"jsonrpc": "2.0", "id": id,
                "error": {"code": -32002, "message": "Transaction simulation failed"}});
        }
        let result = match method {
            "getHealth" => json!("ok"),
            "getBlockHeight" => {
                self.height_calls.fetch_add(1, Ordering::SeqCst);
                json!(self.height.load(Ordering::SeqCst))
            }
            "getLatestBlockhash" => json!({"context": {"slot": 700},
                "value": {"blockhash": addr(77), "lastValidBlockHeight": 900}}),
            "sendTransaction" => {
                let b64 = request["params"][0].as_str().unwrap_or("");
                use base64::Engine as _;
                let wire = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .expect("base64");
                let signature = verify_wire(&wire);
                let sig58 = bs58::encode(signature).into_string();
                self.signatures.lock().expect("sigs").push(sig58.clone());
                self.sends.fetch_add(1, Ordering::SeqCst);
                if self.kind == Kind::Slow {
                    let mut open = self.gate.0.lock().expect("gate");
                    while !*open {
                        open = self.gate.1.wait(open).expect("gate");
                    }
                }
                json!(sig58)
            }
            "getSignatureStatuses" => {
                let known = self.signatures.lock().expect("sigs").clone();
                let values: Vec<Value> = request["params"][0]
                    .as_array()
                    .map(|a| a.to_vec())
                    .unwrap_or_default()
                    .iter()
                    .map(|s| {
                        if self.kind == Kind::Fast
                            && known.iter().any(|k| Some(k.as_str()) == s.as_str())
                        {
                            json!({"slot": 777, "confirmations": 0, "err": null,
                                "confirmationStatus": "confirmed"})
                        } else {
                            Value::Null
                        }
                    })
                    .collect();
                json!({"context": {"slot": 778}, "value": values})
            }
            _ => {
                return json!({"jsonrpc": "2.0", "id": id,
                    "error": {"code": -32601, "message": "Method not found"}})
            }
        };
        json!({"jsonrpc": "2.0", "id": id, "result": result})
    }
}

/// Live: push fresh intents (route 0) until one is signed (the first ones are refused, as
/// `blockhash_too_old`, until a blockhash has arrived from an endpoint); its intent seq.
fn push_until_signed(inst: &mut Instance) -> u64 {
    let mut seq = 0u64;
    let start = Instant::now();
    loop {
        inst.push(intent(seq, seq, 0, 7));
        let s = seq;
        inst.reports_until("a decision", |rs| {
            rs.iter().any(|r| {
                r.intent_seq == s && matches!(r.status, exec_status::SIGNED | exec_status::REJECTED)
            })
        });
        if inst.of(s).iter().any(|r| r.status == exec_status::SIGNED) {
            return s;
        }
        assert_eq!(inst.of(s)[0].reason, reject_reason::BLOCKHASH_TOO_OLD);
        assert!(start.elapsed() < DEADLINE);
        seq += 1;
    }
}

fn keypair_file(inst: &Instance) -> PathBuf {
    let path = inst.dir.join("id.json");
    let out = Command::new(BIN)
        .arg("--generate-keypair")
        .arg(&path)
        .output()
        .expect("generate");
    assert!(out.status.success(), "{out:?}");
    path
}

// ---------------------------------------------------------------------------------------

#[test]
fn dry_run_signs_accepted_intents_and_reports_every_refusal_with_its_code() {
    let mut inst = Instance::new("dry");
    let capture = inst.dir.join("capture.jsonl");
    let config = inst.write_config(&format!("capture_path = \"{}\"", capture.display()));
    inst.spawn(&config, &[]);

    let mut old_tick = intent(5, 5, 0, 10);
    old_tick.t_tick_recv_ns = 1;
    let mut stale = intent(7, 7, 0, 10);
    stale.epoch = 0;
    let mut tip_no_account = intent(8, 8, 0, 10);
    tip_no_account.tip_lamports = 5;
    let mut pricey = intent(9, 9, 0, 10);
    pricey.cu_price_micro_lamports = 1001;
    // A transfer has no min out, and the routes have one leg.
    let mut transfer_min_out = intent(10, 10, 0, 10);
    transfer_min_out.min_out[0] = 1;
    let mut second_leg = intent(11, 11, 0, 10);
    second_leg.amount_in[1] = 10;
    let cases: Vec<(OrderIntent, Option<u8>)> = vec![
        (intent(0, 0, 0, 10), None),
        (intent(1, 0, 0, 10), Some(reject_reason::DUPLICATE)),
        (intent(2, 1, 0, 0), Some(reject_reason::ZERO_AMOUNT)),
        (
            intent(3, 2, 0, 1001),
            Some(reject_reason::AMOUNT_OVER_ROUTE_MAX),
        ),
        (intent(4, 3, 9, 10), Some(reject_reason::UNKNOWN_ROUTE)),
        (old_tick, Some(reject_reason::TICK_TOO_OLD)),
        (intent(6, 6, 1, 1000), None),
        (stale, Some(reject_reason::STALE_EPOCH)),
        (tip_no_account, Some(reject_reason::UNSIGNABLE)),
        (pricey, Some(reject_reason::CU_PRICE_TOO_HIGH)),
        (transfer_min_out, Some(reject_reason::UNUSED_LEG_NONZERO)),
        (second_leg, Some(reject_reason::UNUSED_LEG_NONZERO)),
    ];
    for (i, _) in &cases {
        inst.push(*i);
    }
    let n = cases.len() as u64;
    inst.reports_until("a final report per intent", |rs| {
        (0..n).all(|s| {
            rs.iter().any(|r| {
                r.intent_seq == s
                    && (r.status == exec_status::SIGNED || r.status == exec_status::REJECTED)
            })
        })
    });
    for (i, expected) in &cases {
        let rs = inst.of(i.seq);
        match expected {
            None => {
                assert_eq!(status_of(&rs), [exec_status::ACCEPTED, exec_status::SIGNED]);
                let signed = rs[1];
                assert!(signed.t_signed_ns >= signed.t_intent_read_ns);
                assert_eq!((signed.epoch, signed.tick_seq), (i.epoch, i.tick_seq));
                assert_ne!(signed.signature, [0; 64]);
            }
            Some(code) => {
                assert_eq!(status_of(&rs), [exec_status::REJECTED], "seq {}", i.seq);
                assert_eq!(rs[0].reason, *code, "seq {}", i.seq);
            }
        }
    }
    let c = inst.ctl();
    assert_eq!(c.signer_accepted.load(Ordering::Acquire), 2);
    assert_eq!(c.signer_signed.load(Ordering::Acquire), 2);
    assert_eq!(c.signer_rejected.load(Ordering::Acquire), 10);
    let reasons: Vec<u64> = c
        .signer_reject_reasons
        .iter()
        .map(|r| r.load(Ordering::Acquire))
        .collect();
    assert_eq!(reasons.iter().sum::<u64>(), 10);
    assert_eq!(reasons[reject_reason::UNUSED_LEG_NONZERO as usize], 2);
    assert_eq!(reasons[reject_reason::DUPLICATE as usize], 1);
    assert_eq!(
        c.pid_signer.load(Ordering::Acquire),
        inst.child.as_ref().expect("child").id()
    );
    assert_eq!(c.signer_mode.load(Ordering::Acquire), signer_mode::DRY_RUN);
    assert!(phantom_ringbuf::control::read_str(&c.signer_capture_path)
        .starts_with(&capture.display().to_string()));
    assert!(c.hb_signer_ns.load(Ordering::Acquire) > 0);

    assert_eq!(inst.terminate(), 0, "log:\n{}", inst.log());
    // The capture has one line per signed transaction, each verifying.
    let text = std::fs::read_to_string(&capture).expect("capture");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(lines.len(), 2);
    for (line, seq) in lines.iter().zip([0u64, 6]) {
        assert_eq!(line["intent_seq"], seq);
        use base64::Engine as _;
        let wire = base64::engine::general_purpose::STANDARD
            .decode(line["tx"].as_str().expect("tx"))
            .expect("b64");
        let sig = verify_wire(&wire);
        assert_eq!(line["signature"], bs58::encode(sig).into_string());
        let signed = inst.of(seq)[1];
        assert_eq!(signed.signature, sig);
        assert_eq!(line["t_signed_ns"], signed.t_signed_ns);
        // The placeholder blockhash (no endpoint configured) sits after the account keys.
        let message = &wire[65..];
        let keys = message[4] as usize;
        assert_eq!(
            &message[5 + 32 * keys..5 + 32 * keys + 32],
            b"phantom-dry-run-placeholder-hash"
        );
    }
    // No key material in the log: the throwaway key's secret is never printed, and only the
    // public key is named.
    assert!(inst.log().contains("fee_payer"), "{}", inst.log());
}

#[test]
fn epoch_fence_honours_the_old_epoch_below_its_bound_only() {
    let mut inst = Instance::new("fence");
    let c = inst.control.strategy();
    c.handover_epoch.store(4, Ordering::Release);
    c.handover_intent_end.store(2, Ordering::Release);
    c.lease_epoch.store(5, Ordering::Release);
    let config = inst.write_config("");
    inst.spawn(&config, &[]);
    let epochs = [4u64, 4, 4, 3, 5, 6];
    for (seq, epoch) in epochs.iter().enumerate() {
        let mut i = intent(seq as u64, seq as u64, 0, 1);
        i.epoch = *epoch;
        inst.push(i);
    }
    let n = epochs.len() as u64;
    inst.reports_until("every intent decided", |rs| {
        (0..n).all(|s| {
            rs.iter().any(|r| {
                r.intent_seq == s && matches!(r.status, exec_status::SIGNED | exec_status::REJECTED)
            })
        })
    });
    let decided: Vec<u8> = (0..n)
        .map(|s| {
            let rs = inst.of(s);
            if rs.iter().any(|r| r.status == exec_status::SIGNED) {
                0
            } else {
                rs[0].reason
            }
        })
        .collect();
    let stale = reject_reason::STALE_EPOCH;
    // Old epoch 4: seqs 0, 1 (< 2) honoured, seq 2 refused; epoch 3 and 6 refused.
    assert_eq!(decided, [0, 0, stale, stale, 0, stale]);
    assert_eq!(inst.terminate(), 0);
}

#[test]
fn kill_switch_in_the_control_block_and_the_file_refuse_until_cleared() {
    let mut inst = Instance::new("kill");
    let kill_file = inst.dir.join("KILL");
    let config = inst.write_config(&format!("kill_switch_path = \"{}\"", kill_file.display()));
    inst.spawn(&config, &[]);
    let mut seq = 0u64;
    // Pushes one intent and returns its decision (0 = signed, else the reason).
    let mut decide = |inst: &mut Instance| -> u8 {
        let s = seq;
        seq += 1;
        inst.push(intent(s, s, 0, 1));
        inst.reports_until("a decision", |rs| {
            rs.iter().any(|r| {
                r.intent_seq == s && matches!(r.status, exec_status::SIGNED | exec_status::REJECTED)
            })
        });
        let rs = inst.of(s);
        if rs.iter().any(|r| r.status == exec_status::SIGNED) {
            0
        } else {
            rs[0].reason
        }
    };
    assert_eq!(decide(&mut inst), 0);
    inst.control
        .supervisor()
        .kill_switch
        .store(1, Ordering::Release);
    for _ in 0..3 {
        assert_eq!(decide(&mut inst), reject_reason::KILL_SWITCH);
    }
    inst.control
        .supervisor()
        .kill_switch
        .store(0, Ordering::Release);
    assert_eq!(decide(&mut inst), 0);
    // The file is watched from a thread: wait for the first refusal, then every intent is
    // refused while the file exists.
    std::fs::write(&kill_file, b"").expect("kill file");
    let start = Instant::now();
    while decide(&mut inst) != reject_reason::KILL_SWITCH {
        assert!(start.elapsed() < DEADLINE, "kill file never noticed");
    }
    for _ in 0..3 {
        assert_eq!(decide(&mut inst), reject_reason::KILL_SWITCH);
    }
    std::fs::remove_file(&kill_file).expect("rm");
    let start = Instant::now();
    while decide(&mut inst) != 0 {
        assert!(
            start.elapsed() < DEADLINE,
            "kill file removal never noticed"
        );
    }
    assert_eq!(inst.terminate(), 0);
}

#[test]
fn stop_via_run_state_drains_every_queued_intent_then_exits_zero() {
    let mut inst = Instance::new("drain");
    for s in 0..100u64 {
        inst.push(intent(s, s, 0, 1));
    }
    // Stop is requested before the signer even starts: it must still decide all 100.
    inst.control
        .supervisor()
        .run_state
        .store(1, Ordering::Release);
    let config = inst.write_config("");
    inst.spawn(&config, &[]);
    assert_eq!(inst.wait_exit(), 0, "log:\n{}", inst.log());
    inst.reports_until("all reports", |rs| rs.len() >= 200);
    for s in 0..100u64 {
        assert_eq!(
            status_of(&inst.of(s)),
            [exec_status::ACCEPTED, exec_status::SIGNED]
        );
    }
    assert_eq!(inst.ctl().signer_signed.load(Ordering::Acquire), 100);
}

#[test]
fn blockhash_unavailable_refuses_every_intent() {
    let mut inst = Instance::new("nobh");
    let broken = Server::start(Kind::Broken);
    let config = inst.write_config(&format!("rpc_endpoints = [\"{}\"]", broken.url));
    inst.spawn(&config, &[]);
    for s in 0..3u64 {
        inst.push(intent(s, s, 0, 1));
    }
    inst.reports_until("three refusals", |rs| rs.len() >= 3);
    for r in &inst.seen {
        assert_eq!(
            (r.status, r.reason),
            (exec_status::REJECTED, reject_reason::BLOCKHASH_TOO_OLD)
        );
    }
    assert_eq!(inst.terminate(), 0);
}

#[test]
fn live_send_fast_endpoint_wins_over_slow_and_erroring_then_lands() {
    let mut inst = Instance::new("live");
    let fast = Server::start(Kind::Fast);
    let slow = Server::start(Kind::Slow);
    let erroring = Server::start(Kind::Erroring);
    let key = keypair_file(&inst);
    let signer = format!(
        "mode = \"live\"\nkeypair_path = \"{}\"\nrpc_endpoints = [\"{}\", \"{}\", \"{}\"]\n\
         send_timeout_ms = 120000\nlanding_poll_ms = 10\nblockhash_refresh_ms = 20\n\
         blockhash_max_age_ms = 600000\ncapture_path = \"{}\"",
        key.display(),
        slow.url,
        erroring.url,
        fast.url,
        inst.dir.join("capture.jsonl").display()
    );
    let config = inst.write_config(&signer);
    inst.spawn(&config, &["--live"]);
    assert_eq!(
        inst.ctl().signer_mode.load(Ordering::Acquire),
        signer_mode::LIVE
    );
    // The blockhash arrives from the fast or the slow server (the erroring one refuses):
    // retry a fresh intent until one is accepted.
    let seq = push_until_signed(&mut inst);
    // SENT and then LANDED while the slow endpoint still holds its reply: the fast one won.
    inst.reports_until("landed", |rs| {
        rs.iter()
            .any(|r| r.intent_seq == seq && r.status == exec_status::LANDED)
    });
    // Live, the capture line is written before the send, with the signer still running.
    let capture = std::fs::read_to_string(inst.dir.join("capture.jsonl")).expect("capture");
    let line: Value = serde_json::from_str(capture.lines().last().expect("a line")).expect("json");
    assert_eq!(line["intent_seq"], seq);
    assert_eq!(
        slow.sends.load(Ordering::SeqCst),
        1,
        "the slow endpoint got it too"
    );
    assert_eq!(fast.sends.load(Ordering::SeqCst), 1);
    let rs = inst.of(seq);
    assert_eq!(
        status_of(&rs),
        [
            exec_status::ACCEPTED,
            exec_status::SIGNED,
            exec_status::SENT,
            exec_status::LANDED
        ]
    );
    let landed = rs[3];
    assert_eq!(landed.slot, 777);
    assert!(landed.t_landed_ns >= landed.t_sent_ns && landed.t_sent_ns >= landed.t_signed_ns);
    assert_eq!(landed.signature, rs[1].signature);
    let c = inst.ctl();
    assert_eq!(c.signer_sent.load(Ordering::Acquire), 1);
    assert_eq!(c.signer_landed.load(Ordering::Acquire), 1);
    assert_eq!(c.signer_failed.load(Ordering::Acquire), 0);
    slow.release();
    assert_eq!(inst.terminate(), 0, "log:\n{}", inst.log());
    // The erroring endpoint's refusal was logged, not turned into a failure of a sent trade.
    assert!(inst.log().contains("-32002"), "{}", inst.log());
}

#[test]
fn live_needs_the_config_mode_and_the_flag() {
    let inst = Instance::new("gate");
    let key = keypair_file(&inst);
    let live = inst.write_config(&format!(
        "mode = \"live\"\nkeypair_path = \"{}\"\nrpc_endpoints = [\"http://127.0.0.1:9\"]",
        key.display()
    ));
    let out = Command::new(BIN)
        .args(["--instance", &inst.name, "--config"])
        .arg(&live)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--live was not given"), "{err}");
    let dry = inst.write_config("");
    let out = Command::new(BIN)
        .args(["--instance", &inst.name, "--live", "--config"])
        .arg(&dry)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("signer.mode is \"dry-run\""));
    // Nothing was announced: the process refused before attaching.
    assert_eq!(
        inst.ctl().signer_mode.load(Ordering::Acquire),
        signer_mode::UNKNOWN
    );
}

#[test]
fn check_config_exits_zero_or_one_naming_the_key() {
    let inst = Instance::new("check");
    let good = inst.write_config("wait = \"adaptive\"");
    let run = |path: &Path| {
        Command::new(BIN)
            .args(["--instance", &inst.name, "--check-config", "--config"])
            .arg(path)
            .output()
            .expect("run")
    };
    let out = run(&good);
    assert!(out.status.success(), "{out:?}");
    let bad = inst.dir.join("bad.toml");
    for (from, to, key) in [
        (
            "max_open_intents = 64",
            "max_open_intent = 64",
            "signer.limits",
        ),
        (
            "max_amount_in_raw = 1000",
            "max_amount_in_raw = 0",
            "routes[0].max_amount_in_raw",
        ),
        ("[[pools]]\nname = \"unused\"", "pools = [1]", "pools[0]"),
        ("[signer]\n", "[signer]\nwait = \"busy\"\n", "signer.wait"),
    ] {
        let text = config("").replacen(from, to, 1);
        assert_ne!(text, config(""), "{from}");
        std::fs::write(&bad, text).expect("write");
        let out = run(&bad);
        assert_eq!(out.status.code(), Some(1), "{from}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(key), "{from}: {err}");
    }
    // A world-readable key file is refused at check time, naming the key.
    let key = keypair_file(&inst);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    std::fs::write(
        &bad,
        config(&format!("keypair_path = \"{}\"", key.display())),
    )
    .expect("w");
    let out = run(&bad);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("signer.keypair_path"));
}

#[test]
fn generate_keypair_writes_mode_0600_never_overwrites_and_prints_only_the_public_key() {
    let inst = Instance::new("keygen");
    let path = inst.dir.join("k.json");
    let out = Command::new(BIN)
        .arg("--generate-keypair")
        .arg(&path)
        .output()
        .expect("run");
    assert!(out.status.success(), "{out:?}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let bytes: Vec<u8> =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json array");
    assert_eq!(bytes.len(), 64);
    let public = bs58::encode(&bytes[32..]).into_string();
    let printed =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(printed.contains(&public), "{printed}");
    let secret_decimal: Vec<String> = bytes[..8].iter().map(u8::to_string).collect();
    assert!(!printed.contains(&secret_decimal.join(",")));
    assert!(!printed.contains(&bs58::encode(&bytes[..32]).into_string()));
    let again = Command::new(BIN)
        .arg("--generate-keypair")
        .arg(&path)
        .output()
        .expect("run");
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        serde_json::to_string(&bytes)
            .expect("json")
            .replace(' ', "")
    );
}

#[test]
fn sends_refused_by_every_endpoint_become_a_failed_report_with_the_rpc_code() {
    let mut inst = Instance::new("sendfail");
    let erroring = Server::start(Kind::Erroring);
    let key = keypair_file(&inst);
    // Both the RPC endpoint and the Jito endpoint (sendBundle) refuse.
    let signer = format!(
        "mode = \"live\"\nkeypair_path = \"{}\"\nrpc_endpoints = [\"{url}\"]\n\
         jito_endpoint = \"{url}\"\nblockhash_refresh_ms = 20\nblockhash_max_age_ms = 600000\n\
         send_timeout_ms = 60000",
        key.display(),
        url = erroring.url,
    );
    let config = inst.write_config(&signer);
    inst.spawn(&config, &["--live"]);
    let seq = push_until_signed(&mut inst);
    inst.reports_until("failed", |rs| {
        rs.iter()
            .any(|r| r.intent_seq == seq && r.status == exec_status::FAILED)
    });
    assert_eq!(
        erroring.sends.load(Ordering::SeqCst),
        2,
        "sendTransaction and sendBundle"
    );
    let rs = inst.of(seq);
    assert_eq!(
        status_of(&rs),
        [
            exec_status::ACCEPTED,
            exec_status::SIGNED,
            exec_status::FAILED
        ]
    );
    assert_eq!(rs[2].error_code, -32002);
    assert_eq!(rs[2].signature, rs[1].signature);
    let c = inst.ctl();
    assert_eq!(c.signer_sent.load(Ordering::Acquire), 0);
    assert_eq!(c.signer_failed.load(Ordering::Acquire), 1);
    assert_eq!(inst.terminate(), 0);
}

#[test]
fn the_minute_lamport_budget_is_exhausted_and_published() {
    let mut inst = Instance::new("budget");
    // A transfer at 10 000 CU and 5 micro-lamports costs 5 000 + ceil(0.05) = 5 001 lamports:
    // three fit in the minute.
    let path = inst.dir.join("config.toml");
    std::fs::write(
        &path,
        config_with(
            "",
            "max_lamports_per_minute = 15003\nmax_lamports_per_day = 1000000",
        ),
    )
    .expect("config");
    inst.spawn(&path, &[]);
    for s in 0..10 {
        inst.push(intent(s, s, 0, 10));
    }
    inst.reports_until("a final report per intent", |rs| {
        (0..10).all(|s| {
            rs.iter().any(|r| {
                r.intent_seq == s
                    && (r.status == exec_status::SIGNED || r.status == exec_status::REJECTED)
            })
        })
    });
    for s in 0..10 {
        let rs = inst.of(s);
        if s < 3 {
            assert_eq!(status_of(&rs), [exec_status::ACCEPTED, exec_status::SIGNED]);
        } else {
            assert_eq!(status_of(&rs), [exec_status::REJECTED], "seq {s}");
            assert_eq!(
                rs[0].reason,
                reject_reason::LAMPORT_BUDGET_MINUTE,
                "seq {s}"
            );
        }
    }
    let c = inst.ctl();
    assert_eq!(
        c.signer_reject_reasons[reject_reason::LAMPORT_BUDGET_MINUTE as usize]
            .load(Ordering::Acquire),
        7
    );
    assert_eq!(c.signer_budget_limit_minute.load(Ordering::Acquire), 15_003);
    assert_eq!(c.signer_budget_limit_day.load(Ordering::Acquire), 1_000_000);
    wait_until("the committed lamports to be published", || {
        c.signer_budget_committed_minute.load(Ordering::Acquire) == 15_003
            && c.signer_budget_committed_day.load(Ordering::Acquire) == 15_003
    });
    assert_eq!(inst.terminate(), 0, "log:\n{}", inst.log());
}

#[test]
fn sigkill_mid_burst_twenty_times_signs_no_tick_twice_and_keeps_the_budget() {
    let mut inst = Instance::new("kill");
    // Transfers cost 5 001 lamports; the budget (minute and day alike, so that a slow run
    // past a minute still binds) allows 1 000 of the 1 200 distinct ticks pushed.
    let cost = 5_001u64;
    let budget = 1_000 * cost;
    let path = inst.dir.join("config.toml");
    std::fs::write(
        &path,
        config_with(
            "",
            &format!("max_lamports_per_minute = {budget}\nmax_lamports_per_day = {budget}"),
        ),
    )
    .expect("config");
    let kills = 20u64;
    let per_round = 120u64;
    let mut seq = 0u64;
    for round in 0..kills {
        inst.ctl()
            .signer_mode
            .store(signer_mode::UNKNOWN, Ordering::Release);
        inst.spawn(&path, &[]);
        let start = seq;
        // Each tick twice on route 0: the second is a repeat of (tick, route).
        while seq < start + per_round {
            if inst.intents.free() > 0 {
                inst.push(intent(seq, seq / 2, 0, 10));
                seq += 1;
            } else {
                std::thread::sleep(Duration::from_millis(1));
            }
            inst.drain_reports();
        }
        // Kill at a point that moves with the round, while the burst is being worked on.
        let kill_after = start + 5 + (round * 37) % (per_round - 10);
        inst.reports_until("the burst to be under way", |rs| {
            rs.iter().any(|r| r.intent_seq >= kill_after)
        });
        let mut child = inst.child.take().expect("running");
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
    }
    // A last signer finishes what is left and stops cleanly.
    inst.ctl()
        .signer_mode
        .store(signer_mode::UNKNOWN, Ordering::Release);
    inst.spawn(&path, &[]);
    let n = seq;
    inst.reports_until("a final report for every intent", |rs| {
        let mut done = vec![false; n as usize];
        for r in rs {
            if matches!(
                r.status,
                exec_status::SIGNED | exec_status::REJECTED | exec_status::FAILED
            ) {
                done[r.intent_seq as usize] = true;
            }
        }
        done.iter().all(|d| *d)
    });
    assert_eq!(inst.terminate(), 0, "log:\n{}", inst.log());

    let mut signed: HashMap<(u64, u32), Vec<u64>> = HashMap::new();
    let mut acted: HashMap<(u64, u32), std::collections::HashSet<u64>> = HashMap::new();
    let mut in_flight = 0u64;
    for r in &inst.seen {
        let key = (r.tick_seq, r.route_id);
        if r.status == exec_status::SIGNED {
            signed.entry(key).or_default().push(r.intent_seq);
            acted.entry(key).or_default().insert(r.intent_seq);
        }
        if r.status == exec_status::FAILED && r.error_code == exec_error::IN_FLIGHT_AT_RESTART {
            in_flight += 1;
            acted.entry(key).or_default().insert(r.intent_seq);
        }
    }
    let twice: Vec<_> = signed.iter().filter(|(_, v)| v.len() > 1).collect();
    assert!(twice.is_empty(), "signed twice: {twice:?}");
    let acted_twice: Vec<_> = acted.iter().filter(|(_, v)| v.len() > 1).collect();
    assert!(acted_twice.is_empty(), "accepted twice: {acted_twice:?}");
    // The budget carried across the 21 signers: never more than 1 000 accepted in total
    // (a death between the ledger's bucket update and its `applied` mark may count one
    // cost twice, so a few fewer are allowed).
    let accepted = acted.len() as u64;
    assert!((990..=1_000).contains(&accepted), "accepted {accepted}");
    let c = inst.ctl();
    let refused_budget = c.signer_reject_reasons[reject_reason::LAMPORT_BUDGET_MINUTE as usize]
        .load(Ordering::Acquire)
        + c.signer_reject_reasons[reject_reason::LAMPORT_BUDGET_DAY as usize]
            .load(Ordering::Acquire);
    assert!(refused_budget > 0);
    assert!(c.signer_reject_reasons[reject_reason::DUPLICATE as usize].load(Ordering::Acquire) > 0);
    println!(
        "kills {kills}, intents {n}, signed {}, in flight at restart {in_flight}, \
         accepted ticks {accepted}, duplicates refused {}, budget refusals {refused_budget}, \
         signed twice 0",
        signed.len(),
        c.signer_reject_reasons[reject_reason::DUPLICATE as usize].load(Ordering::Acquire)
    );
}

/// A sent transaction is expired only once the chain's block height passes its blockhash's
/// last valid block height (900 here): long past `landing_timeout_ms`, while the height is
/// still 800 it stays pending (it may still land); at 901 it is reported `FAILED`/`EXPIRED`.
#[test]
fn a_sent_transaction_expires_by_last_valid_block_height_not_by_the_clock() {
    let mut inst = Instance::new("lvbh");
    let silent = Server::start(Kind::Silent);
    let key = keypair_file(&inst);
    let signer = format!(
        "mode = \"live\"\nkeypair_path = \"{}\"\nrpc_endpoints = [\"{}\"]\n\
         send_timeout_ms = 120000\nlanding_poll_ms = 10\nlanding_timeout_ms = 20\n\
         blockhash_refresh_ms = 20\nblockhash_max_age_ms = 600000",
        key.display(),
        silent.url,
    );
    let config = inst.write_config(&signer);
    inst.spawn(&config, &["--live"]);
    let seq = push_until_signed(&mut inst);
    inst.reports_until("sent", |rs| {
        rs.iter()
            .any(|r| r.intent_seq == seq && r.status == exec_status::SENT)
    });
    // Many polls (each 10 ms) past the 20 ms landing timeout: still pending.
    let asked = silent.height_calls.load(Ordering::SeqCst);
    wait_until("the lander to ask the height again and again", || {
        silent.height_calls.load(Ordering::SeqCst) >= asked + 20
    });
    inst.drain_reports();
    assert!(
        !inst.of(seq).iter().any(|r| r.status == exec_status::FAILED),
        "not expired while the blockhash is valid"
    );
    silent.height.store(901, Ordering::SeqCst);
    inst.reports_until("expired", |rs| {
        rs.iter()
            .any(|r| r.intent_seq == seq && r.status == exec_status::FAILED)
    });
    let code = inst
        .of(seq)
        .iter()
        .find(|r| r.status == exec_status::FAILED)
        .map(|r| r.error_code);
    assert_eq!(code, Some(exec_error::EXPIRED));
    assert_eq!(inst.terminate(), 0, "log:\n{}", inst.log());
}

//! End to end against the market simulator: a real `phantom-sim` process (dislocating often),
//! `phantom-allrust` on a config generated for it (the example's pools and CPMM routes, a
//! keypair written here), stopped with SIGTERM. Checks the READY handshake, the output's
//! shape and bookkeeping, and that the dumped transactions are signed by the configured key.
//!
//! The simulator executable is looked for beside this test's target directory
//! (`target/debug/phantom-sim`), in `target/bins/`, in the Python package's `bin/`, or at
//! `$PHANTOM_SIM_BIN`; when none exists it is built with `cargo build -p phantom-sim`.

use base64::Engine as _;
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(60);

/// A child process killed (and reaped) on drop, whatever path the test takes.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bench/ is in the repository")
        .to_path_buf()
}

fn sim_binary() -> PathBuf {
    let mut candidates = Vec::new();
    if let Some(p) = std::env::var_os("PHANTOM_SIM_BIN") {
        candidates.push(PathBuf::from(p));
    }
    // target/<profile>/deps/<this test> -> target/<profile>/phantom-sim
    if let Some(profile_dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent()?.parent().map(Path::to_path_buf))
    {
        candidates.push(profile_dir.join("phantom-sim"));
    }
    candidates.push(repo().join("target/debug/phantom-sim"));
    candidates.push(repo().join("target/bins/debug/phantom-sim"));
    candidates.push(repo().join("strategy/phantom_pipeline/bin/phantom-sim"));
    if let Some(found) = candidates.iter().find(|p| p.is_file()) {
        return found.clone();
    }
    let status = Command::new(env!("CARGO"))
        .current_dir(repo())
        .args(["build", "-p", "phantom-sim", "--bin", "phantom-sim"])
        .env("PHANTOM_SKIP_BINS", "1")
        .status()
        .expect("run cargo build -p phantom-sim");
    assert!(status.success(), "cargo build -p phantom-sim failed");
    candidates
        .into_iter()
        .find(|p| p.is_file())
        .expect("phantom-sim built but not found in target/debug")
}

/// Lines of a child's stdout, read on a thread so the test can wait with a deadline.
fn lines(child: &mut Child) -> mpsc::Receiver<String> {
    let out = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

fn wait_line(rx: &mpsc::Receiver<String>, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let end = Instant::now() + DEADLINE;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if pred(&line) => return line,
            Ok(_) => {}
            Err(e) => panic!("no {what} within {DEADLINE:?}: {e}"),
        }
    }
}

fn write_keypair(path: &Path, key: &SigningKey) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let bytes = key.to_keypair_bytes();
    let text = format!(
        "[{}]",
        bytes
            .iter()
            .map(|b| b.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .expect("create keypair file");
    f.write_all(text.as_bytes()).expect("write keypair");
}

/// examples/simulator.toml pointed at this simulator and this key.
fn config(sim: &Value, dir: &Path, keypair: &Path) -> PathBuf {
    let text = std::fs::read_to_string(repo().join("examples/simulator.toml")).expect("example");
    let ws = sim["ws"].as_str().expect("ws");
    let rpc = sim["rpc"].as_str().expect("rpc");
    // The example's pools must be the simulator's (same addresses, same order).
    for p in sim["pools"].as_array().expect("pools") {
        let addr = p["address"].as_str().expect("address");
        assert!(text.contains(addr), "example lacks sim pool {addr}");
    }
    let text = text
        .replace("ws://127.0.0.1:8900", ws)
        .replace("http://127.0.0.1:8899", rpc)
        .replace(
            "/tmp/phantom-example/dry-run-key.json",
            keypair.to_str().expect("utf-8 path"),
        )
        .replace(
            "/tmp/phantom-example/capture.jsonl",
            dir.join("capture.jsonl").to_str().expect("utf-8 path"),
        );
    let path = dir.join("config.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "phantom-allrust-test-{}-{}",
        std::process::id(),
        phantom_ringbuf::clock::monotonic_ns()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn trades_the_simulator_and_reports_on_sigterm() {
    run_against_the_simulator(None);
}

#[test]
fn precomputed_nonce_signatures_verify_too() {
    run_against_the_simulator(Some("precomputed"));
}

fn run_against_the_simulator(signing: Option<&str>) {
    let dir = temp_dir();
    let mut sim = Guard(
        Command::new(sim_binary())
            .args([
                "--port",
                "0",
                "--rate",
                "2000",
                "--slot-ms",
                "50",
                "--dislocation-probability",
                "0.05",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start phantom-sim"),
    );
    let sim_lines = lines(&mut sim.0);
    let ready = wait_line(&sim_lines, "simulator ready line", |l| l.starts_with('{'));
    let sim_info: Value = serde_json::from_str(&ready).expect("ready JSON");

    let key = SigningKey::from_bytes(&[23; 32]);
    let keypair = dir.join("key.json");
    write_keypair(&keypair, &key);
    let cfg = config(&sim_info, &dir, &keypair);
    let out = dir.join("out.json");

    let mut app = Guard(
        Command::new(env!("CARGO_BIN_EXE_phantom-allrust"))
            .arg("--config")
            .arg(&cfg)
            .arg("--out")
            .arg(&out)
            .args(["--dump-tx", "5"])
            .args(signing.map(|m| ["--signing", m]).into_iter().flatten())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start phantom-allrust"),
    );
    let app_lines = lines(&mut app.0);
    wait_line(&app_lines, "READY", |l| l == "READY");

    // A few seconds of market: the run's length, not a synchronisation (with 5 % dislocations
    // at 2000 notifications/s the first trades come well within the first second).
    std::thread::sleep(Duration::from_secs(3));
    let pid = app.0.id() as libc::pid_t;
    // SAFETY: sending a signal to our own child, which we have not reaped (its pid is ours).
    let rc = unsafe { libc::kill(pid, libc::SIGTERM) };
    assert_eq!(rc, 0, "SIGTERM");
    let end = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(s) = app.0.try_wait().expect("wait") {
            break s;
        }
        assert!(
            Instant::now() < end,
            "no exit within {DEADLINE:?} of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success(), "exit status {status}");

    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("out file")).expect("JSON");
    assert_eq!(doc["system"], "all-rust");
    assert_eq!(doc["pids"]["main"].as_u64(), Some(u64::from(app.0.id())));
    let frames = doc["frames"].as_u64().expect("frames");
    let ticks = doc["ticks"].as_u64().expect("ticks");
    let intents = doc["intents"].as_u64().expect("intents");
    assert!(frames > 0, "{doc}");
    assert!(ticks > 0, "{doc}");
    assert_eq!(doc["errors"].as_u64(), Some(0), "{doc}");
    let signed = doc["signed"].as_array().expect("signed");
    assert!(!signed.is_empty(), "nothing signed: {doc}");
    assert!(signed.len() as u64 <= intents);
    let mut last_frame = 0;
    for rec in signed {
        let r: Vec<u64> = rec
            .as_array()
            .expect("record")
            .iter()
            .map(|v| v.as_u64().expect("u64"))
            .collect();
        assert_eq!(r.len(), 5, "{rec}");
        assert!(r[0] < frames, "frame_idx {} of {frames}", r[0]);
        assert!(r[0] >= last_frame, "records in frame order");
        last_frame = r[0];
        assert!(
            r[1] > 0 && r[1] <= r[2] && r[2] <= r[3] && r[3] <= r[4],
            "timestamps not in order: {rec}"
        );
    }

    // The dumped transactions: signed by the configured key over the message bytes, fee
    // payer first in the message.
    let txs = doc["txs"].as_array().expect("txs");
    assert_eq!(txs.len(), signed.len().min(5));
    let vk = VerifyingKey::from_bytes(&key.verifying_key().to_bytes()).expect("vk");
    for tx in txs {
        let wire = base64::engine::general_purpose::STANDARD
            .decode(tx.as_str().expect("base64"))
            .expect("base64");
        assert_eq!(wire[0], 1, "one signature");
        let sig = Signature::from_bytes(wire[1..65].try_into().expect("64 bytes"));
        let message = &wire[65..];
        vk.verify_strict(message, &sig).expect("signature verifies");
        assert_eq!(message[0], 0x80, "v0 message");
        assert_eq!(&message[5..37], vk.as_bytes(), "fee payer is the key");
    }
    drop(app);
    drop(sim);
    let _ = std::fs::remove_dir_all(&dir);
}

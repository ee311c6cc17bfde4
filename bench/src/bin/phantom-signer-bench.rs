//! `phantom-signer-bench [--samples N]`: the signer's hot path, measured in one run beside its
//! baseline, printed as one JSON object.
//!
//! * `bare_sign`: RFC 8032 ed25519 of the route's message bytes, nothing else (the floor);
//! * `sign_into_rfc8032` / `sign_into_precomputed`: patch a route template and sign it into
//!   wire bytes, with each signer;
//! * `intent_to_signed`: an `OrderIntent` popped from a real shared-memory ring, patched,
//!   signed, written as wire bytes, and its `ExecReport` pushed (what the signer does per
//!   intent, without the limits bookkeeping).
//!
//! The message (hex) and the key seed are printed too, so `phantom-pipeline bench --suite
//! signer` can time PyNaCl and solders signing the very same bytes.

use ed25519_dalek::{Signer as _, SigningKey};
use phantom_ringbuf::clock::monotonic_ns;
use phantom_ringbuf::records::{ExecReport, OrderIntent};
use phantom_ringbuf::ring::{self, Consumer, Producer};
use phantom_ringbuf::schema::Record;
use phantom_ringbuf::segment::{self, CreateOptions};
use phantom_signer::config::Config;
use phantom_signer::signing::Signer;
use phantom_signer::template::{RouteTemplate, TradeFields, PACKET_DATA_SIZE};
use solana_address::Address;
use std::process::ExitCode;

const CONFIG: &str = include_str!("../../../signer/tests/data/three_leg_route.toml");
const SEED: [u8; 32] = [7; 32];

fn percentiles(mut v: Vec<u64>) -> serde_json::Value {
    v.sort_unstable();
    let q = |f: f64| v[((v.len() as f64 * f) as usize).min(v.len() - 1)];
    serde_json::json!({"samples": v.len(), "p50_ns": q(0.5), "p99_ns": q(0.99), "max_ns": v[v.len() - 1]})
}

fn time_each(n: usize, mut f: impl FnMut(u64)) -> Vec<u64> {
    (0..n as u64)
        .map(|i| {
            let t = monotonic_ns();
            f(i);
            monotonic_ns() - t
        })
        .collect()
}

fn fields(i: u64) -> TradeFields {
    TradeFields {
        amount_in: [i + 1, i + 2, i + 3],
        min_out: [i, i, i],
        cu_price_micro_lamports: i,
        tip_lamports: 0,
        variant: 0,
    }
}

fn main() -> ExitCode {
    let samples: usize = std::env::args()
        .skip_while(|a| a != "--samples")
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let config = match Config::from_toml_str(CONFIG) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("phantom-signer-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    let key = SigningKey::from_bytes(&SEED);
    let payer = Address::new_from_array(key.verifying_key().to_bytes());
    // Route 1 of the fixture config is the SPL transfer; route 0 the three-leg swap.
    let mut template = match RouteTemplate::build(0, &config.routes[0], payer) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("phantom-signer-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = [0u8; PACKET_DATA_SIZE];
    let blockhash = [9u8; 32];
    let mut rfc = Signer::rfc8032(key.clone());
    let n = match template.sign_into(&fields(0), &blockhash, &mut rfc, &mut out) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("phantom-signer-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    let message = out[65..n].to_vec();

    let bare = time_each(samples, |_| {
        std::hint::black_box(key.sign(std::hint::black_box(&message)));
    });
    let with_rfc = time_each(samples, |i| {
        let _ = template.sign_into(&fields(i), &blockhash, &mut rfc, &mut out);
    });
    let mut pre = Signer::precomputed_nonce(key.clone(), samples + 1024);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while pre.nonces_ready() < samples && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let with_pre = time_each(samples, |i| {
        let _ = template.sign_into(&fields(i), &blockhash, &mut pre, &mut out);
    });

    // Through real shared-memory rings: pop an intent, sign it, report it.
    let tag = format!("phantom-sb{}", std::process::id());
    let (int_name, rep_name) = (format!("{tag}-intents"), format!("{tag}-reports"));
    let o = CreateOptions::default();
    let rings = ring::create::<OrderIntent>(&int_name, 1024, &o)
        .and_then(|_| ring::create::<ExecReport>(&rep_name, 1024, &o));
    let result = rings.and_then(|_| {
        let mut tx = Producer::<OrderIntent>::attach(&int_name, None)?;
        let mut rx = Consumer::<OrderIntent>::attach(&int_name, None)?;
        let mut reports = Producer::<ExecReport>::attach(&rep_name, None)?;
        let mut drain = Consumer::<ExecReport>::attach(&rep_name, None)?;
        let mut lat = Vec::with_capacity(samples);
        for i in 0..samples as u64 {
            let mut intent = OrderIntent::zeroed();
            intent.amount_in = [i + 1, i + 2, i + 3];
            tx.try_push(&intent);
            let t_read = monotonic_ns();
            let Some(intent) = rx.try_pop() else { continue };
            let f = TradeFields::from(&intent);
            let _ = template.sign_into(&f, &blockhash, &mut rfc, &mut out);
            let t_signed = monotonic_ns();
            let mut rep = ExecReport::zeroed();
            rep.t_intent_read_ns = t_read;
            rep.t_signed_ns = t_signed;
            rep.signature.copy_from_slice(&out[1..65]);
            reports.try_push(&rep);
            lat.push(t_signed - t_read);
            while drain.try_pop().is_some() {}
        }
        Ok(lat)
    });
    let _ = segment::remove(&int_name);
    let _ = segment::remove(&rep_name);
    let intent_to_signed = match result {
        Ok(l) => l,
        Err(e) => {
            eprintln!("phantom-signer-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    let hex: String = message.iter().map(|b| format!("{b:02x}")).collect();
    let seed: String = SEED.iter().map(|b| format!("{b:02x}")).collect();
    println!(
        "{}",
        serde_json::json!({
            "message_hex": hex,
            "seed_hex": seed,
            "wire_bytes": n,
            "bare_sign": percentiles(bare),
            "sign_into_rfc8032": percentiles(with_rfc),
            "sign_into_precomputed": percentiles(with_pre),
            "precomputed_used": pre.stats().precomputed,
            "intent_to_signed": percentiles(intent_to_signed),
        })
    );
    ExitCode::SUCCESS
}

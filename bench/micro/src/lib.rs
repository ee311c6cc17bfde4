//! `phantom_bench._micro`: micro-benchmark entry points (`bench/test_micro_decode_sign.py`): the product's own account
//! decoders (feeder crate) and route-template patch + sign (signer crate), run `iterations`
//! times inside Rust with the GIL released, so pytest-benchmark times Rust work and not the
//! interpreter. Each returns a checksum of what it computed (and passes every result through
//! [`black_box`]), so the work cannot be optimised away.
//!
//! Nothing here is on a product path. Errors are `ValueError`s naming the decoder or signer;
//! no input panics.

use ed25519_dalek::SigningKey;
use phantom_feeder::decode::{token, AmmInfo, CpmmPoolState, TokenAccount, Whirlpool};
use phantom_feeder::engine::MAX_ACCOUNT_BYTES;
use phantom_feeder::pubsub::{self, Frame};
use phantom_signer::config::Config;
use phantom_signer::signing::Signer;
use phantom_signer::template::{RouteTemplate, TradeFields, PACKET_DATA_SIZE};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use solana_address::Address;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// The route of `phantom-signer-bench` (route 0: Raydium v4 -> CPMM -> Whirlpool with a tip).
const ROUTE_CONFIG: &str = include_str!("../../../signer/tests/data/three_leg_route.toml");
/// Fixed key seed (the one `phantom-signer-bench` uses), so RFC 8032 checksums are stable.
const SEED: [u8; 32] = [7; 32];
/// A fixed recent blockhash patched into every message.
const BLOCKHASH: [u8; 32] = [9; 32];
/// The feeder's default `max_frame_bytes` (`[feeder]` config).
const MAX_FRAME_BYTES: usize = 1 << 20;
/// Multiplier of the checksum fold (the 64-bit FNV prime).
const FOLD: u64 = 0x0000_0100_0000_01b3;
/// Largest nonce pool a [`MicroSigner`] keeps (64 bytes a nonce: 64 MiB).
const MAX_POOL_SIZE: usize = 1 << 20;

/// The decoders `micro_decode` runs, by the name Python passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DecodeKind {
    /// `token::amount`: the feeder's vault hot path.
    TokenAmount,
    /// `TokenAccount::decode`: every field of a token account.
    TokenAccount,
    /// `AmmInfo::decode`.
    RaydiumAmmV4,
    /// `CpmmPoolState::decode`.
    RaydiumCpmm,
    /// `Whirlpool::decode`.
    OrcaWhirlpool,
    /// `pubsub::parse_frame` + `AccountNotification::decode_data` of a frame's text.
    PubsubFrame,
}

/// Every kind, in the order the error message lists them.
const DECODE_KINDS: [(&str, DecodeKind); 6] = [
    ("token_amount", DecodeKind::TokenAmount),
    ("token_account", DecodeKind::TokenAccount),
    ("raydium_amm_v4", DecodeKind::RaydiumAmmV4),
    ("raydium_cpmm", DecodeKind::RaydiumCpmm),
    ("orca_whirlpool", DecodeKind::OrcaWhirlpool),
    ("pubsub_frame", DecodeKind::PubsubFrame),
];

impl DecodeKind {
    fn from_name(name: &str) -> PyResult<Self> {
        DECODE_KINDS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, k)| *k)
            .ok_or_else(|| {
                let known: Vec<&str> = DECODE_KINDS.iter().map(|(n, _)| *n).collect();
                PyValueError::new_err(format!(
                    "micro_decode: unknown kind {name:?}; expected one of {}",
                    known.join(", ")
                ))
            })
    }

    fn name(self) -> &'static str {
        DECODE_KINDS
            .iter()
            .find(|(_, k)| *k == self)
            .map_or("?", |(n, _)| n)
    }
}

fn fold(acc: u64, x: u64) -> u64 {
    acc.wrapping_mul(FOLD).wrapping_add(x)
}

fn lo64(x: u128) -> u64 {
    x as u64 ^ (x >> 64) as u64
}

fn first_u64(b: &[u8]) -> u64 {
    b.first_chunk::<8>().map_or(0, |c| u64::from_le_bytes(*c))
}

fn decode_error(kind: DecodeKind, e: &dyn std::fmt::Display) -> String {
    format!("micro_decode({:?}): {e}", kind.name())
}

/// One decode of `data` (of `text`, its UTF-8 validated form, for the PubSub path), folded
/// into a u64. `buf` is the account-data buffer of the PubSub path.
fn decode_once(kind: DecodeKind, data: &[u8], text: &str, buf: &mut [u8]) -> Result<u64, String> {
    let err = |e: &dyn std::fmt::Display| decode_error(kind, e);
    Ok(match kind {
        DecodeKind::TokenAmount => token::amount(data).map_err(|e| err(&e))?,
        DecodeKind::TokenAccount => {
            let a = black_box(TokenAccount::decode(data).map_err(|e| err(&e))?);
            a.amount ^ first_u64(&a.mint.0) ^ a.state as u64
        }
        DecodeKind::RaydiumAmmV4 => {
            let p = black_box(AmmInfo::decode(data).map_err(|e| err(&e))?);
            p.status
                ^ p.state_data.need_take_pnl_coin
                ^ p.state_data.need_take_pnl_pc.rotate_left(1)
        }
        DecodeKind::RaydiumCpmm => {
            let p = black_box(CpmmPoolState::decode(data).map_err(|e| err(&e))?);
            p.lp_supply ^ p.protocol_fees_token_0 ^ first_u64(&p.token_0_vault.0)
        }
        DecodeKind::OrcaWhirlpool => {
            let p = black_box(Whirlpool::decode(data).map_err(|e| err(&e))?);
            lo64(p.sqrt_price) ^ lo64(p.liquidity) ^ p.tick_current_index as u64
        }
        DecodeKind::PubsubFrame => {
            let n = match pubsub::parse_frame(text, MAX_FRAME_BYTES).map_err(|e| err(&e))? {
                Frame::Account(n) => n,
                other => {
                    return Err(err(&format_args!(
                        "expected an accountNotification frame, got {other:?}"
                    )))
                }
            };
            let decoded = black_box(n.decode_data(buf).map_err(|e| err(&e))?);
            n.slot ^ n.lamports ^ n.subscription ^ decoded.len() as u64 ^ first_u64(decoded)
        }
    })
}

fn iterations_of(what: &str, iterations: i64) -> PyResult<u64> {
    u64::try_from(iterations).map_err(|_| {
        PyValueError::new_err(format!("{what}: iterations must be >= 0, got {iterations}"))
    })
}

/// Run decoder `kind` over `data` `iterations` times (GIL released); return a checksum of the
/// results. Kinds: token_amount, token_account, raydium_amm_v4, raydium_cpmm, orca_whirlpool,
/// pubsub_frame (the UTF-8 text of an accountNotification frame: parse + base64 decode).
#[pyfunction]
pub fn micro_decode(py: Python<'_>, kind: &str, data: &[u8], iterations: i64) -> PyResult<u64> {
    let kind = DecodeKind::from_name(kind)?;
    let iterations = iterations_of("micro_decode", iterations)?;
    if iterations == 0 {
        return Ok(0);
    }
    // The feeder gets frames as text its websocket already validated: validate once, here.
    let (text, mut buf) = if kind == DecodeKind::PubsubFrame {
        let text = std::str::from_utf8(data).map_err(|e| {
            PyValueError::new_err(decode_error(kind, &format_args!("frame is not UTF-8: {e}")))
        })?;
        (text, vec![0u8; MAX_ACCOUNT_BYTES])
    } else {
        ("", Vec::new())
    };
    py.detach(|| -> Result<u64, String> {
        let mut acc = 0u64;
        for i in 0..iterations {
            let x = decode_once(kind, black_box(data), black_box(text), &mut buf)?;
            acc = fold(acc, black_box(x) ^ i);
        }
        Ok(acc)
    })
    .map_err(PyValueError::new_err)
}

/// What iteration `i` patches in: amounts, min-outs and CU price change every time.
fn trade_fields(i: u64) -> TradeFields {
    TradeFields {
        amount_in: [i + 1, i + 2, i + 3],
        min_out: [i, i, i],
        cu_price_micro_lamports: i,
        tip_lamports: 0,
        variant: 0,
    }
}

/// The three-leg route template of `phantom-signer-bench` and a signer for its fee payer; each
/// `run` patches the trade fields and signs into wire bytes, `iterations` times.
#[pyclass(module = "phantom_pipeline._native")]
pub struct MicroSigner {
    template: RouteTemplate,
    signer: Signer,
    out: Box<[u8; PACKET_DATA_SIZE]>,
    wire_len: usize,
    /// Nonce pool capacity (0 in RFC 8032 mode).
    pool_size: usize,
}

impl MicroSigner {
    fn build(precomputed: bool, pool_size: usize) -> PyResult<Self> {
        let fail = |e: &dyn std::fmt::Display| {
            PyValueError::new_err(format!("MicroSigner: three_leg_route.toml: {e}"))
        };
        let config = Config::from_toml_str(ROUTE_CONFIG).map_err(|e| fail(&e))?;
        let route = config
            .routes
            .first()
            .ok_or_else(|| fail(&"the config has no routes"))?;
        let key = SigningKey::from_bytes(&SEED);
        let payer = Address::new_from_array(key.verifying_key().to_bytes());
        let template = RouteTemplate::build(0, route, payer).map_err(|e| fail(&e))?;
        if precomputed && !(1..=MAX_POOL_SIZE).contains(&pool_size) {
            return Err(PyValueError::new_err(format!(
                "MicroSigner: pool_size must be in 1..={MAX_POOL_SIZE}, got {pool_size}"
            )));
        }
        let (signer, pool_size) = if precomputed {
            (Signer::precomputed_nonce(key, pool_size), pool_size)
        } else {
            (Signer::rfc8032(key), 0)
        };
        let wire_len = template
            .wire_len(0)
            .ok_or_else(|| fail(&"route 0 has no variant 0"))?;
        Ok(MicroSigner {
            template,
            signer,
            out: Box::new([0u8; PACKET_DATA_SIZE]),
            wire_len,
            pool_size,
        })
    }

    /// Patch + sign `iterations` times; the checksum of the first 8 signature bytes and the
    /// wire lengths (0 for no iterations).
    fn sign_loop(&mut self, iterations: u64) -> Result<u64, String> {
        let mut acc = 0u64;
        for i in 0..iterations {
            let n = self
                .template
                .sign_into(
                    &trade_fields(i),
                    &BLOCKHASH,
                    &mut self.signer,
                    &mut self.out[..],
                )
                .map_err(|e| format!("MicroSigner: sign_into: {e}"))?;
            let sig = self.out.get(1..9).map_or(0, first_u64);
            acc = fold(acc, black_box(sig) ^ n as u64);
        }
        Ok(acc)
    }

    fn wait_for_nonces(&self, nonces: usize, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            let ready = self.signer.nonces_ready();
            if ready >= nonces || Instant::now() >= deadline {
                return ready;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

#[pymethods]
impl MicroSigner {
    /// A route template and an RFC 8032 signer, or a precomputed-nonce signer keeping up to
    /// `pool_size` nonces ready.
    #[new]
    #[pyo3(signature = (precomputed=false, pool_size=4096))]
    fn new(precomputed: bool, pool_size: usize) -> PyResult<Self> {
        Self::build(precomputed, pool_size)
    }

    /// Precomputed-nonce mode: wait (GIL released) until `min(nonces, pool_size)` nonces are
    /// ready or `timeout_s` passes; return how many are ready (0 in RFC 8032 mode).
    #[pyo3(signature = (nonces, timeout_s=60.0))]
    fn prepare(&self, py: Python<'_>, nonces: usize, timeout_s: f64) -> PyResult<usize> {
        if !self.signer.is_precomputed() {
            return Ok(0);
        }
        let timeout = Duration::try_from_secs_f64(timeout_s).map_err(|_| {
            PyValueError::new_err(format!(
                "MicroSigner.prepare: timeout_s must be >= 0, got {timeout_s}"
            ))
        })?;
        Ok(py.detach(|| self.wait_for_nonces(nonces.min(self.pool_size), timeout)))
    }

    /// Patch the trade fields and sign into wire bytes `iterations` times (GIL released);
    /// return a checksum of the signatures and lengths.
    fn run(&mut self, py: Python<'_>, iterations: i64) -> PyResult<u64> {
        let iterations = iterations_of("MicroSigner.run", iterations)?;
        py.detach(|| self.sign_loop(iterations))
            .map_err(PyValueError::new_err)
    }

    /// Nonce pool capacity (0 in RFC 8032 mode).
    #[getter]
    fn pool_size(&self) -> usize {
        self.pool_size
    }

    /// Whether this signer uses precomputed nonces.
    #[getter]
    fn precomputed(&self) -> bool {
        self.signer.is_precomputed()
    }

    /// Nonces ready now (0 in RFC 8032 mode).
    #[getter]
    fn nonces_ready(&self) -> usize {
        self.signer.nonces_ready()
    }

    /// `(precomputed, rfc8032)`: signatures made on each path so far.
    #[getter]
    fn signatures(&self) -> (u64, u64) {
        let s = self.signer.stats();
        (s.precomputed, s.rfc8032)
    }

    /// Bytes of the signed wire transaction.
    #[getter]
    fn wire_len(&self) -> usize {
        self.wire_len
    }

    fn __repr__(&self) -> String {
        format!(
            "MicroSigner(precomputed={}, wire_len={})",
            self.signer.is_precomputed(),
            self.wire_len
        )
    }
}

/// Build a [`MicroSigner`], wait for its nonces (precomputed mode: a pool of
/// `min(iterations, 2**20)`, the rest signed per RFC 8032), and run `iterations` patch + sign
/// operations. The template build and the nonce wait are part of the call.
#[pyfunction]
#[pyo3(signature = (iterations, precomputed=false))]
pub fn micro_sign(py: Python<'_>, iterations: i64, precomputed: bool) -> PyResult<u64> {
    let n = iterations_of("micro_sign", iterations)?;
    let pool = usize::try_from(n)
        .unwrap_or(usize::MAX)
        .clamp(1, MAX_POOL_SIZE);
    let mut s = MicroSigner::build(precomputed, pool)?;
    if precomputed {
        s.prepare(py, pool, 60.0)?;
    }
    s.run(py, iterations)
}

/// The module `phantom_bench._micro`.
#[pymodule]
fn _micro(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<MicroSigner>()?;
    m.add_function(wrap_pyfunction!(micro_decode, m)?)?;
    m.add_function(wrap_pyfunction!(micro_sign, m)?)?;
    Ok(())
}

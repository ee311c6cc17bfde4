//! The JSON-RPC (HTTP) subset: `getAccountInfo`, `getMultipleAccounts`, `getLatestBlockhash`,
//! `getSlot`, `getBlockHeight`, `getVersion`, `getHealth`, `sendTransaction`,
//! `simulateTransaction`, `getSignatureStatuses`; single and batch requests.
//!
//! With an embedded SVM ([`crate::svm`], `--programs DIR`), `simulateTransaction` executes the
//! transaction on the real programs and answers in Solana's shape (`err`, `logs`,
//! `unitsConsumed`, `accounts`, `replacementBlockhash`), honouring `sigVerify` and
//! `replaceRecentBlockhash`; `sendTransaction` executes it too and, when it succeeds,
//! commits its changes and notifies every account it changed. A transaction whose blockhash
//! is not one of the last 150 slots' is `BlockhashNotFound`, as on a validator. A
//! transaction that calls a pool program without a binary (Raydium AMM v4; every program
//! without `--programs`) falls back to the model: it is checked for shape only, "lands", and
//! every such reply says `"modelled"` with the reason.

use crate::state::{Address, Event, State};
use crate::svm::{parse_tx, Svm};
use base64::Engine as _;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, Response};
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::sync::broadcast;

/// What the JSON-RPC server answers from.
pub struct Ctx {
    /// Accounts, slots, signatures.
    pub state: Arc<State>,
    /// The embedded SVM (None: everything is modelled).
    pub svm: Option<Arc<Svm>>,
    /// Pool programs without a binary: their transactions are modelled (id, name).
    pub modelled: Vec<(Address, &'static str)>,
    /// Account notifications for what a sent transaction changed.
    pub events: broadcast::Sender<Event>,
}

impl Ctx {
    /// Why a transaction calling `programs` is modelled, if it is.
    pub fn modelled_reason(&self, programs: &[Address]) -> Option<String> {
        if self.svm.is_none() {
            return Some("no --programs: transactions are not executed".into());
        }
        programs.iter().find_map(|p| {
            self.modelled
                .iter()
                .find(|(id, _)| id == p)
                .map(|(id, name)| {
                    format!(
                        "no binary for {name} ({}): not executed",
                        bs58::encode(id).into_string()
                    )
                })
        })
    }
}

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn err(id: &Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "error": {"code": code, "message": message}, "id": id})
}

fn context(state: &State) -> Value {
    json!({"slot": state.slot(), "apiVersion": "2.0.0"})
}

/// An account in Solana's JSON-RPC shape (base64 data).
fn account_value(a: &crate::state::Account) -> Value {
    json!({
        "lamports": a.lamports,
        "data": [B64.encode(&a.data), "base64"],
        "owner": bs58::encode(a.owner).into_string(),
        "executable": false,
        "rentEpoch": u64::MAX,
        "space": a.data.len(),
    })
}

fn account_json(state: &State, key: &str) -> Result<Value, String> {
    let address = crate::codec::address(key)?;
    Ok(state
        .account(&address)
        .map_or(Value::Null, |a| account_value(&a)))
}

/// First signature of a wire transaction (after its compact-u16 signature count).
pub fn first_signature(wire: &[u8]) -> Option<[u8; 64]> {
    let count = *wire.first()?;
    if count == 0 || count & 0x80 != 0 {
        return None;
    }
    wire.get(1..65)?.try_into().ok()
}

fn call(ctx: &Ctx, req: &Value) -> Value {
    let state = &*ctx.state;
    let id = req.get("id").cloned().unwrap_or(Value::Null);
    let params = req.get("params").cloned().unwrap_or(Value::Null);
    let method = req.get("method").and_then(|m| m.as_str()).unwrap_or("");
    let ok = |result: Value| json!({"jsonrpc": "2.0", "result": result, "id": id});
    let invalid = |why: &str| err(&id, -32602, &format!("Invalid params: {why}"));
    match method {
        "getAccountInfo" => match params.get(0).and_then(|k| k.as_str()) {
            Some(k) => match account_json(state, k) {
                Ok(v) => ok(json!({"context": context(state), "value": v})),
                Err(e) => invalid(&e),
            },
            None => invalid("expected a pubkey"),
        },
        "getMultipleAccounts" => match params.get(0).and_then(|k| k.as_array()) {
            Some(keys) if keys.len() <= 100 => {
                let mut out = Vec::with_capacity(keys.len());
                for k in keys {
                    match k.as_str().map(|k| account_json(state, k)) {
                        Some(Ok(v)) => out.push(v),
                        Some(Err(e)) => return invalid(&e),
                        None => return invalid("pubkeys must be strings"),
                    }
                }
                ok(json!({"context": context(state), "value": out}))
            }
            Some(_) => invalid("too many accounts requested (max 100)"),
            None => invalid("expected an array of pubkeys"),
        },
        "getLatestBlockhash" => {
            let (hash, height) = state.latest_blockhash();
            ok(json!({"context": context(state), "value": {
                "blockhash": bs58::encode(hash).into_string(), "lastValidBlockHeight": height}}))
        }
        "getSlot" | "getBlockHeight" => ok(state.slot().into()),
        "getVersion" => ok(json!({"solana-core": "2.0.0-phantom-sim", "feature-set": 0})),
        "getHealth" => ok("ok".into()),
        "sendTransaction" | "simulateTransaction" => {
            transaction(ctx, method == "sendTransaction", &params, &id)
        }
        "getSignatureStatuses" => match params.get(0).and_then(|s| s.as_array()) {
            Some(sigs) => {
                let mut out = Vec::with_capacity(sigs.len());
                for s in sigs {
                    let sig = s
                        .as_str()
                        .and_then(|s| bs58::decode(s).into_vec().ok())
                        .and_then(|v| <[u8; 64]>::try_from(v).ok());
                    let Some(sig) = sig else {
                        return invalid("signatures must be base58 of 64 bytes");
                    };
                    out.push(match state.status_of(&sig) {
                        Some((slot, err)) => {
                            let status = match &err {
                                None => json!({"Ok": null}),
                                Some(e) => json!({"Err": e}),
                            };
                            json!({"slot": slot, "confirmations": null, "err": err,
                                "confirmationStatus": "confirmed", "status": status})
                        }
                        None => Value::Null,
                    });
                }
                ok(json!({"context": context(state), "value": out}))
            }
            None => invalid("expected an array of signatures"),
        },
        _ => err(&id, -32601, "Method not found"),
    }
}

/// Answer one HTTP request (a JSON-RPC call or a batch).
pub async fn handle(
    req: Request<hyper::body::Incoming>,
    ctx: Arc<Ctx>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let body = req.into_body().collect().await?.to_bytes();
    let answer = move || match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Array(calls)) => Value::Array(calls.iter().map(|c| call(&ctx, c)).collect()),
        Ok(single) => call(&ctx, &single),
        Err(_) => err(&Value::Null, -32700, "Parse error"),
    };
    // Executing waits on the SVM executor: off the runtime's only thread.
    let reply = tokio::task::spawn_blocking(answer)
        .await
        .unwrap_or_else(|_| err(&Value::Null, -32603, "Internal error"));
    Ok(Response::builder()
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(reply.to_string())))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()))))
}

fn decode_tx(params: &Value) -> Result<Vec<u8>, String> {
    let Some(text) = params.get(0).and_then(|t| t.as_str()) else {
        return Err("expected an encoded transaction".into());
    };
    let encoding = params
        .get(1)
        .and_then(|c| c.get("encoding"))
        .and_then(|e| e.as_str())
        .unwrap_or("base64");
    match encoding {
        "base64" => B64
            .decode(text)
            .map_err(|_| "transaction is not valid base64".to_string()),
        "base58" => bs58::decode(text)
            .into_vec()
            .map_err(|_| "transaction is not valid base58".to_string()),
        other => Err(format!("unsupported encoding {other:?}")),
    }
}

fn flag(params: &Value, key: &str) -> bool {
    params
        .get(1)
        .and_then(|c| c.get(key))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// `sendTransaction` (`send`) and `simulateTransaction`.
fn transaction(ctx: &Ctx, send: bool, params: &Value, id: &Value) -> Value {
    let state = &*ctx.state;
    let ok = |result: Value| json!({"jsonrpc": "2.0", "result": result, "id": id});
    let invalid = |why: &str| err(id, -32602, &format!("Invalid params: {why}"));
    let mut wire = match decode_tx(params) {
        Ok(w) => w,
        Err(e) => return invalid(&e),
    };
    if wire.len() > 1232 {
        return invalid("transaction too large");
    }
    let Some(tx) = parse_tx(&wire) else {
        return invalid("failed to deserialize the transaction");
    };
    let sig_verify = !send && flag(params, "sigVerify");
    let replace = !send && flag(params, "replaceRecentBlockhash");
    if sig_verify && replace {
        return invalid("sigVerify may not be used with replaceRecentBlockhash");
    }
    let value =
        |err: Value, logs: Vec<Value>, units: u64, accounts: Value, extra: &[(&str, Value)]| {
            let mut v = json!({"err": err, "logs": logs, "accounts": accounts,
            "unitsConsumed": units, "returnData": null, "replacementBlockhash": null});
            for (k, x) in extra {
                v[*k] = x.clone();
            }
            v
        };
    let mut extra: Vec<(&str, Value)> = Vec::new();
    if replace {
        let (hash, height) = state.latest_blockhash();
        wire[tx.blockhash_at..tx.blockhash_at + 32].copy_from_slice(&hash);
        extra.push((
            "replacementBlockhash",
            json!({"blockhash": bs58::encode(hash).into_string(), "lastValidBlockHeight": height}),
        ));
    } else if !state.blockhash_is_recent(&tx.blockhash) {
        let err_v = json!("BlockhashNotFound");
        if send {
            return json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32002,
                "message": "Transaction simulation failed: Blockhash not found",
                "data": value(err_v, vec![], 0, Value::Null, &[])}});
        }
        return ok(
            json!({"context": context(state), "value": value(err_v, vec![], 0, Value::Null, &extra)}),
        );
    }
    if let Some(reason) = ctx.modelled_reason(&tx.programs) {
        extra.push(("modelled", json!(reason)));
        if send {
            state.land(tx.signature, None);
            return ok(bs58::encode(tx.signature).into_string().into());
        }
        let logs = vec![json!(format!("phantom-sim: modelled: {reason}"))];
        return ok(
            json!({"context": context(state), "value": value(Value::Null, logs, 0, Value::Null, &extra)}),
        );
    }
    let Some(svm) = &ctx.svm else {
        return err(id, -32603, "Internal error: no SVM"); // modelled_reason covers this
    };
    let want: Option<Vec<String>> = params
        .get(1)
        .and_then(|c| c.get("accounts"))
        .and_then(|a| a.get("addresses"))
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        });
    if send {
        let skip_preflight = flag(params, "skipPreflight");
        if !skip_preflight {
            // Preflight, as an RPC node does: a failing transaction is refused, not landed.
            match svm.execute(state, &wire, false, true, None) {
                Ok(o) if !o.err.is_null() => {
                    return json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32002,
                        "message": format!("Transaction simulation failed: {}", o.err),
                        "data": value(o.err, o.logs, o.units, Value::Null, &[])}});
                }
                Ok(_) => {}
                Err(e) => return err(id, -32603, &format!("Internal error: {e}")),
            }
        }
        let o = match svm.execute(state, &wire, true, true, None) {
            Ok(o) => o,
            Err(e) => return err(id, -32603, &format!("Internal error: {e}")),
        };
        let slot = state.land(tx.signature, (!o.err.is_null()).then(|| o.err.clone()));
        for a in &o.changed {
            if let (Some(index), Some(account)) =
                (state.index_of(&a.address), state.account(&a.address))
            {
                let _ = ctx.events.send(Event::Account {
                    index,
                    slot,
                    account,
                });
            }
        }
        return ok(bs58::encode(tx.signature).into_string().into());
    }
    match svm.execute(state, &wire, false, sig_verify, want.as_deref()) {
        Ok(o) => {
            let accounts = match &o.accounts {
                None => Value::Null,
                Some(l) => Value::Array(
                    l.iter()
                        .map(|a| a.as_ref().map_or(Value::Null, account_value))
                        .collect(),
                ),
            };
            ok(json!({"context": context(state),
                "value": value(o.err, o.logs, o.units, accounts, &extra)}))
        }
        Err(e) => err(id, -32603, &format!("Internal error: {e}")),
    }
}

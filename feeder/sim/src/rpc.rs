//! The JSON-RPC (HTTP) subset: `getAccountInfo`, `getMultipleAccounts`, `getLatestBlockhash`,
//! `getSlot`, `getBlockHeight`, `getVersion`, `getHealth`, `sendTransaction`,
//! `simulateTransaction`, `getSignatureStatuses`; single and batch requests. A sent
//! transaction "lands" in the current slot (the simulator checks its shape, not its
//! programs: that is what `solders`' LiteSVM is for in the tests).

use crate::state::State;
use base64::Engine as _;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, Response};
use serde_json::{json, Value};
use std::sync::Arc;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn err(id: &Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "error": {"code": code, "message": message}, "id": id})
}

fn context(state: &State) -> Value {
    json!({"slot": state.slot(), "apiVersion": "2.0.0"})
}

fn account_json(state: &State, key: &str) -> Result<Value, String> {
    let address = crate::codec::address(key)?;
    Ok(match state.account(&address) {
        None => Value::Null,
        Some(a) => json!({
            "lamports": a.lamports,
            "data": [B64.encode(&a.data), "base64"],
            "owner": bs58::encode(a.owner).into_string(),
            "executable": false,
            "rentEpoch": u64::MAX,
            "space": a.data.len(),
        }),
    })
}

/// First signature of a wire transaction (after its compact-u16 signature count).
pub fn first_signature(wire: &[u8]) -> Option<[u8; 64]> {
    let count = *wire.first()?;
    if count == 0 || count & 0x80 != 0 {
        return None;
    }
    wire.get(1..65)?.try_into().ok()
}

fn call(state: &State, req: &Value) -> Value {
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
            let Some(b64) = params.get(0).and_then(|t| t.as_str()) else {
                return invalid("expected a base64 transaction");
            };
            let Ok(wire) = B64.decode(b64) else {
                return invalid("transaction is not valid base64");
            };
            let Some(sig) = first_signature(&wire) else {
                return invalid("not a signed transaction");
            };
            if wire.len() > 1232 {
                return invalid("transaction too large");
            }
            if method == "simulateTransaction" {
                return ok(json!({"context": context(state), "value": {
                    "err": null, "logs": [], "accounts": null, "unitsConsumed": 0,
                    "returnData": null}}));
            }
            state.land(sig);
            ok(bs58::encode(sig).into_string().into())
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
                        Some(slot) => json!({"slot": slot, "confirmations": null, "err": null,
                            "confirmationStatus": "confirmed", "status": {"Ok": null}}),
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
    state: Arc<State>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let body = req.into_body().collect().await?.to_bytes();
    let reply = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Array(calls)) => Value::Array(calls.iter().map(|c| call(&state, c)).collect()),
        Ok(single) => call(&state, &single),
        Err(_) => err(&Value::Null, -32700, "Parse error"),
    };
    Ok(Response::builder()
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(reply.to_string())))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()))))
}

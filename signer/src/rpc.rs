//! A small Solana JSON-RPC client over HTTP/1.1: the four calls the signer makes.
//!
//! One [`RpcClient`] per endpoint and per thread: its `ureq` agent keeps the connection alive
//! between calls (https through rustls, plain http for local endpoints), so a send after the
//! first costs one request on an open socket. Endpoint URLs may embed API keys: nothing here
//! prints a URL except through [`crate::config::redact_url`], and transport errors have the
//! URL scrubbed from their text.

use crate::config::redact_url;
use base64::Engine as _;
use serde_json::{json, Value};
use std::time::Duration;

/// Largest JSON-RPC reply read (a 256-signature status batch is well under this).
const MAX_REPLY_BYTES: u64 = 4 << 20;

/// Why a call failed. [`RpcError::error_code`] maps it to `ExecReport.error_code`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RpcError {
    /// The endpoint could not be reached or did not answer in time.
    #[error("{endpoint}: transport error: {message}")]
    Transport {
        /// Redacted endpoint.
        endpoint: String,
        /// What happened (URL scrubbed).
        message: String,
    },
    /// The endpoint answered with a non-200 HTTP status.
    #[error("{endpoint}: HTTP {status}")]
    Http {
        /// Redacted endpoint.
        endpoint: String,
        /// The status.
        status: u16,
    },
    /// The endpoint answered with a JSON-RPC error.
    #[error("{endpoint}: JSON-RPC error {code}: {message}")]
    Rpc {
        /// Redacted endpoint.
        endpoint: String,
        /// JSON-RPC error code.
        code: i64,
        /// Its message.
        message: String,
    },
    /// The reply was not the JSON-RPC shape expected.
    #[error("{endpoint}: unexpected reply: {message}")]
    BadResponse {
        /// Redacted endpoint.
        endpoint: String,
        /// What was wrong.
        message: String,
    },
}

impl RpcError {
    /// The `ExecReport.error_code` of this failure: the JSON-RPC code (negative), the HTTP
    /// status, or one of `exec_error`'s.
    pub fn error_code(&self) -> i32 {
        use phantom_ringbuf::records::exec_error;
        match self {
            RpcError::Transport { .. } => exec_error::TRANSPORT,
            RpcError::Http { status, .. } => i32::from(*status),
            RpcError::Rpc { code, .. } => i32::try_from(*code).unwrap_or(i32::MIN),
            RpcError::BadResponse { .. } => exec_error::BAD_RESPONSE,
        }
    }
}

/// A transaction's status as `getSignatureStatuses` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureStatus {
    /// Slot it was processed in.
    pub slot: u64,
    /// The transaction failed on chain (`err` was not null); its JSON for the log.
    pub err: Option<String>,
    /// `processed`, `confirmed` or `finalized` (absent on old nodes).
    pub confirmation: Option<String>,
}

/// A JSON-RPC endpoint with a kept-alive connection.
pub struct RpcClient {
    agent: ureq::Agent,
    url: String,
    redacted: String,
    next_id: u64,
}

impl std::fmt::Debug for RpcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RpcClient({})", self.redacted)
    }
}

impl RpcClient {
    /// A client for `url`; every call (connect included) gives up after `timeout`.
    pub fn new(url: &str, timeout: Duration) -> Self {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_idle_connections_per_host(2)
            .max_idle_age(Duration::from_secs(60))
            .user_agent("phantom-signer")
            .build();
        RpcClient {
            agent: ureq::Agent::new_with_config(config),
            url: url.to_owned(),
            redacted: redact_url(url),
            next_id: 1,
        }
    }

    /// The endpoint, redacted for logs.
    pub fn endpoint(&self) -> &str {
        &self.redacted
    }

    fn scrub(&self, message: String) -> String {
        message.replace(&self.url, &self.redacted)
    }

    /// Calls `method` with `params`; the `result` on success.
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, RpcError> {
        let id = self.next_id;
        self.next_id += 1;
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.post(&body.to_string())
    }

    fn post(&self, body: &str) -> Result<Value, RpcError> {
        let endpoint = || self.redacted.clone();
        let transport = |e: ureq::Error| RpcError::Transport {
            endpoint: endpoint(),
            message: self.scrub(e.to_string()),
        };
        let mut response = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/json")
            .send(body)
            .map_err(transport)?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(MAX_REPLY_BYTES)
            .read_to_string()
            .map_err(transport)?;
        if status != 200 {
            // A JSON-RPC error sent with a non-200 status is still a JSON-RPC error.
            if let Some(e) = rpc_error(&endpoint(), &text) {
                return Err(e);
            }
            return Err(RpcError::Http {
                endpoint: endpoint(),
                status,
            });
        }
        let value: Value = serde_json::from_str(&text).map_err(|e| RpcError::BadResponse {
            endpoint: endpoint(),
            message: format!("not JSON: {e}"),
        })?;
        if let Some(e) = rpc_error(&endpoint(), &text) {
            return Err(e);
        }
        match value.get("result") {
            Some(result) => Ok(result.clone()),
            None => Err(RpcError::BadResponse {
                endpoint: endpoint(),
                message: "neither result nor error".into(),
            }),
        }
    }

    /// `getLatestBlockhash` (commitment `confirmed`): the blockhash and its last valid block
    /// height.
    pub fn get_latest_blockhash(&mut self) -> Result<([u8; 32], u64), RpcError> {
        let result = self.call("getLatestBlockhash", json!([{"commitment": "confirmed"}]))?;
        let bad = |message: &str| RpcError::BadResponse {
            endpoint: self.redacted.clone(),
            message: message.into(),
        };
        let value = result.get("value").ok_or_else(|| bad("no value"))?;
        let hash = value
            .get("blockhash")
            .and_then(Value::as_str)
            .and_then(|s| bs58::decode(s).into_vec().ok())
            .and_then(|v| <[u8; 32]>::try_from(v).ok())
            .ok_or_else(|| bad("blockhash is not base58 of 32 bytes"))?;
        let height = value
            .get("lastValidBlockHeight")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad("no lastValidBlockHeight"))?;
        Ok((hash, height))
    }

    /// `getBlockHeight` (commitment `confirmed`): the chain's current block height.
    pub fn get_block_height(&mut self) -> Result<u64, RpcError> {
        let result = self.call("getBlockHeight", json!([{"commitment": "confirmed"}]))?;
        result.as_u64().ok_or_else(|| RpcError::BadResponse {
            endpoint: self.redacted.clone(),
            message: "getBlockHeight result is not an integer".into(),
        })
    }

    /// `sendTransaction` of base64 wire bytes; the signature the node returns.
    pub fn send_transaction(
        &mut self,
        tx_base64: &str,
        skip_preflight: bool,
        max_retries: Option<u32>,
    ) -> Result<String, RpcError> {
        let mut options = json!({"encoding": "base64", "skipPreflight": skip_preflight});
        if let Some(n) = max_retries {
            options["maxRetries"] = json!(n);
        }
        let result = self.call("sendTransaction", json!([tx_base64, options]))?;
        result
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| RpcError::BadResponse {
                endpoint: self.redacted.clone(),
                message: "sendTransaction result is not a string".into(),
            })
    }

    /// Jito `sendBundle` of one base64 transaction; the bundle id.
    pub fn send_bundle(&mut self, tx_base64: &str) -> Result<String, RpcError> {
        let result = self.call("sendBundle", json!([[tx_base64], {"encoding": "base64"}]))?;
        result
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| RpcError::BadResponse {
                endpoint: self.redacted.clone(),
                message: "sendBundle result is not a string".into(),
            })
    }

    /// `getSignatureStatuses` of base58 signatures (at most 256 per call); `None` for a
    /// signature the node has not seen.
    pub fn get_signature_statuses(
        &mut self,
        signatures: &[String],
    ) -> Result<Vec<Option<SignatureStatus>>, RpcError> {
        let result = self.call("getSignatureStatuses", json!([signatures]))?;
        let bad = |message: &str| RpcError::BadResponse {
            endpoint: self.redacted.clone(),
            message: message.into(),
        };
        let values = result
            .get("value")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("no value array"))?;
        if values.len() != signatures.len() {
            return Err(bad("value array length differs from the request"));
        }
        values
            .iter()
            .map(|v| {
                if v.is_null() {
                    return Ok(None);
                }
                let slot = v
                    .get("slot")
                    .and_then(Value::as_u64)
                    .ok_or_else(|| bad("status without slot"))?;
                let err = v.get("err").filter(|e| !e.is_null()).map(Value::to_string);
                let confirmation = v
                    .get("confirmationStatus")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                Ok(Some(SignatureStatus {
                    slot,
                    err,
                    confirmation,
                }))
            })
            .collect()
    }

    /// `getHealth`, used to open (and keep open) the connection before it is needed.
    pub fn warm_up(&mut self) -> Result<(), RpcError> {
        self.call("getHealth", json!([])).map(|_| ())
    }
}

fn rpc_error(endpoint: &str, text: &str) -> Option<RpcError> {
    let value: Value = serde_json::from_str(text).ok()?;
    let error = value.get("error")?;
    Some(RpcError::Rpc {
        endpoint: endpoint.to_owned(),
        code: error.get("code").and_then(Value::as_i64).unwrap_or(0),
        message: error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .chars()
            .take(200)
            .collect(),
    })
}

/// Base64 (standard alphabet, padded) of wire bytes, as `sendTransaction` takes them.
pub fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Base58 of a signature or key.
pub fn base58(bytes: &[u8]) -> String {
    bs58::encode(bytes).into_string()
}

//! The feeder's JSON-RPC calls over HTTP: `getMultipleAccounts`, to make the `pools` table
//! right again after a reconnect (notifications missed while disconnected are gone) or after
//! an endpoint's update was refused.
//!
//! Errors name the endpoint by [`redact_url`] only (its path and query may hold an API key).
//! The deadline of a call is the agent's ([`agent`]).

use base64::Engine as _;
use phantom_config::redact_url;
use serde_json::{json, Value};
use std::time::Duration;

/// The HTTP agent of the refetches: every call (connect, send, answer) ends within `timeout`.
pub fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .build()
        .into()
}

/// `getMultipleAccounts` takes at most this many addresses per call.
pub const MAX_ACCOUNTS_PER_CALL: usize = 100;

/// Errors of an RPC call; each names the endpoint and what went wrong.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// Transport or HTTP failure.
    #[error("{url}: {why}")]
    Http {
        /// Endpoint.
        url: String,
        /// What failed.
        why: String,
    },
    /// The node answered with a JSON-RPC error.
    #[error("{url}: JSON-RPC error {code}: {message}")]
    Rpc {
        /// Endpoint.
        url: String,
        /// Error code.
        code: i64,
        /// Error message.
        message: String,
    },
    /// The answer is not what the method returns.
    #[error("{url}: malformed answer: {why}")]
    Malformed {
        /// Endpoint.
        url: String,
        /// What is wrong.
        why: String,
    },
}

/// One account as fetched: the slot of the answer and the data (None: no such account).
pub type Fetched = (u64, Option<Vec<u8>>);

/// One account as fetched with its owner (base58): the slot of the answer, and the owner and
/// data (None: no such account).
pub type FetchedOwned = (u64, Option<(String, Vec<u8>)>);

/// [`get_multiple_accounts_owned`] without the owners.
pub fn get_multiple_accounts(
    agent: &ureq::Agent,
    url: &str,
    addresses: &[String],
    commitment: &str,
) -> Result<Vec<Fetched>, RpcError> {
    let owned = get_multiple_accounts_owned(agent, url, addresses, commitment)?;
    Ok(owned
        .into_iter()
        .map(|(slot, a)| (slot, a.map(|(_, data)| data)))
        .collect())
}

/// Fetch `addresses` (base58) with `getMultipleAccounts` (base64), in calls of at most
/// [`MAX_ACCOUNTS_PER_CALL`], with each account's owner. Blocking: call it from a blocking
/// task.
pub fn get_multiple_accounts_owned(
    agent: &ureq::Agent,
    url: &str,
    addresses: &[String],
    commitment: &str,
) -> Result<Vec<FetchedOwned>, RpcError> {
    let shown = redact_url(url);
    let mut out = Vec::with_capacity(addresses.len());
    for chunk in addresses.chunks(MAX_ACCOUNTS_PER_CALL) {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "getMultipleAccounts",
            "params": [chunk, {"encoding": "base64", "commitment": commitment}]});
        let http = |why: String| RpcError::Http {
            url: shown.clone(),
            why,
        };
        let malformed = |why: &str| RpcError::Malformed {
            url: shown.clone(),
            why: why.to_owned(),
        };
        let mut resp = agent
            .post(url)
            .header("Content-Type", "application/json")
            .send(body.to_string())
            .map_err(|e| http(transport_error(&e, url)))?;
        let text = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| http(transport_error(&e, url)))?;
        let v: Value = serde_json::from_str(&text).map_err(|_| malformed("not JSON"))?;
        if let Some(e) = v.get("error") {
            return Err(RpcError::Rpc {
                url: shown.clone(),
                code: e.get("code").and_then(Value::as_i64).unwrap_or(0),
                message: e
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
            });
        }
        let result = v.get("result").ok_or_else(|| malformed("no result"))?;
        let slot = result
            .pointer("/context/slot")
            .and_then(Value::as_u64)
            .ok_or_else(|| malformed("no context.slot"))?;
        let values = result
            .get("value")
            .and_then(Value::as_array)
            .ok_or_else(|| malformed("no value array"))?;
        if values.len() != chunk.len() {
            return Err(malformed("value has the wrong length"));
        }
        for item in values {
            if item.is_null() {
                out.push((slot, None));
                continue;
            }
            let owner = item
                .get("owner")
                .and_then(Value::as_str)
                .ok_or_else(|| malformed("account without owner"))?
                .to_owned();
            let b64 = item
                .pointer("/data/0")
                .and_then(Value::as_str)
                .ok_or_else(|| malformed("account without base64 data"))?;
            let data = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|_| malformed("account data is not base64"))?;
            out.push((slot, Some((owner, data))));
        }
    }
    Ok(out)
}

/// A transport error's text with any copy of the URL replaced by its redacted form.
fn transport_error(e: &ureq::Error, url: &str) -> String {
    let text = e.to_string();
    if url.is_empty() {
        text
    } else {
        text.replace(url, &redact_url(url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};

    /// A one-shot HTTP server answering every request with `body`; returns its URL.
    fn serve(bodies: Vec<String>) -> String {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        std::thread::spawn(move || {
            for body in bodies {
                let Ok((mut s, _)) = l.accept() else { return };
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut len = 0;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut req = vec![0; len];
                let _ = r.read_exact(&mut req);
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        url
    }

    #[test]
    fn accounts_and_missing_accounts_are_returned_in_order_with_the_slot() {
        let url = serve(vec![
            r#"{"jsonrpc":"2.0","id":1,"result":{"context":{"slot":77},"value":[{"data":["AQID","base64"],"owner":"11111111111111111111111111111111"},null]}}"#.into(),
        ]);
        let got = get_multiple_accounts(
            &ureq::Agent::new_with_defaults(),
            &url,
            &["a".into(), "b".into()],
            "processed",
        )
        .unwrap();
        assert_eq!(got, vec![(77, Some(vec![1, 2, 3])), (77, None)]);
    }

    #[test]
    fn rpc_errors_and_malformed_answers_are_named_errors() {
        let url = serve(vec![
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"bad"}}"#.into(),
            r#"{"jsonrpc":"2.0","id":1,"result":{"value":[]}}"#.into(),
            "not json".into(),
        ]);
        let agent = ureq::Agent::new_with_defaults();
        let e = get_multiple_accounts(&agent, &url, &["a".into()], "processed").unwrap_err();
        assert!(e.to_string().contains("JSON-RPC error -32602: bad"), "{e}");
        let e = get_multiple_accounts(&agent, &url, &["a".into()], "processed").unwrap_err();
        assert!(e.to_string().contains("no context.slot"), "{e}");
        let e = get_multiple_accounts(&agent, &url, &["a".into()], "processed").unwrap_err();
        assert!(e.to_string().contains("not JSON"), "{e}");
        let dead = "http://127.0.0.1:1/SECRET?api-key=SECRET";
        let e = get_multiple_accounts(&agent, dead, &["a".into()], "processed").unwrap_err();
        assert!(matches!(e, RpcError::Http { .. }));
        assert!(!e.to_string().contains("SECRET"), "{e}");
        assert!(e.to_string().contains("http://127.0.0.1:1/…"), "{e}");
    }

    #[test]
    fn a_stalled_node_is_a_timeout_error_within_the_deadline() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/KEY", l.local_addr().unwrap());
        // Accept and never answer.
        let hold = std::thread::spawn(move || l.accept().map(|(s, _)| s));
        let started = std::time::Instant::now();
        let e = get_multiple_accounts(
            &agent(Duration::from_millis(300)),
            &url,
            &["a".into()],
            "processed",
        )
        .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(30), "{e}");
        assert!(e.to_string().to_lowercase().contains("timeout"), "{e}");
        assert!(!e.to_string().contains("KEY"), "{e}");
        drop(hold);
    }
}

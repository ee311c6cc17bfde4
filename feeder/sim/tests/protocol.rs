//! The simulator as a client sees it: a real `phantom-sim` process, a WebSocket client
//! speaking Solana PubSub, and raw HTTP JSON-RPC requests.

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

struct Sim {
    child: Child,
    ready: Value,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(extra: &[&str]) -> Sim {
    let mut child = Command::new(env!("CARGO_BIN_EXE_phantom-sim"))
        .args(["--port", "0", "--rate", "2000", "--slot-ms", "50"])
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start phantom-sim");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("ready line");
    let ready: Value = serde_json::from_str(&line).expect("ready JSON");
    Sim { child, ready }
}

fn rpc(sim: &Sim, body: Value) -> Value {
    let url = sim.ready["rpc"]
        .as_str()
        .unwrap()
        .trim_start_matches("http://")
        .to_owned();
    let mut s = std::net::TcpStream::connect(&url).unwrap();
    let body = body.to_string();
    write!(
        s,
        "POST / HTTP/1.1\r\nHost: {url}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let json = resp.split("\r\n\r\n").nth(1).expect("HTTP body");
    serde_json::from_str(json).expect("JSON body")
}

#[test]
fn json_rpc_serves_accounts_blockhash_and_lands_sent_transactions() {
    let sim = start(&[]);
    let vault = sim.ready["pools"][0]["vaults"][0].as_str().unwrap();
    let pool = sim.ready["pools"][1]["address"].as_str().unwrap();
    let r = rpc(
        &sim,
        json!({"jsonrpc": "2.0", "id": 1, "method": "getMultipleAccounts",
        "params": [[vault, pool, "11111111111111111111111111111111"], {"encoding": "base64"}]}),
    );
    let v = &r["result"]["value"];
    let data = base64::engine::general_purpose::STANDARD
        .decode(v[0]["data"][0].as_str().unwrap())
        .unwrap();
    assert_eq!(data.len(), 165);
    assert_eq!(v[0]["owner"], "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA");
    assert_eq!(v[1]["owner"], "whirLbMiicVdio4qvUfM5KAg6Ct8VwpYzGff3uctyCc");
    assert!(v[2].is_null());
    let r = rpc(
        &sim,
        json!({"jsonrpc": "2.0", "id": 2, "method": "getLatestBlockhash"}),
    );
    let hash = bs58::decode(r["result"]["value"]["blockhash"].as_str().unwrap())
        .into_vec()
        .unwrap();
    assert_eq!(hash.len(), 32);
    // A (syntactically) signed transaction: 1 signature, then a legacy message (header, one
    // key, the recent blockhash, no instructions). Without --programs it is modelled.
    let message = |blockhash: &[u8]| {
        let mut tx = vec![1u8];
        tx.extend([7u8; 64]);
        tx.extend([1u8, 0, 0, 1]);
        tx.extend([9u8; 32]);
        tx.extend(blockhash);
        tx.push(0);
        base64::engine::general_purpose::STANDARD.encode(&tx)
    };
    let stale = rpc(
        &sim,
        json!({"jsonrpc": "2.0", "id": 3, "method": "sendTransaction",
        "params": [message(&[3u8; 32]), {"encoding": "base64"}]}),
    );
    assert_eq!(stale["error"]["code"], -32002, "{stale}");
    assert_eq!(stale["error"]["data"]["err"], "BlockhashNotFound");
    let b64 = message(&hash);
    let r = rpc(
        &sim,
        json!({"jsonrpc": "2.0", "id": 3, "method": "sendTransaction",
        "params": [b64, {"encoding": "base64", "skipPreflight": true}]}),
    );
    let sig = r["result"].as_str().unwrap().to_owned();
    assert_eq!(bs58::decode(&sig).into_vec().unwrap(), vec![7u8; 64]);
    let r = rpc(
        &sim,
        json!([{"jsonrpc": "2.0", "id": 4, "method": "getSignatureStatuses", "params": [[sig]]},
                             {"jsonrpc": "2.0", "id": 5, "method": "noSuchMethod"}]),
    );
    assert_eq!(
        r[0]["result"]["value"][0]["confirmationStatus"],
        "confirmed"
    );
    assert_eq!(r[1]["error"]["code"], -32601);
    let r = rpc(
        &sim,
        json!({"jsonrpc": "2.0", "id": 6, "method": "sendTransaction", "params": ["%%%"]}),
    );
    assert_eq!(r["error"]["code"], -32602);
}

#[tokio::test(flavor = "current_thread")]
async fn pubsub_confirms_subscriptions_and_notifies_account_and_slot_changes() {
    let sim = start(&[]);
    let (mut ws, _) = tokio_tungstenite::connect_async(sim.ready["ws"].as_str().unwrap())
        .await
        .expect("connect");
    let vault = sim.ready["pools"][0]["vaults"][1]
        .as_str()
        .unwrap()
        .to_owned();
    let whirlpool = sim.ready["pools"][1]["address"]
        .as_str()
        .unwrap()
        .to_owned();
    for (id, method, params) in [
        (
            1,
            "accountSubscribe",
            json!([vault, {"encoding": "base64", "commitment": "processed"}]),
        ),
        (
            2,
            "accountSubscribe",
            json!([whirlpool, {"encoding": "base64"}]),
        ),
        (3, "slotSubscribe", json!([])),
        (4, "accountSubscribe", json!(["not-a-key"])),
    ] {
        let req = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        ws.send(Message::text(req.to_string())).await.unwrap();
    }
    let mut confirmations = 0;
    let mut errors = 0;
    let (mut vault_notes, mut pool_notes, mut slot_notes) = (0, 0, 0);
    let deadline = Instant::now() + Duration::from_secs(60);
    while vault_notes < 5 || pool_notes < 5 || slot_notes < 3 {
        assert!(Instant::now() < deadline, "notifications did not arrive");
        let msg = ws.next().await.expect("open").expect("frame");
        let v: Value = serde_json::from_str(msg.to_text().unwrap()).unwrap();
        if v.get("result").is_some() {
            confirmations += 1;
        } else if v.get("error").is_some() {
            errors += 1;
        } else if v["method"] == "accountNotification" {
            let value = &v["params"]["result"]["value"];
            let data = base64::engine::general_purpose::STANDARD
                .decode(value["data"][0].as_str().unwrap())
                .unwrap();
            assert!(v["params"]["result"]["context"]["slot"].as_u64().unwrap() > 0);
            match data.len() {
                165 => vault_notes += 1,
                653 => pool_notes += 1,
                n => panic!("unexpected account size {n}"),
            }
        } else if v["method"] == "slotNotification" {
            slot_notes += 1;
        }
    }
    assert_eq!((confirmations, errors), (3, 1));
}

#[tokio::test(flavor = "current_thread")]
async fn a_connection_is_dropped_after_the_configured_number_of_notifications() {
    let sim = start(&["--drop-every", "10"]);
    let (mut ws, _) = tokio_tungstenite::connect_async(sim.ready["ws"].as_str().unwrap())
        .await
        .expect("connect");
    ws.send(Message::text(
        json!({"jsonrpc": "2.0", "id": 1, "method": "slotSubscribe"}).to_string(),
    ))
    .await
    .unwrap();
    let mut notes = 0;
    while let Some(Ok(msg)) = ws.next().await {
        if msg.to_text().unwrap_or("").contains("slotNotification") {
            notes += 1;
        }
    }
    assert_eq!(notes, 10);
}

#[test]
fn an_oversized_frame_has_the_size_asked_for_and_is_a_notification() {
    let f = phantom_sim::pubsub::oversized_frame(7, 300, 100_000);
    assert_eq!(f.len(), 100_000);
    let v: serde_json::Value = serde_json::from_str(&f).unwrap();
    assert_eq!(v["method"], "accountNotification");
    assert_eq!(v["params"]["subscription"], 7);
    assert_eq!(v["params"]["result"]["context"]["slot"], 300);
}

//! The Solana PubSub subset over WebSocket: `accountSubscribe` (base64 encoding),
//! `slotSubscribe`, their unsubscribes, subscription confirmations, errors, and
//! `accountNotification` / `slotNotification` frames exactly as a Solana RPC node sends them.
//!
//! Fault knobs (per connection) make the feeder's error paths testable: close the connection
//! after N notifications, stall, duplicate, reorder, or send a malformed frame; and the
//! hostile ones: lie about the slot, send an oversized frame, flood subscription replies,
//! or claim another owner for every account.

use crate::sendlog::SendLog;
use crate::state::{Event, State};
use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use phantom_ringbuf::clock::monotonic_ns;
use phantom_ringbuf::schema::splitmix64;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message;

/// Fault injection, applied per connection.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Close the connection after this many notifications (0: never).
    pub drop_every: u64,
    /// Pause sending for `stall_ms` after this many notifications (0: never).
    pub stall_every: u64,
    /// Length of a stall.
    pub stall_ms: u64,
    /// Probability of sending a notification twice.
    pub duplicate_probability: f64,
    /// Probability of holding a notification back and sending it after the next one.
    pub reorder_probability: f64,
    /// Probability of sending a malformed frame before a notification.
    pub malformed_probability: f64,
    /// Every N-th notification of a connection claims slot [`LYING_SLOT`] (0: never).
    pub lying_slot_every: u64,
    /// Send one frame of this many bytes after every [`OVERSIZED_EVERY`] notifications of a
    /// connection (0: never).
    pub oversized_frame_bytes: usize,
    /// After each subscription reply, this many more replies to the same request, each with
    /// a fresh subscription id.
    pub subscription_reply_flood: u64,
    /// Every account notification names this owner instead of the account's (PubSub only:
    /// JSON-RPC answers stay truthful).
    pub wrong_owner: Option<[u8; 32]>,
}

/// The hostile knobs, in the order `--fault-cycle-s` turns them on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Knob {
    /// `--lying-slot-every`.
    LyingSlot = 0,
    /// `--oversized-frame-bytes`.
    OversizedFrame = 1,
    /// `--subscription-reply-flood`.
    SubscriptionFlood = 2,
    /// `--wrong-owner`.
    WrongOwner = 3,
    /// `--rpc-stall-ms`.
    RpcStall = 4,
}

impl Knob {
    /// Every knob, in cycle order.
    pub const ALL: [Knob; 5] = [
        Knob::LyingSlot,
        Knob::OversizedFrame,
        Knob::SubscriptionFlood,
        Knob::WrongOwner,
        Knob::RpcStall,
    ];

    /// The flag's name.
    pub fn flag(self) -> &'static str {
        match self {
            Knob::LyingSlot => "--lying-slot-every",
            Knob::OversizedFrame => "--oversized-frame-bytes",
            Knob::SubscriptionFlood => "--subscription-reply-flood",
            Knob::WrongOwner => "--wrong-owner",
            Knob::RpcStall => "--rpc-stall-ms",
        }
    }
}

/// [`HOSTILE`] value: every configured hostile knob acts (the default).
pub const HOSTILE_ALL: u8 = 255;
/// [`HOSTILE`] value: no hostile knob acts.
pub const HOSTILE_NONE: u8 = 254;

/// Which hostile knobs act: [`HOSTILE_ALL`], [`HOSTILE_NONE`] (`--faults-end-with-market`
/// once the market stops moving, so a test can check what a client makes of an endpoint that
/// behaves again) or one [`Knob`] (`--fault-cycle-s`).
pub static HOSTILE: AtomicU8 = AtomicU8::new(HOSTILE_ALL);

/// Whether `knob` acts now.
pub fn hostile(knob: Knob) -> bool {
    let h = HOSTILE.load(Ordering::Relaxed);
    h == HOSTILE_ALL || h == knob as u8
}

/// The slot a lying notification claims (2^63: far ahead of any real slot).
pub const LYING_SLOT: u64 = 1 << 63;

/// Notifications between two oversized frames of `--oversized-frame-bytes`.
pub const OVERSIZED_EVERY: u64 = 200;

/// A frame of exactly `bytes` bytes (at least a few dozen) shaped like an account
/// notification, its data a long base64 run.
pub fn oversized_frame(sub: u64, slot: u64, bytes: usize) -> String {
    let head = format!(
        r#"{{"jsonrpc":"2.0","method":"accountNotification","params":{{"result":{{"context":{{"slot":{slot}}},"value":{{"lamports":1,"data":[""#
    );
    let tail = format!(
        r#"","base64"],"owner":"11111111111111111111111111111111","executable":false,"rentEpoch":0,"space":0}}}},"subscription":{sub}}}}}"#
    );
    let fill = bytes.saturating_sub(head.len() + tail.len());
    let mut f = String::with_capacity(head.len() + fill + tail.len());
    f.push_str(&head);
    f.extend(std::iter::repeat_n('A', fill));
    f.push_str(&tail);
    f
}

/// Counters of the PubSub server.
#[derive(Debug, Default)]
pub struct Stats {
    /// Notification frames sent.
    pub notifications: AtomicU64,
    /// Events a slow connection missed (broadcast lag).
    pub lagged: AtomicU64,
    /// Connections accepted.
    pub connections: AtomicU64,
    /// `accountSubscribe` requests accepted for an account the simulator serves.
    pub account_subscriptions: AtomicU64,
}

struct Conn {
    id: u64,
    accounts: HashMap<usize, u64>,
    slot_sub: Option<u64>,
    next_sub: u64,
    sent: u64,
    rng: u64,
    held: Option<String>,
}

impl Conn {
    fn chance(&mut self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        self.rng = splitmix64(self.rng);
        ((self.rng >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

fn error_reply(id: &serde_json::Value, code: i64, message: &str) -> String {
    serde_json::json!({"jsonrpc": "2.0", "error": {"code": code, "message": message}, "id": id})
        .to_string()
}

fn handle_request(text: &str, conn: &mut Conn, state: &State, stats: &Stats) -> String {
    let Ok(req) = serde_json::from_str::<serde_json::Value>(text) else {
        return error_reply(&serde_json::Value::Null, -32700, "Parse error");
    };
    let id = req.get("id").cloned().unwrap_or(serde_json::Value::Null);
    let params = req
        .get("params")
        .cloned()
        .unwrap_or(serde_json::Value::Null);
    let method = req.get("method").and_then(|m| m.as_str()).unwrap_or("");
    let ok = |result: serde_json::Value| {
        serde_json::json!({"jsonrpc": "2.0", "result": result, "id": id}).to_string()
    };
    match method {
        "accountSubscribe" => {
            let Some(key) = params.get(0).and_then(|k| k.as_str()) else {
                return error_reply(&id, -32602, "Invalid params: expected a pubkey");
            };
            let Ok(address) = crate::codec::address(key) else {
                return error_reply(
                    &id,
                    -32602,
                    "Invalid params: Invalid Request: Invalid pubkey provided",
                );
            };
            let enc = params
                .get(1)
                .and_then(|c| c.get("encoding"))
                .and_then(|e| e.as_str())
                .unwrap_or("base64");
            if enc != "base64" {
                return error_reply(
                    &id,
                    -32602,
                    "Invalid params: the simulator serves base64 only",
                );
            }
            conn.next_sub += 1;
            let sub = conn.next_sub;
            // An account the simulator does not serve is accepted and never notified, as a
            // real node does for an account that never changes.
            if let Some(i) = state.index_of(&address) {
                conn.accounts.insert(i, sub);
                stats.account_subscriptions.fetch_add(1, Ordering::Relaxed);
            }
            ok(sub.into())
        }
        "slotSubscribe" => {
            conn.next_sub += 1;
            conn.slot_sub = Some(conn.next_sub);
            ok(conn.next_sub.into())
        }
        "accountUnsubscribe" | "slotUnsubscribe" => {
            let sub = params.get(0).and_then(|s| s.as_u64()).unwrap_or(0);
            let before = conn.accounts.len() + usize::from(conn.slot_sub.is_some());
            conn.accounts.retain(|_, s| *s != sub);
            if conn.slot_sub == Some(sub) {
                conn.slot_sub = None;
            }
            let after = conn.accounts.len() + usize::from(conn.slot_sub.is_some());
            ok((before != after).into())
        }
        _ => error_reply(&id, -32601, "Method not found"),
    }
}

/// The `accountNotification` frame for `event`.
pub fn account_notification(sub: u64, slot: u64, account: &crate::state::Account) -> String {
    account_notification_as(sub, slot, account, &account.owner)
}

/// [`account_notification`] naming `owner` as the account's owner.
pub fn account_notification_as(
    sub: u64,
    slot: u64,
    account: &crate::state::Account,
    owner: &[u8; 32],
) -> String {
    let data = base64::engine::general_purpose::STANDARD.encode(&account.data);
    format!(
        concat!(
            r#"{{"jsonrpc":"2.0","method":"accountNotification","params":{{"result":{{"context":{{"slot":{}}},"#,
            r#""value":{{"lamports":{},"data":["{}","base64"],"owner":"{}","executable":false,"rentEpoch":18446744073709551615,"space":{}}}}},"subscription":{}}}}}"#
        ),
        slot,
        account.lamports,
        data,
        bs58::encode(owner).into_string(),
        account.data.len(),
        sub
    )
}

fn slot_notification(sub: u64, slot: u64) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","method":"slotNotification","params":{{"result":{{"parent":{},"root":{},"slot":{}}},"subscription":{}}}}}"#,
        slot.saturating_sub(1),
        slot.saturating_sub(32),
        slot,
        sub
    )
}

async fn serve_conn(
    stream: TcpStream,
    id: u64,
    state: Arc<State>,
    mut events: broadcast::Receiver<Event>,
    faults: Faults,
    stats: Arc<Stats>,
    log: Option<SendLog>,
) {
    let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let (mut tx, mut rx) = ws.split();
    let mut conn = Conn {
        id,
        accounts: HashMap::new(),
        slot_sub: None,
        next_sub: 0,
        sent: 0,
        rng: splitmix64(id ^ 0xFA17),
        held: None,
    };
    loop {
        tokio::select! {
            msg = rx.next() => {
                match msg {
                    Some(Ok(Message::Text(t))) => {
                        let reply = handle_request(&t, &mut conn, &state, &stats);
                        let subscribed = faults.subscription_reply_flood > 0
                            && hostile(Knob::SubscriptionFlood)
                            && reply.contains("\"result\":")
                            && (t.contains("\"accountSubscribe\"") || t.contains("\"slotSubscribe\""));
                        if tx.send(Message::text(reply)).await.is_err() {
                            return;
                        }
                        if subscribed {
                            let id = serde_json::from_str::<serde_json::Value>(&t)
                                .ok()
                                .and_then(|v| v.get("id").cloned())
                                .unwrap_or(serde_json::Value::Null);
                            for _ in 0..faults.subscription_reply_flood {
                                conn.next_sub += 1;
                                let extra = serde_json::json!(
                                    {"jsonrpc": "2.0", "result": conn.next_sub, "id": id});
                                if tx.send(Message::text(extra.to_string())).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(_)) => {} // pings are answered by tungstenite; binary ignored
                }
            }
            ev = events.recv() => {
                let ev = match ev {
                    Ok(ev) => ev,
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        stats.lagged.fetch_add(n, Ordering::Relaxed);
                        continue;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                let lie = faults.lying_slot_every > 0
                    && hostile(Knob::LyingSlot)
                    && (conn.sent + 1).is_multiple_of(faults.lying_slot_every);
                let (frame, index, slot) = match &ev {
                    Event::Account { index, slot, account } => match conn.accounts.get(index) {
                        Some(&sub) => {
                            let claimed = if lie { LYING_SLOT } else { *slot };
                            let owner = faults
                                .wrong_owner
                                .as_ref()
                                .filter(|_| hostile(Knob::WrongOwner))
                                .unwrap_or(&account.owner);
                            (account_notification_as(sub, claimed, account, owner), *index as u32, *slot)
                        }
                        None => continue,
                    },
                    Event::Slot { slot } => match conn.slot_sub {
                        Some(sub) => {
                            let claimed = if lie { LYING_SLOT } else { *slot };
                            (slot_notification(sub, claimed), u32::MAX, *slot)
                        }
                        None => continue,
                    },
                };
                if conn.chance(faults.malformed_probability)
                    && tx.send(Message::text("{\"jsonrpc\":\"2.0\",\"method\":\"accountNotif")).await.is_err()
                {
                    return;
                }
                let mut frames = vec![frame];
                if conn.chance(faults.reorder_probability) && conn.held.is_none() {
                    conn.held = frames.pop();
                } else if let Some(h) = conn.held.take() {
                    frames.push(h);
                }
                if conn.chance(faults.duplicate_probability) {
                    if let Some(f) = frames.first().cloned() {
                        frames.push(f);
                    }
                }
                for f in frames {
                    if let Some(l) = &log {
                        l.record(monotonic_ns(), slot, index, conn.id as u32);
                    }
                    if tx.send(Message::text(f)).await.is_err() {
                        return;
                    }
                    conn.sent += 1;
                    stats.notifications.fetch_add(1, Ordering::Relaxed);
                }
                if faults.oversized_frame_bytes > 0
                    && hostile(Knob::OversizedFrame)
                    && conn.sent.is_multiple_of(OVERSIZED_EVERY)
                {
                    let sub = conn.accounts.values().next().copied().unwrap_or(0);
                    let big = oversized_frame(sub, slot, faults.oversized_frame_bytes);
                    if tx.send(Message::text(big)).await.is_err() {
                        return;
                    }
                }
                if faults.stall_every > 0 && conn.sent.is_multiple_of(faults.stall_every) {
                    tokio::time::sleep(std::time::Duration::from_millis(faults.stall_ms)).await;
                }
                if faults.drop_every > 0 && conn.sent >= faults.drop_every {
                    return; // dropping the socket closes the connection without a close frame
                }
            }
        }
    }
}

/// Accept PubSub connections on `listener` until the process ends.
pub async fn serve(
    listener: TcpListener,
    state: Arc<State>,
    events: broadcast::Sender<Event>,
    faults: Faults,
    stats: Arc<Stats>,
    log: Option<SendLog>,
) {
    let mut next_id = 0u64;
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        next_id += 1;
        stats.connections.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(serve_conn(
            stream,
            next_id,
            state.clone(),
            events.subscribe(),
            faults,
            stats.clone(),
            log.clone(),
        ));
    }
}

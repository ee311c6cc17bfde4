//! Feed sources: where raw market frames come from. The PubSub WebSocket source is the one
//! there is; the [`FeedSource`] trait is the seam for others (e.g. Geyser gRPC).
//!
//! A PubSub source keeps one connection to one endpoint: it connects (`ws://` or `wss://`
//! through rustls), sends its subscription requests, forwards every text frame with the time
//! it was read off the socket, and when the connection fails (error, close, or no frame for
//! `read_timeout`) it reports the drop, waits an exponential backoff with jitter, and
//! reconnects and resubscribes. Every drop and every return is an event: nothing is silent.
//!
//! The WebSocket client itself enforces `max_frame_bytes` (tungstenite's frame and message
//! limits): a larger frame is refused from its header, before its payload is buffered, and
//! the connection is dropped with a reason starting with [`FRAME_TOO_LARGE`]. URLs appear
//! in reasons only redacted (scheme and host).

use futures_util::{SinkExt, StreamExt};
use phantom_config::redact_url;
use phantom_ringbuf::clock::monotonic_ns;
use phantom_ringbuf::schema::splitmix64;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::error::CapacityError;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// How a drop for a frame over the size limit starts its reason (the engine counts these).
pub const FRAME_TOO_LARGE: &str = "frame over max_frame_bytes";

/// What a source reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedEvent {
    /// Connected (or reconnected) and subscriptions sent.
    Connected {
        /// Which endpoint.
        endpoint: u8,
    },
    /// A text frame, stamped when it was read off the socket.
    Frame {
        /// Which endpoint.
        endpoint: u8,
        /// CLOCK_MONOTONIC ns at read.
        t_recv_ns: u64,
        /// The frame.
        text: String,
    },
    /// The connection dropped; a reconnect follows after `retry_in`.
    Disconnected {
        /// Which endpoint.
        endpoint: u8,
        /// Why.
        why: String,
        /// Backoff before the next attempt.
        retry_in: Duration,
    },
    /// The watched accounts as fetched over JSON-RPC after a (re)connect (account index
    /// order). Live runs produce these from the refetch task; a replay from the recording.
    Refetched {
        /// Whose RPC answered.
        endpoint: u8,
        /// Slot and data (None: the account does not exist) per watched account.
        fetched: Vec<crate::rpc::Fetched>,
    },
}

/// A source of raw market frames.
pub trait FeedSource: Send + 'static {
    /// Run until `events` is closed (the consumer went away).
    fn run(self, events: mpsc::Sender<FeedEvent>) -> impl std::future::Future<Output = ()> + Send;
}

/// Exponential backoff with jitter: attempt n waits `min(max, min_delay * 2^n)` times a
/// random factor in [0.5, 1.0), so reconnecting clients do not stampede.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    attempt: u32,
    rng: u64,
}

impl Backoff {
    /// A backoff between `min` and `max`, jitter seeded by `seed`.
    pub fn new(min: Duration, max: Duration, seed: u64) -> Self {
        Backoff {
            min,
            max: max.max(min),
            attempt: 0,
            rng: seed,
        }
    }

    /// The next delay (and count the attempt).
    pub fn next_delay(&mut self) -> Duration {
        let base = self
            .min
            .saturating_mul(1u32 << self.attempt.min(20))
            .min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        self.rng = splitmix64(self.rng);
        let jitter = 0.5 + 0.5 * ((self.rng >> 11) as f64 / (1u64 << 53) as f64);
        base.mul_f64(jitter)
    }

    /// A connection held: start again from `min`.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// One PubSub WebSocket endpoint.
pub struct PubSubSource {
    /// Endpoint index (in `[feeder].endpoints`).
    pub endpoint: u8,
    /// `ws://` or `wss://` URL.
    pub url: String,
    /// Subscription requests (JSON-RPC text) sent after every connect.
    pub subscriptions: Vec<String>,
    /// A connection with no frame (not even a pong) for this long is dropped.
    pub read_timeout: Duration,
    /// Interval of WebSocket pings, so a quiet but healthy connection stays alive.
    pub ping_interval: Duration,
    /// Reconnect backoff.
    pub backoff: Backoff,
    /// Largest frame and message the client reads (`[feeder] max_frame_bytes`).
    pub max_frame_bytes: usize,
}

/// The reason for a read error; a frame over the limit says so first.
fn read_error(e: &WsError, max_frame_bytes: usize) -> String {
    match e {
        WsError::Capacity(CapacityError::MessageTooLong { size, .. }) => {
            format!("{FRAME_TOO_LARGE} ({max_frame_bytes}): a frame of {size} bytes refused")
        }
        e => format!("read: {e}"),
    }
}

/// The WebSocket read buffer: what tungstenite reads (and zero-fills) per call.
const READ_BUFFER_BYTES: usize = 16 * 1024;

impl PubSubSource {
    async fn session(&self, events: &mpsc::Sender<FeedEvent>) -> Result<(), String> {
        // tungstenite zero-fills its read buffer up to `read_buffer_size` before every read
        // (128 KiB by default: a 128 KiB memset per frame was the feeder's largest user-space
        // cost, issue 16). PubSub frames are a few hundred bytes; a larger one grows the
        // buffer as it arrives, up to `max_frame_bytes`.
        let limits = WebSocketConfig::default()
            .read_buffer_size(READ_BUFFER_BYTES)
            .max_frame_size(Some(self.max_frame_bytes))
            .max_message_size(Some(self.max_frame_bytes));
        let (ws, _) = tokio::time::timeout(
            self.read_timeout,
            tokio_tungstenite::connect_async_with_config(&self.url, Some(limits), false),
        )
        .await
        .map_err(|_| format!("connect to {} timed out", redact_url(&self.url)))?
        .map_err(|e| format!("connect to {}: {e}", redact_url(&self.url)))?;
        let (mut tx, mut rx) = ws.split();
        for s in &self.subscriptions {
            tx.send(Message::text(s.clone()))
                .await
                .map_err(|e| format!("subscribe: {e}"))?;
        }
        if events
            .send(FeedEvent::Connected {
                endpoint: self.endpoint,
            })
            .await
            .is_err()
        {
            return Ok(());
        }
        let mut ping = tokio::time::interval(self.ping_interval);
        ping.tick().await; // the first tick is immediate
        let mut last_frame = tokio::time::Instant::now();
        // One timer for the session, moved on only when it fires (not re-armed per frame:
        // a timer-wheel insert and removal per frame for a deadline seconds away).
        let silence = tokio::time::sleep_until(last_frame + self.read_timeout);
        tokio::pin!(silence);
        loop {
            let msg = tokio::select! {
                m = rx.next() => m,
                _ = ping.tick() => {
                    // A heartbeat is for a quiet connection: frames flowing prove it is alive.
                    if last_frame.elapsed() < self.ping_interval {
                        continue;
                    }
                    tx.send(Message::Ping(Vec::new().into()))
                        .await
                        .map_err(|e| format!("ping: {e}"))?;
                    continue;
                }
                _ = &mut silence => {
                    let deadline = last_frame + self.read_timeout;
                    if tokio::time::Instant::now() >= deadline {
                        return Err(format!("no frame for {} ms", self.read_timeout.as_millis()));
                    }
                    silence.as_mut().reset(deadline);
                    continue;
                }
            };
            last_frame = tokio::time::Instant::now();
            let t_recv_ns = monotonic_ns();
            match msg {
                Some(Ok(Message::Text(text))) => {
                    let ev = FeedEvent::Frame {
                        endpoint: self.endpoint,
                        t_recv_ns,
                        text: text.to_string(),
                    };
                    if events.send(ev).await.is_err() {
                        return Ok(());
                    }
                    // Let the engine handle this frame now rather than after every frame
                    // already readable (a burst would otherwise wait for its last frame).
                    tokio::task::yield_now().await;
                }
                Some(Ok(Message::Close(frame))) => {
                    return Err(format!("closed by the server: {frame:?}"));
                }
                Some(Ok(_)) => {} // pongs (and pings, answered by tungstenite); binary is not PubSub
                Some(Err(e)) => return Err(read_error(&e, self.max_frame_bytes)),
                None => return Err("connection closed".into()),
            }
        }
    }
}

impl FeedSource for PubSubSource {
    async fn run(mut self, events: mpsc::Sender<FeedEvent>) {
        loop {
            let started = std::time::Instant::now();
            let why = match self.session(&events).await {
                Ok(()) => return, // the consumer is gone
                Err(why) => why,
            };
            if started.elapsed() > self.read_timeout {
                self.backoff.reset(); // it held for a while: not a flapping endpoint
            }
            let retry_in = self.backoff.next_delay();
            let ev = FeedEvent::Disconnected {
                endpoint: self.endpoint,
                why,
                retry_in,
            };
            if events.send(ev).await.is_err() {
                return;
            }
            tokio::time::sleep(retry_in).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(1000), 42);
        let delays: Vec<Duration> = (0..8).map(|_| b.next_delay()).collect();
        for (n, d) in delays.iter().enumerate() {
            let base = Duration::from_millis((100u64 << n).min(1000));
            assert!(
                *d >= base / 2 && *d < base,
                "attempt {n}: {d:?} not in [{:?}, {base:?})",
                base / 2
            );
        }
        assert_ne!(delays[5], delays[6], "jitter varies the capped delays");
        b.reset();
        assert!(b.next_delay() < Duration::from_millis(100));
    }

    #[test]
    fn jitter_spreads_clients_with_different_seeds() {
        let a: Vec<_> = {
            let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(10), 1);
            (0..4).map(|_| b.next_delay()).collect()
        };
        let c: Vec<_> = {
            let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(10), 2);
            (0..4).map(|_| b.next_delay()).collect()
        };
        assert_ne!(a, c);
    }

    /// A test server: accepts connections, answers each text frame with "ack:<frame>",
    /// sends `burst` frames, then closes (so the client must reconnect).
    async fn flaky_server(burst: usize) -> (String, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}", listener.local_addr().unwrap());
        let h = tokio::spawn(async move {
            loop {
                let Ok((s, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    let Ok(mut ws) = tokio_tungstenite::accept_async(s).await else {
                        return;
                    };
                    if let Some(Ok(Message::Text(t))) = ws.next().await {
                        let _ = ws.send(Message::text(format!("ack:{t}"))).await;
                    }
                    for i in 0..burst {
                        let _ = ws.send(Message::text(format!("frame {i}"))).await;
                    }
                    let _ = ws.close(None).await;
                });
            }
        });
        (url, h)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_dropped_connection_is_reported_then_reconnected_and_resubscribed() {
        let (url, server) = flaky_server(3).await;
        let src = PubSubSource {
            endpoint: 2,
            url,
            subscriptions: vec!["sub".into()],
            read_timeout: Duration::from_secs(30),
            ping_interval: Duration::from_secs(10),
            backoff: Backoff::new(Duration::from_millis(1), Duration::from_millis(5), 7),
            max_frame_bytes: 1 << 20,
        };
        let (tx, mut rx) = mpsc::channel(64);
        let task = tokio::spawn(src.run(tx));
        let mut log = Vec::new();
        while log
            .iter()
            .filter(|e| matches!(e, FeedEvent::Connected { .. }))
            .count()
            < 2
        {
            let ev = tokio::time::timeout(Duration::from_secs(60), rx.recv())
                .await
                .unwrap()
                .unwrap();
            log.push(ev);
        }
        drop(rx);
        let texts: Vec<&str> = log
            .iter()
            .filter_map(|e| match e {
                FeedEvent::Frame { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(texts, vec!["ack:sub", "frame 0", "frame 1", "frame 2"]);
        let drops = log
            .iter()
            .filter(|e| matches!(e, FeedEvent::Disconnected { endpoint: 2, .. }))
            .count();
        assert_eq!(drops, 1);
        assert!(matches!(log[0], FeedEvent::Connected { endpoint: 2 }));
        task.abort();
        server.abort();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_silent_endpoint_is_dropped_after_the_read_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let mut held = Vec::new();
            loop {
                let Ok((s, _)) = listener.accept().await else {
                    return;
                };
                if let Ok(ws) = tokio_tungstenite::accept_async(s).await {
                    held.push(ws); // accept and say nothing
                }
            }
        });
        let src = PubSubSource {
            endpoint: 0,
            url,
            subscriptions: vec![],
            read_timeout: Duration::from_millis(200),
            ping_interval: Duration::from_secs(10),
            backoff: Backoff::new(Duration::from_millis(1), Duration::from_millis(2), 1),
            max_frame_bytes: 1 << 20,
        };
        let (tx, mut rx) = mpsc::channel(16);
        let task = tokio::spawn(src.run(tx));
        loop {
            match tokio::time::timeout(Duration::from_secs(60), rx.recv())
                .await
                .unwrap()
                .unwrap()
            {
                FeedEvent::Disconnected { why, .. } => {
                    assert!(why.contains("no frame for 200 ms"), "{why}");
                    break;
                }
                FeedEvent::Connected { .. } | FeedEvent::Refetched { .. } => {}
                FeedEvent::Frame { text, .. } => panic!("unexpected frame {text}"),
            }
        }
        task.abort();
        server.abort();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_client_refuses_a_frame_over_the_limit_and_hides_the_url_path() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            loop {
                let Ok((s, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    let Ok(mut ws) = tokio_tungstenite::accept_async(s).await else {
                        return;
                    };
                    let _ = ws.send(Message::text("small")).await;
                    let _ = ws.send(Message::text("x".repeat(64 * 1024))).await;
                    let _ = ws.send(Message::text("after")).await;
                    let _ = ws.next().await;
                });
            }
        });
        let src = PubSubSource {
            endpoint: 1,
            url: format!("ws://{addr}/SECRET-KEY?api-key=SECRET"),
            subscriptions: vec![],
            read_timeout: Duration::from_secs(30),
            ping_interval: Duration::from_secs(10),
            backoff: Backoff::new(Duration::from_millis(1), Duration::from_millis(2), 1),
            max_frame_bytes: 1024,
        };
        let (tx, mut rx) = mpsc::channel(16);
        let task = tokio::spawn(src.run(tx));
        let mut texts = Vec::new();
        let why = loop {
            match tokio::time::timeout(Duration::from_secs(60), rx.recv())
                .await
                .unwrap()
                .unwrap()
            {
                FeedEvent::Frame { text, .. } => texts.push(text),
                FeedEvent::Disconnected { why, .. } => break why,
                _ => {}
            }
        };
        assert_eq!(
            texts,
            vec!["small"],
            "the big frame and what follows are not read"
        );
        assert!(why.starts_with(FRAME_TOO_LARGE), "{why}");
        assert!(why.contains("65536 bytes"), "{why}");
        task.abort();
        server.abort();
        // A connect failure names the host, never the path or query.
        let dead = PubSubSource {
            endpoint: 0,
            url: "ws://127.0.0.1:1/SECRET?k=SECRET".into(),
            subscriptions: vec![],
            read_timeout: Duration::from_secs(30),
            ping_interval: Duration::from_secs(10),
            backoff: Backoff::new(Duration::from_millis(1), Duration::from_millis(2), 1),
            max_frame_bytes: 1024,
        };
        let (tx, _rx) = mpsc::channel(16);
        let e = dead.session(&tx).await.unwrap_err();
        assert!(
            e.contains("ws://127.0.0.1:1/…") && !e.contains("SECRET"),
            "{e}"
        );
    }
}

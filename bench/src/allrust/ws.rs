//! One blocking PubSub WebSocket connection (`ws://`, or `wss://` through rustls), read on the
//! calling thread with a short socket read timeout so a stop request is seen promptly while
//! no frame arrives (no spinning: the thread sleeps in `recv`).

use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// What one read gave.
#[derive(Debug)]
pub enum Read {
    /// A text frame, stamped with `monotonic_ns` as it was read.
    Text(tungstenite::Utf8Bytes, u64),
    /// Nothing within the read timeout (or a signal interrupted the wait).
    Idle,
    /// A control or binary frame (pongs, pings already answered).
    Other,
    /// The connection is closed (by the server, or an error).
    Closed(String),
}

/// The connection.
pub struct Connection {
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
}

impl Connection {
    /// Connects to `url` (handshake bounded by `timeout`), then sets the socket's read
    /// timeout to `read_timeout`.
    pub fn connect(url: &str, timeout: Duration, read_timeout: Duration) -> Result<Self, String> {
        let uri: tungstenite::http::Uri =
            url.parse().map_err(|e| format!("{url}: not a URL: {e}"))?;
        let host = uri.host().ok_or_else(|| format!("{url}: no host"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = uri.port_u16().unwrap_or(match uri.scheme_str() {
            Some("wss") => 443,
            _ => 80,
        });
        let addr = (host, port)
            .to_socket_addrs()
            .map_err(|e| format!("{url}: cannot resolve: {e}"))?
            .next()
            .ok_or_else(|| format!("{url}: no address"))?;
        let tcp = TcpStream::connect_timeout(&addr, timeout)
            .map_err(|e| format!("connect to {url}: {e}"))?;
        tcp.set_nodelay(true).map_err(|e| e.to_string())?;
        tcp.set_read_timeout(Some(timeout))
            .map_err(|e| e.to_string())?;
        tcp.set_write_timeout(Some(timeout))
            .map_err(|e| e.to_string())?;
        // The same socket, to change its timeout once TLS and the handshake own the stream.
        let handle = tcp.try_clone().map_err(|e| e.to_string())?;
        let (ws, _) = tungstenite::client_tls(url, tcp)
            .map_err(|e| format!("WebSocket handshake with {url}: {e}"))?;
        handle
            .set_read_timeout(Some(read_timeout))
            .map_err(|e| e.to_string())?;
        Ok(Connection { ws })
    }

    /// Sends one text frame.
    pub fn send_text(&mut self, text: &str) -> Result<(), String> {
        self.ws
            .send(Message::text(text))
            .map_err(|e| format!("send: {e}"))
    }

    /// Sends a ping (keeps a quiet connection alive).
    pub fn ping(&mut self) -> Result<(), String> {
        self.ws
            .send(Message::Ping(Vec::new().into()))
            .map_err(|e| format!("ping: {e}"))
    }

    /// Blocks for the next frame, at most the read timeout.
    pub fn read(&mut self) -> Read {
        match self.ws.read() {
            Ok(Message::Text(t)) => Read::Text(t, phantom_ringbuf::clock::monotonic_ns()),
            Ok(Message::Close(f)) => Read::Closed(format!("closed by the server: {f:?}")),
            Ok(_) => Read::Other,
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) =>
            {
                Read::Idle
            }
            Err(e) => Read::Closed(format!("read: {e}")),
        }
    }

    /// Closes politely (best effort).
    pub fn close(mut self) {
        let _ = self.ws.close(None);
        let _ = self.ws.flush();
    }
}

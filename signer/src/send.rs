//! Live sending: every signed transaction to every endpoint at once, and landing tracking.
//!
//! One OS thread per endpoint, each with its own kept-alive connection ([`RpcClient`]): the
//! signer's loop hands a job to all of them without waiting, each posts it
//! (`sendTransaction`, or `sendBundle` for the Jito endpoint), and reports back on an event
//! channel that only the signer's loop reads, so the loop stays the `reports` ring's single
//! producer. The first endpoint to accept a transaction makes it `SENT`; it is `FAILED` only
//! if every endpoint refused it. An idle endpoint thread sends `getHealth` every few seconds
//! so its connection is open when the next trade comes.
//!
//! Threads rather than an async runtime: the work is a handful of concurrent blocking
//! requests, a thread per endpoint parks in the kernel while waiting (no executor to wake on a
//! 2-core box), and there is no runtime's thread pool or timer wheel competing with the hot
//! loop for a core.
//!
//! The [`Lander`] polls `getSignatureStatuses` for sent transactions every
//! `landing_poll_ms`: `confirmed` (or `finalized`) without error is `LANDED` with its slot, with
//! an error `FAILED` (`transaction_error`), and not seen within `landing_timeout_ms`
//! `FAILED` (`expired`).

use crate::config::SignerConfig;
use crate::rpc::{base58, base64, RpcClient, SignatureStatus};
use phantom_ringbuf::clock::monotonic_ns;
use phantom_ringbuf::records::exec_error;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Idle time after which an endpoint thread re-warms its connection.
const KEEP_WARM: Duration = Duration::from_secs(5);
/// Most signatures per `getSignatureStatuses` call (the RPC's own limit).
const STATUS_BATCH: usize = 256;

/// What the sending threads tell the signer's loop. `key` is the intent seq.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// `endpoint` accepted the transaction at `t_ns`.
    Sent {
        /// Intent seq.
        key: u64,
        /// Index into [`SendPool::endpoints`].
        endpoint: usize,
        /// CLOCK_MONOTONIC ns of the reply.
        t_ns: u64,
    },
    /// `endpoint` refused it or could not be reached.
    SendFailed {
        /// Intent seq.
        key: u64,
        /// Index into [`SendPool::endpoints`].
        endpoint: usize,
        /// `ExecReport.error_code` of the failure.
        code: i32,
    },
    /// Seen on chain without error.
    Landed {
        /// Intent seq.
        key: u64,
        /// Slot it landed in.
        slot: u64,
        /// When it was seen.
        t_ns: u64,
    },
    /// Seen on chain with an error, expired, or unknown when the signer stopped.
    LandFailed {
        /// Intent seq.
        key: u64,
        /// Slot, if it was seen.
        slot: u64,
        /// `exec_error` code.
        code: i32,
        /// When this was decided.
        t_ns: u64,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    SendTransaction,
    SendBundle,
}

struct Job {
    key: u64,
    tx_base64: String,
}

/// The endpoint threads.
pub struct SendPool {
    names: Vec<String>,
    queues: Vec<Sender<Arc<Job>>>,
    threads: Vec<JoinHandle<()>>,
}

impl SendPool {
    /// Starts one thread per `rpc_endpoints` entry and one for `jito_endpoint`.
    pub fn start(cfg: &SignerConfig, events: Sender<Event>) -> std::io::Result<Self> {
        let timeout = Duration::from_millis(cfg.send_timeout_ms);
        let mut targets: Vec<(&str, Method)> = cfg
            .rpc_endpoints
            .iter()
            .map(|u| (u.as_str(), Method::SendTransaction))
            .collect();
        if let Some(jito) = &cfg.jito_endpoint {
            targets.push((jito.as_str(), Method::SendBundle));
        }
        let mut pool = SendPool {
            names: Vec::new(),
            queues: Vec::new(),
            threads: Vec::new(),
        };
        for (index, (url, method)) in targets.into_iter().enumerate() {
            let mut client = RpcClient::new(url, timeout);
            let (tx, rx) = channel::<Arc<Job>>();
            let events = events.clone();
            let skip_preflight = cfg.skip_preflight;
            let max_retries = cfg.max_retries;
            pool.names.push(client.endpoint().to_owned());
            let thread = std::thread::Builder::new()
                .name(format!("send-{index}"))
                .spawn(move || {
                    if let Err(e) = client.warm_up() {
                        tracing::debug!(error = %e, "connection warm-up failed");
                    }
                    loop {
                        let job = match rx.recv_timeout(KEEP_WARM) {
                            Ok(job) => job,
                            Err(RecvTimeoutError::Timeout) => {
                                let _ = client.warm_up();
                                continue;
                            }
                            Err(RecvTimeoutError::Disconnected) => return,
                        };
                        let result = match method {
                            Method::SendTransaction => {
                                client.send_transaction(&job.tx_base64, skip_preflight, max_retries)
                            }
                            Method::SendBundle => client.send_bundle(&job.tx_base64),
                        };
                        let event = match result {
                            Ok(_) => Event::Sent {
                                key: job.key,
                                endpoint: index,
                                t_ns: monotonic_ns(),
                            },
                            Err(e) => {
                                tracing::warn!(intent_seq = job.key, error = %e, "send failed");
                                Event::SendFailed {
                                    key: job.key,
                                    endpoint: index,
                                    code: e.error_code(),
                                }
                            }
                        };
                        if events.send(event).is_err() {
                            return;
                        }
                    }
                })?;
            pool.queues.push(tx);
            pool.threads.push(thread);
        }
        Ok(pool)
    }

    /// Redacted endpoint names, by index.
    pub fn endpoints(&self) -> &[String] {
        &self.names
    }

    /// Hands `wire` to every endpoint; returns at once.
    pub fn send(&self, key: u64, wire: &[u8]) {
        let job = Arc::new(Job {
            key,
            tx_base64: base64(wire),
        });
        for q in &self.queues {
            // A queue is closed only if its thread ended, which happens only at shutdown.
            let _ = q.send(Arc::clone(&job));
        }
    }

    /// Lets every thread finish the jobs it has, then joins them.
    pub fn shutdown(mut self) {
        self.queues.clear();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

enum LanderMsg {
    Track {
        key: u64,
        signature: [u8; 64],
        last_valid_block_height: u64,
    },
    Stop,
}

/// The landing tracker's thread.
pub struct Lander {
    tx: Sender<LanderMsg>,
    thread: Option<JoinHandle<()>>,
}

struct Pending {
    key: u64,
    signature: String,
    /// The blockhash's last valid block height (0: unknown, then `deadline_ns` decides).
    last_valid_block_height: u64,
    deadline_ns: u64,
}

impl Lander {
    /// Starts polling every `rpc_endpoints` entry.
    pub fn start(cfg: &SignerConfig, events: Sender<Event>) -> std::io::Result<Self> {
        let timeout = Duration::from_millis(cfg.send_timeout_ms);
        let mut clients: Vec<RpcClient> = cfg
            .rpc_endpoints
            .iter()
            .map(|u| RpcClient::new(u, timeout))
            .collect();
        let poll = Duration::from_millis(cfg.landing_poll_ms);
        let landing_timeout_ns = cfg.landing_timeout_ms.saturating_mul(1_000_000);
        let (tx, rx) = channel::<LanderMsg>();
        let thread = std::thread::Builder::new()
            .name("landing".into())
            .spawn(move || {
                let mut pending: Vec<Pending> = Vec::new();
                let mut next_poll = monotonic_ns();
                loop {
                    let now = monotonic_ns();
                    let wait = if pending.is_empty() {
                        poll
                    } else {
                        Duration::from_nanos(next_poll.saturating_sub(now))
                    };
                    let stop = match rx.recv_timeout(wait) {
                        Ok(LanderMsg::Track {
                            key,
                            signature,
                            last_valid_block_height,
                        }) => {
                            if pending.is_empty() {
                                next_poll = monotonic_ns() + poll.as_nanos() as u64;
                            }
                            pending.push(Pending {
                                key,
                                signature: base58(&signature),
                                last_valid_block_height,
                                deadline_ns: monotonic_ns().saturating_add(landing_timeout_ns),
                            });
                            false
                        }
                        Ok(LanderMsg::Stop) | Err(RecvTimeoutError::Disconnected) => true,
                        Err(RecvTimeoutError::Timeout) => false,
                    };
                    if stop || (!pending.is_empty() && monotonic_ns() >= next_poll) {
                        poll_once(&mut clients, &mut pending, &events);
                        let height = block_height(&mut clients, &pending);
                        next_poll = monotonic_ns() + poll.as_nanos() as u64;
                        expire(&mut pending, &events, stop, height);
                    }
                    if stop {
                        return;
                    }
                }
            })?;
        Ok(Lander {
            tx,
            thread: Some(thread),
        })
    }

    /// Tracks a sent transaction, signed with a blockhash valid through block height
    /// `last_valid_block_height` (0: unknown).
    pub fn track(&self, key: u64, signature: [u8; 64], last_valid_block_height: u64) {
        let _ = self.tx.send(LanderMsg::Track {
            key,
            signature,
            last_valid_block_height,
        });
    }

    /// One last poll; whatever is still unknown is reported `unknown_at_stop`. Joins.
    pub fn stop(mut self) {
        let _ = self.tx.send(LanderMsg::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Asks every RPC endpoint (a transaction is known first to the node that got it first) and
/// takes, per signature, the first status any of them has.
fn poll_once(clients: &mut [RpcClient], pending: &mut Vec<Pending>, events: &Sender<Event>) {
    if clients.is_empty() || pending.is_empty() {
        return;
    }
    let mut resolved: Vec<u64> = Vec::new();
    for chunk in pending.chunks(STATUS_BATCH) {
        let sigs: Vec<String> = chunk.iter().map(|p| p.signature.clone()).collect();
        let mut merged: Vec<Option<SignatureStatus>> = vec![None; chunk.len()];
        for client in clients.iter_mut() {
            match client.get_signature_statuses(&sigs) {
                Ok(statuses) => {
                    for (m, s) in merged.iter_mut().zip(statuses) {
                        if m.is_none() {
                            *m = s;
                        }
                    }
                }
                Err(e) => tracing::debug!(error = %e, "getSignatureStatuses failed"),
            }
        }
        let t_ns = monotonic_ns();
        for (p, status) in chunk.iter().zip(merged) {
            let Some(s) = status else { continue };
            let settled = matches!(
                s.confirmation.as_deref(),
                None | Some("confirmed" | "finalized")
            );
            if s.err.is_some() {
                tracing::warn!(
                    intent_seq = p.key,
                    slot = s.slot,
                    error = s.err.as_deref().unwrap_or(""),
                    "transaction failed on chain"
                );
                let _ = events.send(Event::LandFailed {
                    key: p.key,
                    slot: s.slot,
                    code: exec_error::TRANSACTION_ERROR,
                    t_ns,
                });
                resolved.push(p.key);
            } else if settled {
                let _ = events.send(Event::Landed {
                    key: p.key,
                    slot: s.slot,
                    t_ns,
                });
                resolved.push(p.key);
            }
        }
    }
    pending.retain(|p| !resolved.contains(&p.key));
}

/// The highest block height any endpoint reports (`getBlockHeight`), when some pending
/// transaction's expiry depends on it.
fn block_height(clients: &mut [RpcClient], pending: &[Pending]) -> Option<u64> {
    if !pending.iter().any(|p| p.last_valid_block_height > 0) {
        return None;
    }
    clients
        .iter_mut()
        .filter_map(|c| match c.get_block_height() {
            Ok(h) => Some(h),
            Err(e) => {
                tracing::debug!(error = %e, "getBlockHeight failed");
                None
            }
        })
        .max()
}

/// Whether a pending transaction has expired: the chain's block height has passed its
/// blockhash's last valid block height, so it can no longer land. With that height unknown
/// (a blockhash without one), `landing_timeout_ms` decides. A transaction whose blockhash
/// is still valid is never called expired, however long it takes: it may still land.
fn expired(p: &Pending, now_ns: u64, height: Option<u64>) -> bool {
    if p.last_valid_block_height == 0 {
        now_ns >= p.deadline_ns
    } else {
        height.is_some_and(|h| h > p.last_valid_block_height)
    }
}

fn expire(pending: &mut Vec<Pending>, events: &Sender<Event>, stopping: bool, height: Option<u64>) {
    let now = monotonic_ns();
    pending.retain(|p| {
        let code = if stopping {
            exec_error::UNKNOWN_AT_STOP
        } else if expired(p, now, height) {
            exec_error::EXPIRED
        } else {
            return true;
        };
        let _ = events.send(Event::LandFailed {
            key: p.key,
            slot: 0,
            code,
            t_ns: now,
        });
        false
    });
}

/// Drains `rx` without blocking.
pub fn drain(rx: &Receiver<Event>, mut f: impl FnMut(Event)) {
    while let Ok(e) = rx.try_recv() {
        f(e);
    }
}

#[cfg(test)]
mod expiry_tests {
    use super::*;

    fn pending(lvbh: u64, deadline_ns: u64) -> Pending {
        Pending {
            key: 1,
            signature: String::new(),
            last_valid_block_height: lvbh,
            deadline_ns,
        }
    }

    #[test]
    fn a_transaction_expires_only_when_the_chain_passes_its_last_valid_block_height() {
        // Long past the landing timeout, but the blockhash is still valid: not expired.
        assert!(!expired(&pending(900, 10), 1_000, Some(900)));
        assert!(!expired(&pending(900, 10), 1_000, None));
        // The chain passed it: expired, whatever the timeout says.
        assert!(expired(&pending(900, u64::MAX), 0, Some(901)));
        // Without a last valid block height the landing timeout decides.
        assert!(expired(&pending(0, 10), 10, None));
        assert!(!expired(&pending(0, 10), 9, Some(10_000)));
    }
}

//! The recent blockhash every transaction is signed with, kept fresh in the background.
//!
//! With RPC endpoints, a thread calls `getLatestBlockhash` every `blockhash_refresh_ms`
//! (trying the endpoints in turn from the last one that answered) and stores the blockhash,
//! its last valid block height and the CLOCK_MONOTONIC time it arrived. The hot path reads a
//! copy under an uncontended mutex; an intent is refused (`blockhash_too_old`) while there is
//! none yet or the freshest is older than `blockhash_max_age_ms`.
//!
//! Dry-run without any RPC endpoint (the offline embedded default) signs with
//! [`PLACEHOLDER_BLOCKHASH`], stamped fresh at every read: the transactions are complete and
//! verifiable, but no cluster knows that blockhash, so none of them could ever execute.

use crate::rpc::RpcClient;
use phantom_ringbuf::clock::monotonic_ns;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// The dry-run placeholder: the 32 ASCII bytes `phantom-dry-run-placeholder-hash`
/// (base58 `8ZnyfCmwAvkDZzUfonLy8m9cY4rFFCtuZuervNkzGPyR` — see the test below).
pub const PLACEHOLDER_BLOCKHASH: [u8; 32] = *b"phantom-dry-run-placeholder-hash";

/// A blockhash and when it was fetched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecentBlockhash {
    /// The blockhash bytes.
    pub hash: [u8; 32],
    /// Block height after which transactions with it are rejected (0: unknown).
    pub last_valid_block_height: u64,
    /// CLOCK_MONOTONIC ns when it arrived.
    pub fetched_ns: u64,
}

/// Where the blockhash comes from.
#[derive(Clone, Debug)]
pub enum BlockhashSource {
    /// [`PLACEHOLDER_BLOCKHASH`], always fresh (dry-run without endpoints).
    Placeholder,
    /// Fetched by [`spawn_refresher`].
    Fetched(Arc<Mutex<Option<RecentBlockhash>>>),
}

impl BlockhashSource {
    /// An empty fetched source, for [`spawn_refresher`] to fill.
    pub fn fetched() -> Self {
        BlockhashSource::Fetched(Arc::new(Mutex::new(None)))
    }

    /// The freshest blockhash, if any. Allocation-free.
    pub fn current(&self) -> Option<RecentBlockhash> {
        match self {
            BlockhashSource::Placeholder => Some(RecentBlockhash {
                hash: PLACEHOLDER_BLOCKHASH,
                last_valid_block_height: 0,
                fetched_ns: monotonic_ns(),
            }),
            BlockhashSource::Fetched(cell) => *cell.lock().unwrap_or_else(PoisonError::into_inner),
        }
    }

    fn store(&self, value: RecentBlockhash) {
        if let BlockhashSource::Fetched(cell) = self {
            *cell.lock().unwrap_or_else(PoisonError::into_inner) = Some(value);
        }
    }
}

/// Starts the refresher: fetches at once, then every `refresh`, until `stop` is dropped
/// (or sent to). Failures are logged (once per change of state, not per attempt).
pub fn spawn_refresher(
    mut clients: Vec<RpcClient>,
    source: BlockhashSource,
    refresh: Duration,
    stop: Receiver<()>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("blockhash".into())
        .spawn(move || {
            let mut first = 0usize;
            let mut failing = false;
            loop {
                let mut last_error = None;
                let n = clients.len();
                for k in 0..n {
                    let i = (first + k) % n;
                    match clients[i].get_latest_blockhash() {
                        Ok((hash, height)) => {
                            source.store(RecentBlockhash {
                                hash,
                                last_valid_block_height: height,
                                fetched_ns: monotonic_ns(),
                            });
                            if failing {
                                tracing::info!(endpoint = clients[i].endpoint(), "blockhash refresh recovered");
                            }
                            failing = false;
                            first = i;
                            last_error = None;
                            break;
                        }
                        Err(e) => last_error = Some(e),
                    }
                }
                if let Some(e) = last_error {
                    if !failing {
                        tracing::warn!(error = %e, "blockhash refresh failed on every endpoint; intents will be refused once it is too old");
                    }
                    failing = true;
                }
                match stop.recv_timeout(refresh) {
                    Err(RecvTimeoutError::Timeout) => {}
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                }
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_is_the_documented_bytes_and_always_fresh() {
        assert_eq!(
            bs58::encode(PLACEHOLDER_BLOCKHASH).into_string(),
            "8ZnyfCmwAvkDZzUfonLy8m9cY4rFFCtuZuervNkzGPyR"
        );
        let a = BlockhashSource::Placeholder
            .current()
            .expect("always there");
        assert_eq!(a.hash, PLACEHOLDER_BLOCKHASH);
        assert!(monotonic_ns() >= a.fetched_ns);
    }

    #[test]
    fn fetched_source_is_empty_until_stored() {
        let s = BlockhashSource::fetched();
        assert_eq!(s.current(), None);
        let v = RecentBlockhash {
            hash: [3; 32],
            last_valid_block_height: 9,
            fetched_ns: 5,
        };
        s.store(v);
        assert_eq!(s.current(), Some(v));
    }
}

//! phantom-feeder: Solana PubSub market data into the `pools` table and the `market` ring.
//!
//! Built so far: [`config`] (`[feeder]` and `[[pools]]`), [`pubsub`] (PubSub frame parsing
//! and requests), [`decode`] (account decoders and encoders), [`pool_state`] (per-pool
//! assembly under the two-vault rule), [`rpc`] (refetch) and [`publisher`] (table + ring
//! output with overflow conflation), [`source`] (connections with reconnects), [`dedupe`]
//! (first arrival wins), [`slot_guard`] (bounded slots) and [`engine`] (all of it together, run by `src/main.rs`).
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks, missing_docs)]

pub mod config;
pub mod decode;
pub mod dedupe;
pub mod engine;
/// The fuzz targets' bodies (`fuzz/`), compiled only for fuzzing and the seed-corpus test.
#[cfg(feature = "fuzzing")]
pub mod fuzz_targets;
pub mod pool_state;
pub mod publisher;
pub mod pubsub;
pub mod recording;
pub mod rpc;
pub mod slot_guard;
pub mod source;

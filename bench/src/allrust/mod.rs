//! phantom-allrust: the all-Rust, single-process, single-thread baseline of the end-to-end
//! latency benchmark.
//!
//! The hybrid pipeline is three processes (Rust feeder → shared-memory ring → numba strategy
//! → shared-memory ring → Rust signer). This crate does the same work per notification frame
//! in one thread with the same library code: the feeder's parsing, decoding and pool
//! assembly ([`pipeline`]), the `TwoPoolArb` / `TriangularArb` kernel ported to Rust with
//! exact integer (and bit-identical float) semantics ([`arb`], [`amm`]), and the signer's
//! template patching and signing. [`setup`] reads the pipeline TOML, [`ws`] is the blocking
//! WebSocket connection, and `src/main.rs` is the `phantom-allrust` executable.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks, missing_docs)]

pub mod amm;
pub mod arb;
pub mod pipeline;
pub mod setup;
pub mod ws;

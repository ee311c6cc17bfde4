//! phantom-bench: everything that measures phantom-pipeline, kept out of the product.
//!
//! * [`allrust`]: the all-Rust single-process baseline of the end-to-end benchmark
//!   (`phantom-allrust`).
//! * [`ring_tool`]: the Rust end of the ring tests and benchmarks (`phantom-ring`).
//! * `src/bin/phantom-feeder-bench.rs`, `src/bin/phantom-signer-bench.rs`: the feeder-ingest
//!   and signer component benchmarks.
//! * `micro/`: the pytest-benchmark bindings, the PyO3 module `phantom_bench._micro`.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks, missing_docs)]

pub mod allrust;
pub mod ring_tool;

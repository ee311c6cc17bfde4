//! phantom-signer: intents into signed Solana transactions, within limits (DESIGN §6).
//!
//! The signer is the only part of the pipeline that holds a key and can move money. This crate
//! holds its building blocks, each usable and tested on its own:
//!
//! * [`config`]: the `[signer]` table and the shared `[[routes]]` array of the TOML config,
//!   validated with errors that name the offending key.
//! * [`programs`]: instruction builders for the programs a route may call (Raydium AMM v4,
//!   Raydium CPMM, Orca Whirlpool, SPL Token, compute budget, system transfer for Jito tips),
//!   each recording where its patchable fields sit in its instruction data.
//! * [`template`]: a route compiled once into a v0 message with address lookup tables; a trade
//!   patches amounts, compute-unit price, tip and blockhash in place and signs, allocation-free.
//! * [`signing`]: RFC 8032 ed25519 and the opt-in precomputed-nonce signer.
//! * [`keypair`]: the Solana keypair file, loaded with permission checks and zeroized on drop.
//! * [`limits`]: the checks every intent passes before it is signed (route rules on every
//!   leg, rate, notional, lamport budget), with reason codes.
//! * [`ledger`]: the write-ahead ledger that carries the windows, the budget and the dedupe
//!   set across signer restarts.
//! * [`blockhash`], [`rpc`], [`send`], [`capture`]: the recent blockhash, the JSON-RPC client,
//!   live sending and landing tracking, the dry-run capture file.
//! * [`engine`]: the loop of the `phantom-signer` executable (`src/main.rs`).
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks, missing_docs)]

pub mod blockhash;
pub mod capture;
pub mod config;
pub mod derive;
pub mod engine;
pub mod keypair;
pub mod ledger;
pub mod limits;
pub mod preflight;
pub mod programs;
pub mod routes;
pub mod rpc;
pub mod send;
pub mod signing;
pub mod template;

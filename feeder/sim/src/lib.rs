//! phantom-sim: a local Solana market (PubSub over WebSocket, JSON-RPC over HTTP) serving
//! pool and vault accounts in the programs' real layouts, with prices that move. See
//! `src/main.rs` for the executable and `docs/architecture.md` for where it fits.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod codec;
pub mod layouts;
pub mod market;
pub mod pda;
pub mod pubsub;
pub mod rpc;
pub mod sendlog;
pub mod state;
pub mod svm;
pub mod traders;
pub mod world;

//! phantom-feeder: Solana PubSub market data into the `pools` table and the `market` ring.
//!
//! Built so far: [`publisher`] (table + ring output with overflow conflation) and [`source`]
//! (the PubSub WebSocket source with reconnects). Decoders,
//! config, the PubSub client and the executable are being built.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks, missing_docs)]

pub mod dedupe;
pub mod publisher;
pub mod source;

//! phantom-feeder: Solana PubSub market data into the `pools` table and the `market` ring.
//! Not built yet: see the feeder issue. The crate exists so the workspace has its final shape.

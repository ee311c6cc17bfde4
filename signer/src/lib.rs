//! phantom-signer: intents into signed Solana transactions, within limits.
//! Not built yet: see the signer issue. The crate exists so the workspace has its final shape.

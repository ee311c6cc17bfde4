//! The Solana programs the engine knows, by their mainnet addresses (base58): defined once
//! here, for the feeder (owner checks, decoders), the signer (instructions), the simulator
//! and, through the extension, the Python package. Tests check them against outside truth
//! (the real program binaries' accounts and `solders`), never against a copy.

/// Raydium liquidity pool v4 (`raydium-io/raydium-amm`), owner of `AmmInfo` accounts.
pub const RAYDIUM_AMM_V4: &str = "675kPX9MHTjS2zt1qfr1NYHuzeLXfQM9H24wFSUt1Mp8";
/// Raydium constant-product AMM (`raydium-io/raydium-cp-swap`), owner of CPMM pool states.
pub const RAYDIUM_CPMM: &str = "CPMMoo8L3F4NbTegBCKVNunggL7H1ZpdTHKxQB5qKP1C";
/// Orca Whirlpools (`orca-so/whirlpools`).
pub const ORCA_WHIRLPOOL: &str = "whirLbMiicVdio4qvUfM5KAg6Ct8VwpYzGff3uctyCc";
/// SPL Token program.
pub const SPL_TOKEN: &str = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA";
/// SPL Token-2022 program.
pub const SPL_TOKEN_2022: &str = "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb";
/// OpenBook (Serum v3 successor) DEX program, the market program of most v4 pools.
pub const OPENBOOK: &str = "srmqPvymJeFKQ4zGQed1GFppgkRHL9kaELCbyksJtPX";
/// System program (lamport transfers: Jito tips).
pub const SYSTEM: &str = "11111111111111111111111111111111";
/// Compute budget program.
pub const COMPUTE_BUDGET: &str = "ComputeBudget111111111111111111111111111111";

/// Every program as (name, address): what the Python extension exports.
pub const ALL: [(&str, &str); 8] = [
    ("RAYDIUM_AMM_V4", RAYDIUM_AMM_V4),
    ("RAYDIUM_CPMM", RAYDIUM_CPMM),
    ("ORCA_WHIRLPOOL", ORCA_WHIRLPOOL),
    ("SPL_TOKEN", SPL_TOKEN),
    ("SPL_TOKEN_2022", SPL_TOKEN_2022),
    ("OPENBOOK", OPENBOOK),
    ("SYSTEM", SYSTEM),
    ("COMPUTE_BUDGET", COMPUTE_BUDGET),
];

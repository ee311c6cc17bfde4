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
/// SPL Associated Token Account program: the wallet's token account of a mint is its PDA
/// `[wallet, token program, mint]`.
pub const ASSOCIATED_TOKEN: &str = "ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL";
/// OpenBook (Serum v3 successor) DEX program, the market program of most v4 pools.
pub const OPENBOOK: &str = "srmqPvymJeFKQ4zGQed1GFppgkRHL9kaELCbyksJtPX";
/// System program (lamport transfers: Jito tips).
pub const SYSTEM: &str = "11111111111111111111111111111111";
/// Compute budget program.
pub const COMPUTE_BUDGET: &str = "ComputeBudget111111111111111111111111111111";

/// Every program as (name, address): what the Python extension exports.
pub const ALL: [(&str, &str); 9] = [
    ("RAYDIUM_AMM_V4", RAYDIUM_AMM_V4),
    ("RAYDIUM_CPMM", RAYDIUM_CPMM),
    ("ORCA_WHIRLPOOL", ORCA_WHIRLPOOL),
    ("SPL_TOKEN", SPL_TOKEN),
    ("SPL_TOKEN_2022", SPL_TOKEN_2022),
    ("ASSOCIATED_TOKEN", ASSOCIATED_TOKEN),
    ("OPENBOOK", OPENBOOK),
    ("SYSTEM", SYSTEM),
    ("COMPUTE_BUDGET", COMPUTE_BUDGET),
];

/// Lowest sqrt price (Q64.64) the Whirlpool program accepts, the sqrt price at tick -443636
/// (`orca-so/whirlpools`, `programs/whirlpool/src/math/tick_math.rs`, `MIN_SQRT_PRICE_X64`):
/// the price limit of an A→B swap bounded only by the pool.
pub const WHIRLPOOL_MIN_SQRT_PRICE_X64: u128 = 4_295_048_016;
/// Highest sqrt price (Q64.64) the Whirlpool program accepts, the sqrt price at tick 443636
/// (`MAX_SQRT_PRICE_X64` there): the price limit of a B→A swap bounded only by the pool. A
/// limit above it fails with `SqrtPriceOutOfBounds` (6011).
pub const WHIRLPOOL_MAX_SQRT_PRICE_X64: u128 = 79_226_673_515_401_279_992_447_579_055;

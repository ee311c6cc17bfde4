//! Program-derived addresses as the Solana runtime derives them (`find_program_address`:
//! SHA-256 of the seeds, the bump, the program id and `"ProgramDerivedAddress"`, the first
//! bump from 255 down whose hash is not a point of edwards25519), and the addresses the
//! simulator's synthetic accounts sit at: Raydium CPMM's pool vaults, LP mint and
//! observation state, Orca Whirlpool's tick arrays and oracle, associated token accounts.

use crate::state::Address;
use curve25519_dalek::edwards::CompressedEdwardsY;
use sha2::{Digest, Sha256};

/// Decode a base58 program id known at compile time.
fn id(b58: &str) -> Address {
    crate::codec::address(b58).expect("a valid built-in program id")
}

/// Raydium CPMM.
pub fn raydium_cpmm() -> Address {
    id("CPMMoo8L3F4NbTegBCKVNunggL7H1ZpdTHKxQB5qKP1C")
}
/// Raydium AMM v4.
pub fn raydium_amm_v4() -> Address {
    id("675kPX9MHTjS2zt1qfr1NYHuzeLXfQM9H24wFSUt1Mp8")
}
/// Orca Whirlpool.
pub fn orca_whirlpool() -> Address {
    id("whirLbMiicVdio4qvUfM5KAg6Ct8VwpYzGff3uctyCc")
}
/// SPL Token.
pub fn token_program() -> Address {
    id("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
}
/// SPL Token-2022.
pub fn token_2022_program() -> Address {
    id("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb")
}
/// The associated token account program.
pub fn associated_token_program() -> Address {
    id("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL")
}
/// The system program.
pub fn system_program() -> Address {
    [0; 32]
}
/// The wrapped-SOL mint.
pub fn native_mint() -> Address {
    id("So11111111111111111111111111111111111111112")
}

/// Whether 32 bytes are a point of edwards25519 (a PDA must not be).
pub fn on_curve(bytes: &Address) -> bool {
    CompressedEdwardsY(*bytes).decompress().is_some()
}

/// `find_program_address(seeds, program)`: the address and its bump.
pub fn find_program_address(seeds: &[&[u8]], program: &Address) -> (Address, u8) {
    for bump in (0..=255u8).rev() {
        let mut h = Sha256::new();
        for s in seeds {
            h.update(s);
        }
        h.update([bump]);
        h.update(program);
        h.update(b"ProgramDerivedAddress");
        let a: Address = h.finalize().into();
        if !on_curve(&a) {
            return (a, bump);
        }
    }
    // Probability 2^-256; the runtime fails the same way.
    panic!("no program address for these seeds")
}

/// The associated token account of `wallet` for `mint` under `token_program`.
pub fn associated_token_account(
    wallet: &Address,
    token_program: &Address,
    mint: &Address,
) -> Address {
    find_program_address(&[wallet, token_program, mint], &associated_token_program()).0
}

/// Raydium CPMM's vault and LP mint authority (and its bump).
pub fn cpmm_authority() -> (Address, u8) {
    find_program_address(&[b"vault_and_lp_mint_auth_seed"], &raydium_cpmm())
}

/// Raydium CPMM: a pool's vault for `mint`.
pub fn cpmm_vault(pool: &Address, mint: &Address) -> Address {
    find_program_address(&[b"pool_vault", pool, mint], &raydium_cpmm()).0
}

/// Raydium CPMM: a pool's LP mint.
pub fn cpmm_lp_mint(pool: &Address) -> Address {
    find_program_address(&[b"pool_lp_mint", pool], &raydium_cpmm()).0
}

/// Raydium CPMM: a pool's observation state.
pub fn cpmm_observation(pool: &Address) -> Address {
    find_program_address(&[b"observation", pool], &raydium_cpmm()).0
}

/// Orca Whirlpool: the tick array of `whirlpool` starting at tick `start`.
pub fn whirlpool_tick_array(whirlpool: &Address, start: i32) -> Address {
    find_program_address(
        &[b"tick_array", whirlpool, start.to_string().as_bytes()],
        &orca_whirlpool(),
    )
    .0
}

/// Orca Whirlpool: a whirlpool's oracle.
pub fn whirlpool_oracle(whirlpool: &Address) -> Address {
    find_program_address(&[b"oracle", whirlpool], &orca_whirlpool()).0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::address;

    // The mainnet CPMM pool 2higKRf2 names its vaults, LP mint and observation state in its
    // own data (feeder/sim/data): derivation must find exactly those.
    #[test]
    fn cpmm_addresses_match_what_the_mainnet_pool_names() {
        let pool = address("2higKRf25Q9WMcYfgyK96AAuFVv5zucfDAFHHDuVETcq").unwrap();
        let wsol = native_mint();
        let pump = address("73edX6xoGY4v5y2hzuKdrUbJXLntqgmo74au1Ki1pump").unwrap();
        let b58 = |a: Address| bs58::encode(a).into_string();
        assert_eq!(
            b58(cpmm_vault(&pool, &wsol)),
            "47KLLXNKUMuJBgis11NWmZ9iNPW2wHX2ZKQKUDCL3LA6"
        );
        assert_eq!(
            b58(cpmm_vault(&pool, &pump)),
            "5Ap19VZWbmP9NnvFabeyGzWjTqXFcFLPcuFDsNyAB9Sg"
        );
        assert_eq!(
            b58(cpmm_lp_mint(&pool)),
            "HBaEkQGJmCXAg97q8XRU6nFxDd5eCWNaqVB4xv7uvKhE"
        );
        assert_eq!(
            b58(cpmm_observation(&pool)),
            "8Aqi4fPN9wRPoJ3j3p2MqjvRCur7m4c1aNHcbnHviZ8D"
        );
        // The vaults' own owner field (the snapshot) is the authority, bump 253 in the pool.
        assert_eq!(
            cpmm_authority(),
            (
                address("GpMZbSM2GgvTKHJirzeGfMFoaZ8UR2X7F4v8vHTvxFbL").unwrap(),
                253
            )
        );
    }

    #[test]
    fn associated_token_accounts_are_the_standard_addresses() {
        // USDC's ATA of a wallet, as solders (`get_associated_token_address`) derives it.
        let wallet = address("4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T").unwrap();
        let usdc = address("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v").unwrap();
        let a = associated_token_account(&wallet, &token_program(), &usdc);
        assert!(!on_curve(&a));
        assert_eq!(
            bs58::encode(a).into_string(),
            "F8biqkCRK2tHR6EncrcXDGgVTkGRrtojqyW39w41Qspn"
        );
    }
}

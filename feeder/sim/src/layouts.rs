//! The accounts a swap reads besides the pool and its vaults, built in the programs' real
//! layouts (the programs' public sources: raydium-io/raydium-cp-swap `states/config.rs`,
//! `states/oracle.rs`; orca-so/whirlpools `state/tick.rs`; SPL Token `state.rs`):
//! SPL mints, token accounts (wrapped SOL ones native, as the token program keeps them),
//! Raydium CPMM's `AmmConfig` and `ObservationState`, Orca Whirlpool's fixed `TickArray`.

use crate::state::Address;
use sha2::{Digest, Sha256};

/// Lamports that make an account of `len` bytes rent-exempt (the default rent: 3 480
/// lamports per byte-year, two years, 128 bytes of account overhead).
pub fn rent_exempt(len: usize) -> u64 {
    (128 + len as u64) * 3_480 * 2
}

/// Anchor's account discriminator: the first 8 bytes of SHA-256 of `"account:NAME"`.
pub fn discriminator(name: &str) -> [u8; 8] {
    let h = Sha256::digest(format!("account:{name}").as_bytes());
    let mut d = [0u8; 8];
    d.copy_from_slice(&h[..8]);
    d
}

/// SPL mint (82 bytes): `mint_authority`, `supply`, `decimals`, initialized, no freeze
/// authority.
pub fn mint(authority: &Address, supply: u64, decimals: u8) -> Vec<u8> {
    let mut d = vec![0u8; 82];
    d[0..4].copy_from_slice(&1u32.to_le_bytes());
    d[4..36].copy_from_slice(authority);
    d[36..44].copy_from_slice(&supply.to_le_bytes());
    d[44] = decimals;
    d[45] = 1;
    d
}

/// Decimals of an SPL mint.
pub fn mint_decimals(data: &[u8]) -> Option<u8> {
    data.get(44).copied()
}

/// An initialized SPL token account (165 bytes) and the lamports it holds: a wrapped-SOL
/// account is native (`is_native = Some(rent)`) and holds its amount in lamports too.
pub fn token_account(mint: &Address, owner: &Address, amount: u64) -> (Vec<u8>, u64) {
    let mut d = crate::codec::new_token_account(mint, owner, amount);
    let rent = rent_exempt(d.len());
    if *mint == crate::pda::native_mint() {
        d[109..113].copy_from_slice(&1u32.to_le_bytes());
        d[113..121].copy_from_slice(&rent.to_le_bytes());
        (d, rent.saturating_add(amount))
    } else {
        (d, rent)
    }
}

/// Raydium CPMM `AmmConfig` (236 bytes).
pub struct AmmConfig {
    /// PDA bump (`["amm_config", index as big-endian u16]`).
    pub bump: u8,
    /// Config index.
    pub index: u16,
    /// Trade fee, parts per million.
    pub trade_fee_rate: u64,
    /// Protocol share of the trade fee, parts per million.
    pub protocol_fee_rate: u64,
    /// Fund share of the trade fee, parts per million.
    pub fund_fee_rate: u64,
    /// Lamports to create a pool.
    pub create_pool_fee: u64,
}

impl AmmConfig {
    /// The account data.
    pub fn data(&self) -> Vec<u8> {
        let mut d = vec![0u8; 236];
        d[0..8].copy_from_slice(&discriminator("AmmConfig"));
        d[8] = self.bump;
        d[9] = 0; // disable_create_pool
        d[10..12].copy_from_slice(&self.index.to_le_bytes());
        d[12..20].copy_from_slice(&self.trade_fee_rate.to_le_bytes());
        d[20..28].copy_from_slice(&self.protocol_fee_rate.to_le_bytes());
        d[28..36].copy_from_slice(&self.fund_fee_rate.to_le_bytes());
        d[36..44].copy_from_slice(&self.create_pool_fee.to_le_bytes());
        // protocol_owner (44..76), fund_owner (76..108), padding: zero.
        d
    }
}

/// Raydium CPMM `ObservationState` (4 075 bytes, packed): initialized, index 0, the pool,
/// 100 empty observations.
pub fn cpmm_observation(pool: &Address) -> Vec<u8> {
    let mut d = vec![0u8; 8 + 1 + 2 + 32 + 100 * 40 + 4 * 8];
    d[0..8].copy_from_slice(&discriminator("ObservationState"));
    d[8] = 1;
    d[11..43].copy_from_slice(pool);
    d
}

/// Ticks in one Whirlpool tick array.
pub const TICK_ARRAY_SIZE: i32 = 88;

/// Orca Whirlpool fixed `TickArray` (9 988 bytes): its start tick, 88 uninitialized ticks
/// (113 bytes each), the whirlpool.
pub fn whirlpool_tick_array(whirlpool: &Address, start: i32) -> Vec<u8> {
    let mut d = vec![0u8; 8 + 4 + 88 * 113 + 32];
    d[0..8].copy_from_slice(&discriminator("TickArray"));
    d[8..12].copy_from_slice(&start.to_le_bytes());
    let n = d.len();
    d[n - 32..].copy_from_slice(whirlpool);
    d
}

/// Start tick of the array holding `tick` for a pool of `tick_spacing`.
pub fn tick_array_start(tick: i32, tick_spacing: u16) -> i32 {
    let width = TICK_ARRAY_SIZE * i32::from(tick_spacing.max(1));
    tick.div_euclid(width) * width
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_have_the_programs_sizes_and_fields() {
        assert_eq!(cpmm_observation(&[1; 32]).len(), 4075);
        assert_eq!(whirlpool_tick_array(&[1; 32], 0).len(), 9988);
        assert_eq!(
            AmmConfig {
                bump: 1,
                index: 0,
                trade_fee_rate: 2500,
                protocol_fee_rate: 0,
                fund_fee_rate: 0,
                create_pool_fee: 0
            }
            .data()
            .len(),
            236
        );
        assert_eq!(tick_array_start(-18835, 4), -19008);
        assert_eq!(tick_array_start(0, 4), 0);
        assert_eq!(tick_array_start(351, 4), 0);
        assert_eq!(tick_array_start(352, 4), 352);
        // SHA-256("account:TickArray")[..8], as computed by Python's hashlib.
        assert_eq!(
            discriminator("TickArray"),
            [69, 97, 189, 190, 110, 7, 66, 187]
        );
        let (d, lamports) = token_account(&crate::pda::native_mint(), &[2; 32], 5);
        assert_eq!((d[109], lamports), (1, rent_exempt(165) + 5));
        assert_eq!(rent_exempt(165), 2_039_280);
    }
}

//! Orca `Whirlpool`: sqrt price, liquidity and current tick of a concentrated-liquidity pool.
//!
//! Layout: `Whirlpool` and `WhirlpoolRewardInfo` of `orca-so/whirlpools`
//! `programs/whirlpool/src/state/whirlpool.rs` (`#[account]`, Borsh: fields in declaration
//! order with no padding) after the 8-byte Anchor discriminator, 653 bytes (`Whirlpool::LEN =
//! 8 + 261 + 384`). `fee_rate` is in hundredths of a basis point ([`FEE_RATE_DENOMINATOR`]).

use super::{check_anchor, AccountKind, DecodeError, Pubkey, Reader, Writer};

/// Size of a `Whirlpool` account.
pub const LEN: usize = 653;
/// `sha256("account:Whirlpool")[..8]`.
pub const DISCRIMINATOR: [u8; 8] = [0x3f, 0x95, 0xd1, 0x0c, 0xe1, 0x80, 0x63, 0x09];
/// Denominator of `fee_rate` (hundredths of a bip).
pub const FEE_RATE_DENOMINATOR: u64 = 1_000_000;
/// Number of reward slots.
pub const NUM_REWARDS: usize = 3;

const KIND: AccountKind = AccountKind::OrcaWhirlpool;

/// `WhirlpoolRewardInfo` (128 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WhirlpoolRewardInfo {
    /// Reward mint.
    pub mint: Pubkey,
    /// Reward vault.
    pub vault: Pubkey,
    /// Formerly `authority`; now extension data (raw).
    pub extension: [u8; 32],
    /// Q64.64 emissions per second per unit of liquidity.
    pub emissions_per_second_x64: u128,
    /// Q64.64 cumulative growth.
    pub growth_global_x64: u128,
}

/// A decoded Orca Whirlpool account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Whirlpool {
    /// `WhirlpoolsConfig` account.
    pub whirlpools_config: Pubkey,
    /// Bump of the pool PDA.
    pub whirlpool_bump: [u8; 1],
    /// Tick spacing.
    pub tick_spacing: u16,
    /// Seed of the fee tier the pool was created under.
    pub fee_tier_index_seed: [u8; 2],
    /// Trade fee, hundredths of a basis point.
    pub fee_rate: u16,
    /// Share of the fee taken by the protocol, basis points.
    pub protocol_fee_rate: u16,
    /// In-range liquidity.
    pub liquidity: u128,
    /// Q64.64 square root of the price of A in B.
    pub sqrt_price: u128,
    /// Current tick.
    pub tick_current_index: i32,
    /// Protocol fee owed, token A.
    pub protocol_fee_owed_a: u64,
    /// Protocol fee owed, token B.
    pub protocol_fee_owed_b: u64,
    /// Token-A mint.
    pub token_mint_a: Pubkey,
    /// Token-A vault.
    pub token_vault_a: Pubkey,
    /// Q64.64 fee growth, token A.
    pub fee_growth_global_a: u128,
    /// Token-B mint.
    pub token_mint_b: Pubkey,
    /// Token-B vault.
    pub token_vault_b: Pubkey,
    /// Q64.64 fee growth, token B.
    pub fee_growth_global_b: u128,
    /// Unix time of the last reward update.
    pub reward_last_updated_timestamp: u64,
    /// Reward slots.
    pub reward_infos: [WhirlpoolRewardInfo; NUM_REWARDS],
}

impl Whirlpool {
    /// Decode a 653-byte `Whirlpool`, discriminator checked.
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        check_anchor(KIND, data, LEN, DISCRIMINATOR)?;
        let mut r = Reader::new(data);
        let _discriminator: [u8; 8] = r.bytes();
        let w = Whirlpool {
            whirlpools_config: r.pubkey(),
            whirlpool_bump: r.bytes(),
            tick_spacing: r.u16(),
            fee_tier_index_seed: r.bytes(),
            fee_rate: r.u16(),
            protocol_fee_rate: r.u16(),
            liquidity: r.u128(),
            sqrt_price: r.u128(),
            tick_current_index: r.i32(),
            protocol_fee_owed_a: r.u64(),
            protocol_fee_owed_b: r.u64(),
            token_mint_a: r.pubkey(),
            token_vault_a: r.pubkey(),
            fee_growth_global_a: r.u128(),
            token_mint_b: r.pubkey(),
            token_vault_b: r.pubkey(),
            fee_growth_global_b: r.u128(),
            reward_last_updated_timestamp: r.u64(),
            reward_infos: core::array::from_fn(|_| WhirlpoolRewardInfo {
                mint: r.pubkey(),
                vault: r.pubkey(),
                extension: r.bytes(),
                emissions_per_second_x64: r.u128(),
                growth_global_x64: r.u128(),
            }),
        };
        r.finish();
        Ok(w)
    }

    /// The 653 account bytes, discriminator included.
    pub fn encode(&self) -> [u8; LEN] {
        let mut out = [0u8; LEN];
        let mut w = Writer::new(&mut out);
        w.bytes(&DISCRIMINATOR);
        w.pubkey(&self.whirlpools_config);
        w.bytes(&self.whirlpool_bump);
        w.u16(self.tick_spacing);
        w.bytes(&self.fee_tier_index_seed);
        w.u16(self.fee_rate);
        w.u16(self.protocol_fee_rate);
        w.u128(self.liquidity);
        w.u128(self.sqrt_price);
        w.i32(self.tick_current_index);
        w.u64(self.protocol_fee_owed_a);
        w.u64(self.protocol_fee_owed_b);
        w.pubkey(&self.token_mint_a);
        w.pubkey(&self.token_vault_a);
        w.u128(self.fee_growth_global_a);
        w.pubkey(&self.token_mint_b);
        w.pubkey(&self.token_vault_b);
        w.u128(self.fee_growth_global_b);
        w.u64(self.reward_last_updated_timestamp);
        for ri in &self.reward_infos {
            w.pubkey(&ri.mint);
            w.pubkey(&ri.vault);
            w.bytes(&ri.extension);
            w.u128(ri.emissions_per_second_x64);
            w.u128(ri.growth_global_x64);
        }
        w.finish();
        out
    }

    /// The trade fee as (numerator, denominator).
    pub fn fee(&self) -> (u64, u64) {
        (self.fee_rate.into(), FEE_RATE_DENOMINATOR)
    }
}

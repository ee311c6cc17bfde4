//! Raydium CPMM `PoolState`: vaults, decimals and the fees owed that the reserves exclude.
//!
//! Layout: `PoolState` of `raydium-io/raydium-cp-swap` `programs/cp-swap/src/states/pool.rs`
//! (`#[account(zero_copy(unsafe))] #[repr(C, packed)]`): the 8-byte Anchor discriminator,
//! then the fields in declaration order with no padding, 637 bytes. Reserves follow
//! `vault_amount_without_fee`: each vault less the protocol, fund and creator fees owed in it.
//! The trade fee rate is not in this account but in its `AmmConfig` (`trade_fee_rate` over
//! [`FEE_RATE_DENOMINATOR`]); the feeder takes it from the pool's configuration.

use super::{check_anchor, AccountKind, DecodeError, Pubkey, Reader, Writer};

/// Size of a CPMM `PoolState` account.
pub const LEN: usize = 637;
/// `sha256("account:PoolState")[..8]`.
pub const DISCRIMINATOR: [u8; 8] = [0xf7, 0xed, 0xe3, 0xf5, 0xd7, 0xc3, 0xde, 0x46];
/// Denominator of CPMM fee rates (`FEE_RATE_DENOMINATOR_VALUE`, hundredths of a bip).
pub const FEE_RATE_DENOMINATOR: u64 = 1_000_000;

const KIND: AccountKind = AccountKind::RaydiumCpmm;

/// A decoded Raydium CPMM pool account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpmmPoolState {
    /// `AmmConfig` account holding the fee rates.
    pub amm_config: Pubkey,
    /// Pool creator.
    pub pool_creator: Pubkey,
    /// Token-0 vault.
    pub token_0_vault: Pubkey,
    /// Token-1 vault.
    pub token_1_vault: Pubkey,
    /// LP mint.
    pub lp_mint: Pubkey,
    /// Token-0 mint.
    pub token_0_mint: Pubkey,
    /// Token-1 mint.
    pub token_1_mint: Pubkey,
    /// Token program of token 0 (Token or Token-2022).
    pub token_0_program: Pubkey,
    /// Token program of token 1.
    pub token_1_program: Pubkey,
    /// Oracle observation account.
    pub observation_key: Pubkey,
    /// Bump of the pool authority PDA.
    pub auth_bump: u8,
    /// Bit 0: deposit disabled, bit 1: withdraw disabled, bit 2: swap disabled.
    pub status: u8,
    /// LP mint decimals.
    pub lp_mint_decimals: u8,
    /// Token-0 decimals.
    pub mint_0_decimals: u8,
    /// Token-1 decimals.
    pub mint_1_decimals: u8,
    /// LP supply.
    pub lp_supply: u64,
    /// Protocol fees owed, token 0.
    pub protocol_fees_token_0: u64,
    /// Protocol fees owed, token 1.
    pub protocol_fees_token_1: u64,
    /// Fund fees owed, token 0.
    pub fund_fees_token_0: u64,
    /// Fund fees owed, token 1.
    pub fund_fees_token_1: u64,
    /// Unix time from which swaps are allowed.
    pub open_time: u64,
    /// Recent epoch.
    pub recent_epoch: u64,
    /// Creator fee mode (0 both tokens, 1 only token 0, 2 only token 1).
    pub creator_fee_on: u8,
    /// Whether the creator fee is charged (a bool byte, kept raw).
    pub enable_creator_fee: u8,
    /// Padding.
    pub padding1: [u8; 6],
    /// Creator fees owed, token 0.
    pub creator_fees_token_0: u64,
    /// Creator fees owed, token 1.
    pub creator_fees_token_1: u64,
    /// Padding for future fields.
    pub padding: [u64; 28],
}

impl CpmmPoolState {
    /// Decode a 637-byte CPMM `PoolState`, discriminator checked.
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        check_anchor(KIND, data, LEN, DISCRIMINATOR)?;
        let mut r = Reader::new(data);
        let _discriminator: [u8; 8] = r.bytes();
        let s = CpmmPoolState {
            amm_config: r.pubkey(),
            pool_creator: r.pubkey(),
            token_0_vault: r.pubkey(),
            token_1_vault: r.pubkey(),
            lp_mint: r.pubkey(),
            token_0_mint: r.pubkey(),
            token_1_mint: r.pubkey(),
            token_0_program: r.pubkey(),
            token_1_program: r.pubkey(),
            observation_key: r.pubkey(),
            auth_bump: r.u8(),
            status: r.u8(),
            lp_mint_decimals: r.u8(),
            mint_0_decimals: r.u8(),
            mint_1_decimals: r.u8(),
            lp_supply: r.u64(),
            protocol_fees_token_0: r.u64(),
            protocol_fees_token_1: r.u64(),
            fund_fees_token_0: r.u64(),
            fund_fees_token_1: r.u64(),
            open_time: r.u64(),
            recent_epoch: r.u64(),
            creator_fee_on: r.u8(),
            enable_creator_fee: r.u8(),
            padding1: r.bytes(),
            creator_fees_token_0: r.u64(),
            creator_fees_token_1: r.u64(),
            padding: r.u64s(),
        };
        r.finish();
        Ok(s)
    }

    /// The 637 account bytes, discriminator included.
    pub fn encode(&self) -> [u8; LEN] {
        let mut out = [0u8; LEN];
        let mut w = Writer::new(&mut out);
        w.bytes(&DISCRIMINATOR);
        for key in [
            &self.amm_config,
            &self.pool_creator,
            &self.token_0_vault,
            &self.token_1_vault,
            &self.lp_mint,
            &self.token_0_mint,
            &self.token_1_mint,
            &self.token_0_program,
            &self.token_1_program,
            &self.observation_key,
        ] {
            w.pubkey(key);
        }
        w.bytes(&[
            self.auth_bump,
            self.status,
            self.lp_mint_decimals,
            self.mint_0_decimals,
            self.mint_1_decimals,
        ]);
        w.u64s(&[
            self.lp_supply,
            self.protocol_fees_token_0,
            self.protocol_fees_token_1,
            self.fund_fees_token_0,
            self.fund_fees_token_1,
            self.open_time,
            self.recent_epoch,
        ]);
        w.u8(self.creator_fee_on);
        w.u8(self.enable_creator_fee);
        w.bytes(&self.padding1);
        w.u64(self.creator_fees_token_0);
        w.u64(self.creator_fees_token_1);
        w.u64s(&self.padding);
        w.finish();
        out
    }

    /// Fees owed in vault 0 and vault 1 (protocol + fund + creator), which are not
    /// liquidity. Saturates: a sum past u64 cannot be covered by any vault anyway.
    pub fn fees_owed(&self) -> (u64, u64) {
        let sum = |a: u64, b: u64, c: u64| a.saturating_add(b).saturating_add(c);
        (
            sum(
                self.protocol_fees_token_0,
                self.fund_fees_token_0,
                self.creator_fees_token_0,
            ),
            sum(
                self.protocol_fees_token_1,
                self.fund_fees_token_1,
                self.creator_fees_token_1,
            ),
        )
    }

    /// Tradable reserves (token 0, token 1): the vault balances less the fees owed.
    pub fn reserves(
        &self,
        vault_0_amount: u64,
        vault_1_amount: u64,
    ) -> Result<(u64, u64), DecodeError> {
        let (owed_0, owed_1) = self.fees_owed();
        let r0 = vault_0_amount
            .checked_sub(owed_0)
            .ok_or(DecodeError::OwedExceedsVault {
                account: KIND,
                field: "protocol_fees_token_0 + fund_fees_token_0 + creator_fees_token_0",
                owed: owed_0,
                vault: vault_0_amount,
            })?;
        let r1 = vault_1_amount
            .checked_sub(owed_1)
            .ok_or(DecodeError::OwedExceedsVault {
                account: KIND,
                field: "protocol_fees_token_1 + fund_fees_token_1 + creator_fees_token_1",
                owed: owed_1,
                vault: vault_1_amount,
            })?;
        Ok((r0, r1))
    }

    /// Whether swaps are enabled (status bit 2 clear).
    pub fn swap_enabled(&self) -> bool {
        self.status & 0b100 == 0
    }
}

//! Raydium CPMM `swap_base_input` (Anchor).
//!
//! Checked against `raydium-io/raydium-cp-swap`,
//! `programs/cp-swap/src/instructions/swap_base_input.rs` (the `Swap` accounts struct, 13
//! accounts ending with `observation_state`, and `swap_base_input(ctx, amount_in: u64,
//! minimum_amount_out: u64)`): data is the Anchor discriminator
//! `sha256("global:swap_base_input")[..8]` then the two u64 arguments, Borsh (little-endian).

use super::{anchor_discriminator, AccountNames, BuildError, Direction, LegAccounts};
use super::{ids, PatchableInstruction};
use solana_address::Address;
use solana_instruction::{AccountMeta, Instruction};

/// Offset of `amount_in` in the data.
pub const AMOUNT_IN_OFFSET: usize = 8;
/// Offset of `minimum_amount_out` in the data.
pub const MIN_OUT_OFFSET: usize = 16;
/// Length of the data.
pub const DATA_LEN: usize = 24;

/// Account names of a `raydium_cpmm` leg ("a" is the pool's token 0).
pub const ACCOUNT_NAMES: AccountNames = AccountNames {
    required: &[
        "authority",
        "amm_config",
        "pool_state",
        "token_0_vault",
        "token_1_vault",
        "token_0_mint",
        "token_1_mint",
        "observation_state",
        "user_token_a",
        "user_token_b",
    ],
    optional: &["token_0_program", "token_1_program"],
};

/// Builds `swap_base_input` for `payer` (signer) with zero amounts.
pub fn swap_base_input(
    program_id: Address,
    accounts: &LegAccounts<'_>,
    payer: Address,
    direction: Direction,
) -> Result<PatchableInstruction, BuildError> {
    let side = |n: u8| -> Result<(Address, Address, Address, Address), BuildError> {
        Ok(if n == 0 {
            (
                accounts.get("user_token_a")?,
                accounts.get("token_0_vault")?,
                accounts.get("token_0_mint")?,
                accounts.get_or("token_0_program", ids::SPL_TOKEN),
            )
        } else {
            (
                accounts.get("user_token_b")?,
                accounts.get("token_1_vault")?,
                accounts.get("token_1_mint")?,
                accounts.get_or("token_1_program", ids::SPL_TOKEN),
            )
        })
    };
    let (input, output) = match direction {
        Direction::AToB => (side(0)?, side(1)?),
        Direction::BToA => (side(1)?, side(0)?),
    };
    let metas = vec![
        AccountMeta::new_readonly(payer, true),
        AccountMeta::new_readonly(accounts.get("authority")?, false),
        AccountMeta::new_readonly(accounts.get("amm_config")?, false),
        AccountMeta::new(accounts.get("pool_state")?, false),
        AccountMeta::new(input.0, false),
        AccountMeta::new(output.0, false),
        AccountMeta::new(input.1, false),
        AccountMeta::new(output.1, false),
        AccountMeta::new_readonly(input.3, false),
        AccountMeta::new_readonly(output.3, false),
        AccountMeta::new_readonly(input.2, false),
        AccountMeta::new_readonly(output.2, false),
        AccountMeta::new(accounts.get("observation_state")?, false),
    ];
    let mut data = vec![0u8; DATA_LEN];
    data[..8].copy_from_slice(&anchor_discriminator("swap_base_input"));
    Ok(PatchableInstruction {
        instruction: Instruction {
            program_id,
            accounts: metas,
            data,
        },
        amount_offset: Some(AMOUNT_IN_OFFSET),
        min_out_offset: Some(MIN_OUT_OFFSET),
    })
}

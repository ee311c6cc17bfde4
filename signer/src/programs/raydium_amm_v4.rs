//! Raydium AMM v4 `SwapBaseIn` (instruction tag 9).
//!
//! Checked against `raydium-io/raydium-amm`, `program/src/instruction.rs`
//! (`AmmInstruction::SwapBaseIn` account list and `SwapInstructionBaseIn`, packed as tag 9,
//! then `amount_in: u64`, `minimum_amount_out: u64`, little-endian): 18 accounts, of which
//! the AMM target orders account (index 4) is documented there as optional and "no longer
//! used"; it is included only when the leg names it (17 accounts otherwise).

use super::{AccountNames, BuildError, Direction, LegAccounts, PatchableInstruction};
use solana_address::Address;
use solana_instruction::{AccountMeta, Instruction};

/// Instruction tag of `SwapBaseIn`.
pub const TAG_SWAP_BASE_IN: u8 = 9;
/// Offset of `amount_in` in the data.
pub const AMOUNT_IN_OFFSET: usize = 1;
/// Offset of `minimum_amount_out` in the data.
pub const MIN_OUT_OFFSET: usize = 9;
/// Length of the data.
pub const DATA_LEN: usize = 17;

/// Account names of a `raydium_amm_v4` leg.
pub const ACCOUNT_NAMES: AccountNames = AccountNames {
    required: &[
        "amm",
        "amm_authority",
        "amm_open_orders",
        "pool_coin_token_account",
        "pool_pc_token_account",
        "serum_program",
        "serum_market",
        "serum_bids",
        "serum_asks",
        "serum_event_queue",
        "serum_coin_vault",
        "serum_pc_vault",
        "serum_vault_signer",
        "user_token_a",
        "user_token_b",
    ],
    optional: &["amm_target_orders", "token_program"],
};

/// Builds `SwapBaseIn` for `owner` (the fee payer, signer) with zero amounts.
pub fn swap_base_in(
    program_id: Address,
    accounts: &LegAccounts<'_>,
    owner: Address,
    direction: Direction,
) -> Result<PatchableInstruction, BuildError> {
    let (source, destination) = match direction {
        Direction::AToB => (accounts.get("user_token_a")?, accounts.get("user_token_b")?),
        Direction::BToA => (accounts.get("user_token_b")?, accounts.get("user_token_a")?),
    };
    let mut metas = Vec::with_capacity(18);
    metas.push(AccountMeta::new_readonly(
        accounts.get_or("token_program", super::ids::SPL_TOKEN),
        false,
    ));
    metas.push(AccountMeta::new(accounts.get("amm")?, false));
    metas.push(AccountMeta::new_readonly(
        accounts.get("amm_authority")?,
        false,
    ));
    metas.push(AccountMeta::new(accounts.get("amm_open_orders")?, false));
    if let Ok(target_orders) = accounts.get("amm_target_orders") {
        metas.push(AccountMeta::new(target_orders, false));
    }
    metas.push(AccountMeta::new(
        accounts.get("pool_coin_token_account")?,
        false,
    ));
    metas.push(AccountMeta::new(
        accounts.get("pool_pc_token_account")?,
        false,
    ));
    metas.push(AccountMeta::new_readonly(
        accounts.get("serum_program")?,
        false,
    ));
    metas.push(AccountMeta::new(accounts.get("serum_market")?, false));
    metas.push(AccountMeta::new(accounts.get("serum_bids")?, false));
    metas.push(AccountMeta::new(accounts.get("serum_asks")?, false));
    metas.push(AccountMeta::new(accounts.get("serum_event_queue")?, false));
    metas.push(AccountMeta::new(accounts.get("serum_coin_vault")?, false));
    metas.push(AccountMeta::new(accounts.get("serum_pc_vault")?, false));
    metas.push(AccountMeta::new_readonly(
        accounts.get("serum_vault_signer")?,
        false,
    ));
    metas.push(AccountMeta::new(source, false));
    metas.push(AccountMeta::new(destination, false));
    metas.push(AccountMeta::new_readonly(owner, true));
    let mut data = vec![0u8; DATA_LEN];
    data[0] = TAG_SWAP_BASE_IN;
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

//! Raydium AMM v4 `SwapBaseInV2` (instruction tag 16).
//!
//! Checked against `raydium-io/raydium-amm`, `program/src/instruction.rs`
//! (`AmmInstruction::SwapBaseInV2` and its `swap_base_in_v2` builder): 8 accounts, token
//! program, amm, amm authority, amm coin vault, amm pc vault, user source, user destination,
//! user owner (signer); data is tag 16, then `amount_in: u64`, `minimum_amount_out: u64`,
//! little-endian. Unlike `SwapBaseIn` (tag 9) it takes no OpenBook market accounts, so every
//! account follows from the pool account and the wallet.
//!
//! The authority is `create_program_address(["amm authority", [nonce]], program)`, the nonce
//! being the pool's `AmmInfo.nonce` (see [`authority_address`]).

use super::{AccountNames, BuildError, Direction, LegAccounts, PatchableInstruction};
use solana_address::Address;
use solana_instruction::{AccountMeta, Instruction};

/// Instruction tag of `SwapBaseInV2`.
pub const TAG_SWAP_BASE_IN_V2: u8 = 16;
/// Offset of `amount_in` in the data.
pub const AMOUNT_IN_OFFSET: usize = 1;
/// Offset of `minimum_amount_out` in the data.
pub const MIN_OUT_OFFSET: usize = 9;
/// Length of the data.
pub const DATA_LEN: usize = 17;
/// The authority seed (`AUTHORITY_AMM` in `program/src/processor.rs`).
pub const AUTHORITY_SEED: &[u8] = b"amm authority";

/// Account names of a `raydium_amm_v4` leg.
pub const ACCOUNT_NAMES: AccountNames = AccountNames {
    required: &[
        "amm",
        "amm_authority",
        "pool_coin_token_account",
        "pool_pc_token_account",
        "user_token_a",
        "user_token_b",
    ],
    optional: &["token_program"],
};

/// The pool authority of `program_id` for the pool's `nonce`; `None` if the nonce does not
/// give an off-curve address (not a pool of this program).
pub fn authority_address(program_id: &Address, nonce: u8) -> Option<Address> {
    Address::create_program_address(&[AUTHORITY_SEED, &[nonce]], program_id).ok()
}

/// Builds `SwapBaseInV2` for `owner` (the fee payer, signer) with zero amounts.
pub fn swap_base_in_v2(
    program_id: Address,
    accounts: &LegAccounts<'_>,
    owner: Address,
    direction: Direction,
) -> Result<PatchableInstruction, BuildError> {
    let (source, destination) = match direction {
        Direction::AToB => (accounts.get("user_token_a")?, accounts.get("user_token_b")?),
        Direction::BToA => (accounts.get("user_token_b")?, accounts.get("user_token_a")?),
    };
    let metas = vec![
        AccountMeta::new_readonly(
            accounts.get_or("token_program", super::ids::SPL_TOKEN),
            false,
        ),
        AccountMeta::new(accounts.get("amm")?, false),
        AccountMeta::new_readonly(accounts.get("amm_authority")?, false),
        AccountMeta::new(accounts.get("pool_coin_token_account")?, false),
        AccountMeta::new(accounts.get("pool_pc_token_account")?, false),
        AccountMeta::new(source, false),
        AccountMeta::new(destination, false),
        AccountMeta::new_readonly(owner, true),
    ];
    let mut data = vec![0u8; DATA_LEN];
    data[0] = TAG_SWAP_BASE_IN_V2;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sol_usdc_pool_authority_is_the_published_one() {
        // Every Raydium v4 pool on mainnet has nonce 254 (or so) and this authority; the
        // address is the one explorers and Raydium's SDK (`AMM_V4` authority) name.
        let program = super::super::ids::RAYDIUM_AMM_V4;
        let want: Address = "5Q544fKrFoe6tsEbD7S8EmxGTJYAKtTVhAW5Q5pge4j1"
            .parse()
            .expect("address");
        let found = (0..=255u8).find(|&n| authority_address(&program, n) == Some(want));
        assert!(found.is_some(), "no nonce derives the published authority");
    }
}

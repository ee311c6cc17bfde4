//! SPL Token `Transfer` (instruction tag 3, `amount: u64`).
//!
//! Checked against `solana-program/token`, `interface/src/instruction.rs`
//! (`TokenInstruction::Transfer`, the fourth variant, so tag 3; single-owner accounts: source
//! writable, destination writable, owner signer; the amount follows the tag, little-endian).

use super::{AccountNames, BuildError, LegAccounts, PatchableInstruction};
use solana_address::Address;
use solana_instruction::{AccountMeta, Instruction};

/// Instruction tag of `Transfer`.
pub const TAG_TRANSFER: u8 = 3;
/// Offset of `amount` in the data.
pub const AMOUNT_OFFSET: usize = 1;

/// Account names of an `spl_transfer` leg.
pub const ACCOUNT_NAMES: AccountNames = AccountNames {
    required: &["source", "destination"],
    optional: &[],
};

/// Builds `Transfer` from `source` to `destination` owned by `owner` (signer), amount zero.
/// `program_id` is the token program (SPL Token by default).
pub fn transfer(
    program_id: Address,
    accounts: &LegAccounts<'_>,
    owner: Address,
) -> Result<PatchableInstruction, BuildError> {
    let metas = vec![
        AccountMeta::new(accounts.get("source")?, false),
        AccountMeta::new(accounts.get("destination")?, false),
        AccountMeta::new_readonly(owner, true),
    ];
    let mut data = vec![0u8; 9];
    data[0] = TAG_TRANSFER;
    Ok(PatchableInstruction {
        instruction: Instruction {
            program_id,
            accounts: metas,
            data,
        },
        amount_offset: Some(AMOUNT_OFFSET),
        min_out_offset: None,
    })
}

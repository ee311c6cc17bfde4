//! System program `Transfer` of lamports: the Jito tip.
//!
//! `SystemInstruction::Transfer { lamports }` is bincode-encoded: a u32 little-endian variant
//! index (2) then the u64 lamports; accounts: from (writable, signer), to (writable). The
//! tests compare the bytes with `solana-system-interface`'s own builder.

use super::{ids, PatchableInstruction};
use solana_address::Address;
use solana_instruction::{AccountMeta, Instruction};

/// Variant index of `Transfer` in `SystemInstruction`.
pub const TRANSFER_VARIANT: u32 = 2;
/// Offset of `lamports` in the data.
pub const LAMPORTS_OFFSET: usize = 4;

/// A transfer of zero lamports from `from` to `to`, its amount patchable.
pub fn transfer(from: Address, to: Address) -> PatchableInstruction {
    let mut data = vec![0u8; 12];
    data[..4].copy_from_slice(&TRANSFER_VARIANT.to_le_bytes());
    PatchableInstruction {
        instruction: Instruction {
            program_id: ids::SYSTEM,
            accounts: vec![AccountMeta::new(from, true), AccountMeta::new(to, false)],
            data,
        },
        amount_offset: Some(LAMPORTS_OFFSET),
        min_out_offset: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tip_transfer_matches_solana_system_interface() {
        let from = Address::new_from_array([1; 32]);
        let to = Address::new_from_array([2; 32]);
        let mut ours = transfer(from, to);
        super::super::put_u64(&mut ours.instruction.data, LAMPORTS_OFFSET, 123_456);
        let theirs = solana_system_interface::instruction::transfer(&from, &to, 123_456);
        assert_eq!(ours.instruction, theirs);
    }
}

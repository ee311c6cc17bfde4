//! Compute budget instructions: the unit limit (fixed per route) and the unit price (patched
//! per trade).
//!
//! Built by `solana-compute-budget-interface` itself (tags 2 and 3, little-endian u32 / u64),
//! so the layout is the runtime's own; only the price's offset is recorded here.

use super::PatchableInstruction;
use solana_compute_budget_interface::ComputeBudgetInstruction;
use solana_instruction::Instruction;

/// Offset of the micro-lamport price in `SetComputeUnitPrice` data (after the 1-byte tag).
pub const PRICE_OFFSET: usize = 1;

/// `SetComputeUnitLimit(units)`.
pub fn set_compute_unit_limit(units: u32) -> Instruction {
    ComputeBudgetInstruction::set_compute_unit_limit(units)
}

/// `SetComputeUnitPrice(0)`, its price patchable at [`PRICE_OFFSET`] (reported as the
/// instruction's `amount_offset`).
pub fn set_compute_unit_price() -> PatchableInstruction {
    PatchableInstruction {
        instruction: ComputeBudgetInstruction::set_compute_unit_price(0),
        amount_offset: Some(PRICE_OFFSET),
        min_out_offset: None,
    }
}

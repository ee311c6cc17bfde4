//! Orca Whirlpool `swap` (Anchor), exact input.
//!
//! Checked against `orca-so/whirlpools`, `programs/whirlpool/src/instructions/swap.rs` (the
//! `Swap` accounts struct: token program, token authority, whirlpool, owner account A, vault A,
//! owner account B, vault B, tick arrays 0..2, oracle; the current source marks the oracle
//! `mut`, so it is passed writable) and the handler's arguments `amount: u64,
//! other_amount_threshold: u64, sqrt_price_limit: u128, amount_specified_is_input: bool,
//! a_to_b: bool`, Borsh-encoded after the discriminator `sha256("global:swap")[..8]`.
//!
//! The tick arrays depend on the price: a route keeps a few pre-built variants, one per
//! tick-array start index (see [`crate::template`]).

use super::PatchableInstruction;
use super::{anchor_discriminator, ids, AccountNames, BuildError, Direction, LegAccounts};
use solana_address::Address;
use solana_instruction::{AccountMeta, Instruction};

/// Highest sqrt price (Q64.64): the limit for an unbounded B→A swap.
pub use phantom_ringbuf::programs::WHIRLPOOL_MAX_SQRT_PRICE_X64 as MAX_SQRT_PRICE_X64;
/// Lowest sqrt price a Whirlpool accepts (Q64.64): the limit for an unbounded A→B swap.
pub use phantom_ringbuf::programs::WHIRLPOOL_MIN_SQRT_PRICE_X64 as MIN_SQRT_PRICE_X64;
/// Lowest tick a Whirlpool price may take.
pub const MIN_TICK_INDEX: i32 = -443_636;
/// Highest tick.
pub const MAX_TICK_INDEX: i32 = 443_636;
/// Ticks per tick array.
pub const TICK_ARRAY_SIZE: i32 = 88;

/// Offset of `amount` in the data.
pub const AMOUNT_OFFSET: usize = 8;
/// Offset of `other_amount_threshold` (the minimum out, for exact input) in the data.
pub const OTHER_AMOUNT_THRESHOLD_OFFSET: usize = 16;
/// Offset of `sqrt_price_limit`.
pub const SQRT_PRICE_LIMIT_OFFSET: usize = 24;
/// Offset of `amount_specified_is_input`.
pub const AMOUNT_IS_INPUT_OFFSET: usize = 40;
/// Offset of `a_to_b`.
pub const A_TO_B_OFFSET: usize = 41;
/// Length of the data.
pub const DATA_LEN: usize = 42;

/// Account names of an `orca_whirlpool` leg (tick arrays come from the pool's current tick,
/// or from `tick_array_variants`).
pub const ACCOUNT_NAMES: AccountNames = AccountNames {
    required: &[
        "whirlpool",
        "token_vault_a",
        "token_vault_b",
        "oracle",
        "user_token_a",
        "user_token_b",
    ],
    optional: &["token_program"],
};

/// The start tick index of the tick array holding `tick`, for pools of `tick_spacing`: the
/// key of a route's tick-array variants.
pub fn tick_array_start_index(tick: i32, tick_spacing: u16) -> i32 {
    let ticks_per_array = TICK_ARRAY_SIZE * i32::from(tick_spacing.max(1));
    tick.div_euclid(ticks_per_array) * ticks_per_array
}

/// The start indices of the three tick arrays a swap from `tick` in `direction` crosses, in
/// swap order. As the Orca SDK's `getTickArrayPublicKeysForSwap`: a B→A swap starts from
/// `tick + tick_spacing` (a price sitting on an array's last tick moves into the next one),
/// and the arrays run down for A→B, up for B→A. Past the last array that exists, the last
/// one is repeated.
pub fn tick_array_starts(tick: i32, tick_spacing: u16, direction: Direction) -> [i32; 3] {
    let spacing = i32::from(tick_spacing.max(1));
    let per_array = TICK_ARRAY_SIZE * spacing;
    let (shift, step) = match direction {
        Direction::AToB => (0, -per_array),
        Direction::BToA => (spacing, per_array),
    };
    let first = tick_array_start_index(tick.saturating_add(shift), tick_spacing);
    let lowest = tick_array_start_index(MIN_TICK_INDEX, tick_spacing);
    let highest = tick_array_start_index(MAX_TICK_INDEX, tick_spacing);
    let mut out = [first; 3];
    for i in 1..3 {
        let next = out[i - 1] + step;
        out[i] = if (lowest..=highest).contains(&next) {
            next
        } else {
            out[i - 1]
        };
    }
    out
}

/// The tick array PDA `["tick_array", whirlpool, start index as decimal text]`.
pub fn tick_array_address(program_id: &Address, whirlpool: &Address, start: i32) -> Address {
    let text = start.to_string();
    Address::find_program_address(
        &[b"tick_array", whirlpool.as_ref(), text.as_bytes()],
        program_id,
    )
    .0
}

/// The oracle PDA `["oracle", whirlpool]`.
pub fn oracle_address(program_id: &Address, whirlpool: &Address) -> Address {
    Address::find_program_address(&[b"oracle", whirlpool.as_ref()], program_id).0
}

/// Builds `swap` (exact input, no price limit beyond the pool's bounds) for `authority`
/// (signer) through `tick_arrays`, with zero amounts.
pub fn swap(
    program_id: Address,
    accounts: &LegAccounts<'_>,
    authority: Address,
    direction: Direction,
    tick_arrays: [Address; 3],
) -> Result<PatchableInstruction, BuildError> {
    let metas = vec![
        AccountMeta::new_readonly(accounts.get_or("token_program", ids::SPL_TOKEN), false),
        AccountMeta::new_readonly(authority, true),
        AccountMeta::new(accounts.get("whirlpool")?, false),
        AccountMeta::new(accounts.get("user_token_a")?, false),
        AccountMeta::new(accounts.get("token_vault_a")?, false),
        AccountMeta::new(accounts.get("user_token_b")?, false),
        AccountMeta::new(accounts.get("token_vault_b")?, false),
        AccountMeta::new(tick_arrays[0], false),
        AccountMeta::new(tick_arrays[1], false),
        AccountMeta::new(tick_arrays[2], false),
        AccountMeta::new(accounts.get("oracle")?, false),
    ];
    let a_to_b = direction == Direction::AToB;
    let limit = if a_to_b {
        MIN_SQRT_PRICE_X64
    } else {
        MAX_SQRT_PRICE_X64
    };
    let mut data = vec![0u8; DATA_LEN];
    data[..8].copy_from_slice(&anchor_discriminator("swap"));
    data[SQRT_PRICE_LIMIT_OFFSET..SQRT_PRICE_LIMIT_OFFSET + 16]
        .copy_from_slice(&limit.to_le_bytes());
    data[AMOUNT_IS_INPUT_OFFSET] = 1;
    data[A_TO_B_OFFSET] = u8::from(a_to_b);
    Ok(PatchableInstruction {
        instruction: Instruction {
            program_id,
            accounts: metas,
            data,
        },
        amount_offset: Some(AMOUNT_OFFSET),
        min_out_offset: Some(OTHER_AMOUNT_THRESHOLD_OFFSET),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_array_starts_shift_with_direction() {
        // spacing 4: 352 ticks per array.
        assert_eq!(
            tick_array_starts(-18835, 4, Direction::AToB),
            [-19008, -19360, -19712]
        );
        assert_eq!(
            tick_array_starts(-18835, 4, Direction::BToA),
            [-19008, -18656, -18304]
        );
        // On the array's last usable tick, B→A starts in the next array.
        assert_eq!(tick_array_starts(-18660, 4, Direction::BToA)[0], -18656);
        assert_eq!(tick_array_starts(-18660, 4, Direction::AToB)[0], -19008);
        // At the top, the last array repeats.
        let top = tick_array_starts(MAX_TICK_INDEX, 64, Direction::BToA);
        assert_eq!(top[1], top[0]);
    }

    #[test]
    fn tick_array_start_index_rounds_toward_negative_infinity() {
        // spacing 64: 88 * 64 = 5632 ticks per array.
        assert_eq!(tick_array_start_index(0, 64), 0);
        assert_eq!(tick_array_start_index(5631, 64), 0);
        assert_eq!(tick_array_start_index(5632, 64), 5632);
        assert_eq!(tick_array_start_index(-1, 64), -5632);
        assert_eq!(tick_array_start_index(-5632, 64), -5632);
        assert_eq!(tick_array_start_index(-5633, 64), -11264);
    }
}

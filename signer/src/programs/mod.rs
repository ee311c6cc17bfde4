//! Instruction builders for the on-chain programs a route may call.
//!
//! Each builder follows its program's published interface (account order, writability, data
//! layout; the source checked is cited in each module) and reports where the fields a trade
//! changes (amount in, minimum out) sit inside its instruction data, so that
//! [`crate::template`] can patch them in the serialized message without rebuilding it.
//!
//! Accounts of a leg are named in config (`[routes.legs.accounts]`); the names each program
//! kind takes are in [`ProgramKind::account_names`]. Token sides follow one convention for
//! every kind: "a" is the pool's first token (Raydium v4 coin, CPMM token 0, Whirlpool token A),
//! and the leg's `direction` says which side is sold.

pub mod compute_budget;
pub mod orca_whirlpool;
pub mod raydium_amm_v4;
pub mod raydium_cpmm;
pub mod spl_token;
pub mod system;

use serde::Deserialize;
use solana_address::Address;
use solana_instruction::Instruction;
use std::collections::BTreeMap;

/// Program ids on Solana mainnet (the defaults; a leg may override its program id in config,
/// e.g. for a local validator with the programs deployed elsewhere).
pub mod ids {
    use phantom_ringbuf::programs;
    use solana_address::Address;

    /// Raydium liquidity pool v4 (`raydium-io/raydium-amm`).
    pub const RAYDIUM_AMM_V4: Address = Address::from_str_const(programs::RAYDIUM_AMM_V4);
    /// Raydium constant-product AMM (`raydium-io/raydium-cp-swap`).
    pub const RAYDIUM_CPMM: Address = Address::from_str_const(programs::RAYDIUM_CPMM);
    /// Orca Whirlpools (`orca-so/whirlpools`).
    pub const ORCA_WHIRLPOOL: Address = Address::from_str_const(programs::ORCA_WHIRLPOOL);
    /// SPL Token program.
    pub const SPL_TOKEN: Address = Address::from_str_const(programs::SPL_TOKEN);
    /// SPL Token-2022 program.
    pub const SPL_TOKEN_2022: Address = Address::from_str_const(programs::SPL_TOKEN_2022);
    /// The wrapped-SOL mint.
    pub const WSOL_MINT: Address =
        Address::from_str_const("So11111111111111111111111111111111111111112");
    /// SPL Associated Token Account program.
    pub const ASSOCIATED_TOKEN: Address = Address::from_str_const(programs::ASSOCIATED_TOKEN);
    /// OpenBook (Serum v3 successor) DEX program, the market program of most v4 pools.
    pub const OPENBOOK: Address = Address::from_str_const(programs::OPENBOOK);
    /// System program (lamport transfers: Jito tips).
    pub const SYSTEM: Address = Address::from_str_const(programs::SYSTEM);
    /// Compute budget program.
    pub const COMPUTE_BUDGET: Address = Address::from_str_const(programs::COMPUTE_BUDGET);
}

/// Which side of the pool a leg sells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Sell token A (v4 coin, CPMM token 0, Whirlpool A) for token B.
    AToB,
    /// Sell token B for token A.
    BToA,
}

/// The program (and instruction) a leg calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProgramKind {
    /// Raydium AMM v4 `SwapBaseInV2`.
    RaydiumAmmV4,
    /// Raydium CPMM `swap_base_input`.
    RaydiumCpmm,
    /// Orca Whirlpool `swap` (exact input).
    OrcaWhirlpool,
    /// SPL Token `Transfer` (a route testable end to end without any pool).
    SplTransfer,
}

/// Account names a program kind takes in `[routes.legs.accounts]`.
#[derive(Clone, Copy, Debug)]
pub struct AccountNames {
    /// Names that must be present.
    pub required: &'static [&'static str],
    /// Names that may be present.
    pub optional: &'static [&'static str],
}

impl ProgramKind {
    /// The config spelling of this kind.
    pub fn name(self) -> &'static str {
        match self {
            ProgramKind::RaydiumAmmV4 => "raydium_amm_v4",
            ProgramKind::RaydiumCpmm => "raydium_cpmm",
            ProgramKind::OrcaWhirlpool => "orca_whirlpool",
            ProgramKind::SplTransfer => "spl_transfer",
        }
    }

    /// The kind of a `[[pools]]` entry's `kind`, when it is a pool program.
    pub fn from_pool_kind(kind: &str) -> Option<Self> {
        match kind {
            "raydium_amm_v4" => Some(ProgramKind::RaydiumAmmV4),
            "raydium_cpmm" => Some(ProgramKind::RaydiumCpmm),
            "orca_whirlpool" => Some(ProgramKind::OrcaWhirlpool),
            _ => None,
        }
    }

    /// The account names this kind takes.
    pub fn account_names(self) -> AccountNames {
        match self {
            ProgramKind::RaydiumAmmV4 => raydium_amm_v4::ACCOUNT_NAMES,
            ProgramKind::RaydiumCpmm => raydium_cpmm::ACCOUNT_NAMES,
            ProgramKind::OrcaWhirlpool => orca_whirlpool::ACCOUNT_NAMES,
            ProgramKind::SplTransfer => spl_token::ACCOUNT_NAMES,
        }
    }

    /// The mainnet program id of this kind.
    pub fn default_program_id(self) -> Address {
        match self {
            ProgramKind::RaydiumAmmV4 => ids::RAYDIUM_AMM_V4,
            ProgramKind::RaydiumCpmm => ids::RAYDIUM_CPMM,
            ProgramKind::OrcaWhirlpool => ids::ORCA_WHIRLPOOL,
            ProgramKind::SplTransfer => ids::SPL_TOKEN,
        }
    }

    /// Whether the leg trades through a pool (and so needs `pool` and `direction`).
    pub fn is_swap(self) -> bool {
        !matches!(self, ProgramKind::SplTransfer)
    }
}

/// A built instruction and where a trade's fields sit in its data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatchableInstruction {
    /// The instruction, with zero placeholders in the patchable fields.
    pub instruction: Instruction,
    /// Byte offset of the little-endian u64 amount (in) within `instruction.data`.
    pub amount_offset: Option<usize>,
    /// Byte offset of the little-endian u64 minimum amount out within `instruction.data`.
    pub min_out_offset: Option<usize>,
}

/// Why an instruction could not be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BuildError {
    /// A required account name is absent from the leg's accounts.
    #[error("accounts.{name}: required by {kind}")]
    MissingAccount {
        /// The missing name.
        name: &'static str,
        /// The program kind that needs it.
        kind: &'static str,
    },
}

/// The named accounts of one leg.
#[derive(Clone, Copy, Debug)]
pub struct LegAccounts<'a> {
    kind: ProgramKind,
    map: &'a BTreeMap<String, Address>,
}

impl<'a> LegAccounts<'a> {
    /// Wraps a leg's account map for a builder of `kind`.
    pub fn new(kind: ProgramKind, map: &'a BTreeMap<String, Address>) -> Self {
        LegAccounts { kind, map }
    }

    /// The address named `name`, which must be present.
    pub fn get(&self, name: &'static str) -> Result<Address, BuildError> {
        self.map
            .get(name)
            .copied()
            .ok_or(BuildError::MissingAccount {
                name,
                kind: self.kind.name(),
            })
    }

    /// The address named `name`, or `default` when absent.
    pub fn get_or(&self, name: &str, default: Address) -> Address {
        self.map.get(name).copied().unwrap_or(default)
    }
}

/// Writes `value` little-endian at `offset` of `data`.
pub(crate) fn put_u64(data: &mut [u8], offset: usize, value: u64) {
    data[offset..offset + 8].copy_from_slice(&value.to_le_bytes());
}

/// The 8-byte Anchor instruction discriminator: `sha256("global:" + name)[..8]`. Computed,
/// not copied, so a typo cannot hide; the tests pin the values found in the programs' IDLs.
pub fn anchor_discriminator(name: &str) -> [u8; 8] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"global:");
    h.update(name.as_bytes());
    let digest = h.finalize();
    let mut out = [0u8; 8];
    out.copy_from_slice(&digest[..8]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchor_discriminators_match_the_published_idls() {
        // raydium-cp-swap IDL: swap_base_input discriminator [143,190,90,218,196,30,51,222].
        assert_eq!(
            anchor_discriminator("swap_base_input"),
            [143, 190, 90, 218, 196, 30, 51, 222]
        );
        // Whirlpool IDL: swap discriminator 0xf8c69e91e17587c8.
        assert_eq!(
            anchor_discriminator("swap"),
            [0xf8, 0xc6, 0x9e, 0x91, 0xe1, 0x75, 0x87, 0xc8]
        );
    }

    #[test]
    fn program_ids_are_the_published_ones() {
        assert_eq!(
            ids::COMPUTE_BUDGET,
            solana_compute_budget_interface::id(),
            "compute budget id"
        );
        assert_eq!(ids::SYSTEM, solana_system_interface::program::ID);
        assert_eq!(ids::SYSTEM, Address::default());
    }
}

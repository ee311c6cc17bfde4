//! Account decoders and encoders for the accounts that move a pool's price.
//!
//! Each layout is written from the owning program's published source (the file and the
//! struct are named in each module) and read field by field, in declaration order, from a
//! length-checked slice: no allocation, no `unsafe`, and no panic on any input — a wrong
//! length, discriminator or enum value comes back as a [`DecodeError`] naming the account and
//! the field. Every decoder has an encoder producing the exact account bytes, which the market
//! simulator uses to serve real layouts.
//!
//! Pool structs keep every field of the account, padding included, so that
//! `encode(decode(bytes)) == bytes` for every account the program could have written: older
//! Raydium v4 pools hold data in what later layouts call padding.

pub mod raydium_amm_v4;
pub mod raydium_cpmm;
pub mod token;
pub mod whirlpool;

pub use raydium_amm_v4::AmmInfo;
pub use raydium_cpmm::CpmmPoolState;
pub use token::{TokenAccount, TokenAccountState};
pub use whirlpool::Whirlpool;

use core::fmt;
use core::str::FromStr;

/// SPL Token program.
pub const TOKEN_PROGRAM_ID: &str = phantom_ringbuf::programs::SPL_TOKEN;
/// SPL Token-2022 program.
pub const TOKEN_2022_PROGRAM_ID: &str = phantom_ringbuf::programs::SPL_TOKEN_2022;
/// Raydium AMM v4 program (owner of `AmmInfo` accounts).
pub const RAYDIUM_AMM_V4_PROGRAM_ID: &str = phantom_ringbuf::programs::RAYDIUM_AMM_V4;
/// Raydium CPMM program (owner of CPMM `PoolState` accounts).
pub const RAYDIUM_CPMM_PROGRAM_ID: &str = phantom_ringbuf::programs::RAYDIUM_CPMM;
/// Orca Whirlpool program.
pub const ORCA_WHIRLPOOL_PROGRAM_ID: &str = phantom_ringbuf::programs::ORCA_WHIRLPOOL;

/// Which account layout a [`DecodeError`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountKind {
    /// SPL Token (or Token-2022) token account.
    TokenAccount,
    /// Raydium AMM v4 `AmmInfo`.
    RaydiumAmmV4,
    /// Raydium CPMM `PoolState`.
    RaydiumCpmm,
    /// Orca `Whirlpool`.
    OrcaWhirlpool,
}

impl fmt::Display for AccountKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AccountKind::TokenAccount => "SPL Token account",
            AccountKind::RaydiumAmmV4 => "Raydium AMM v4 AmmInfo",
            AccountKind::RaydiumCpmm => "Raydium CPMM PoolState",
            AccountKind::OrcaWhirlpool => "Orca Whirlpool",
        })
    }
}

/// Why account bytes could not be decoded (or a buffer could not be encoded into).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The layout has a fixed size and the data is not that size.
    #[error("{account}: data is {actual} bytes, expected exactly {expected}")]
    Length {
        /// Layout.
        account: AccountKind,
        /// Required size.
        expected: usize,
        /// Size given.
        actual: usize,
    },
    /// The layout needs at least `min` bytes.
    #[error("{account}: data is {actual} bytes, expected at least {min}")]
    TooShort {
        /// Layout.
        account: AccountKind,
        /// Minimum size.
        min: usize,
        /// Size given.
        actual: usize,
    },
    /// Anchor account discriminator of another account type.
    #[error("{account}: discriminator {found:02x?} is not {expected:02x?}")]
    Discriminator {
        /// Layout.
        account: AccountKind,
        /// The discriminator of this account type.
        expected: [u8; 8],
        /// The first 8 bytes of the data.
        found: [u8; 8],
    },
    /// A field holds a value its type does not allow.
    #[error("{account}: field {field} has invalid value {value}")]
    InvalidValue {
        /// Layout.
        account: AccountKind,
        /// Field name as in the program's source.
        field: &'static str,
        /// The value found.
        value: u64,
    },
    /// The pool owes more of a token than its vault holds, so it has no valid reserve.
    #[error("{account}: {field} = {owed} exceeds the vault balance {vault}")]
    OwedExceedsVault {
        /// Layout.
        account: AccountKind,
        /// The owed field(s), as in the program's source.
        field: &'static str,
        /// Amount owed.
        owed: u64,
        /// Vault balance.
        vault: u64,
    },
}

/// A 32-byte Solana address. Displays and parses as base58.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pubkey(pub [u8; 32]);

impl Pubkey {
    /// The raw bytes.
    pub const fn to_bytes(self) -> [u8; 32] {
        self.0
    }
}

impl fmt::Display for Pubkey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // 32 bytes are at most 44 base58 characters.
        let mut buf = [0u8; 64];
        match bs58::encode(self.0).onto(&mut buf[..]) {
            Ok(n) => f.write_str(core::str::from_utf8(&buf[..n]).map_err(|_| fmt::Error)?),
            Err(_) => Err(fmt::Error),
        }
    }
}

impl fmt::Debug for Pubkey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pubkey({self})")
    }
}

/// Why a string is not a base58 address.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PubkeyParseError {
    /// Not base58.
    #[error("not base58: {0}")]
    Base58(String),
    /// Base58, but not 32 bytes.
    #[error("decodes to {0} bytes, expected 32")]
    Length(usize),
    /// Base58, but far longer than an address.
    #[error("decodes to more than 64 bytes, expected 32")]
    TooLong,
}

impl FromStr for Pubkey {
    type Err = PubkeyParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Decode into a larger buffer so that a slightly long input reports its real length.
        let mut buf = [0u8; 64];
        let n = bs58::decode(s).onto(&mut buf[..]).map_err(|e| match e {
            bs58::decode::Error::BufferTooSmall => PubkeyParseError::TooLong,
            e => PubkeyParseError::Base58(e.to_string()),
        })?;
        let bytes: [u8; 32] = buf[..n]
            .try_into()
            .map_err(|_| PubkeyParseError::Length(n))?;
        Ok(Pubkey(bytes))
    }
}

/// Reads consecutive little-endian fields. Callers check the length first; a read past the
/// end is a layout bug (caught by `finish` in tests), and yields zeros instead of panicking.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
    overrun: bool,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Reader {
            rest: data,
            overrun: false,
        }
    }

    pub(crate) fn bytes<const N: usize>(&mut self) -> [u8; N] {
        match self.rest.split_first_chunk::<N>() {
            Some((head, rest)) => {
                self.rest = rest;
                *head
            }
            None => {
                self.overrun = true;
                [0; N]
            }
        }
    }

    pub(crate) fn u8(&mut self) -> u8 {
        self.bytes::<1>()[0]
    }
    pub(crate) fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.bytes())
    }
    pub(crate) fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.bytes())
    }
    pub(crate) fn i32(&mut self) -> i32 {
        i32::from_le_bytes(self.bytes())
    }
    pub(crate) fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.bytes())
    }
    pub(crate) fn u128(&mut self) -> u128 {
        u128::from_le_bytes(self.bytes())
    }
    pub(crate) fn pubkey(&mut self) -> Pubkey {
        Pubkey(self.bytes())
    }
    pub(crate) fn u64s<const N: usize>(&mut self) -> [u64; N] {
        core::array::from_fn(|_| self.u64())
    }

    /// Every layout reads exactly its declared length: anything else is a bug in the layout.
    pub(crate) fn finish(self) {
        debug_assert!(
            !self.overrun && self.rest.is_empty(),
            "layout read {} past / left {} bytes",
            self.overrun,
            self.rest.len()
        );
    }
}

/// Writes consecutive little-endian fields; the mirror of [`Reader`].
pub(crate) struct Writer<'a> {
    rest: &'a mut [u8],
    overrun: bool,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(out: &'a mut [u8]) -> Self {
        Writer {
            rest: out,
            overrun: false,
        }
    }

    pub(crate) fn bytes(&mut self, b: &[u8]) {
        let rest = core::mem::take(&mut self.rest);
        if rest.len() < b.len() {
            self.overrun = true;
            self.rest = rest;
            return;
        }
        let (head, tail) = rest.split_at_mut(b.len());
        head.copy_from_slice(b);
        self.rest = tail;
    }

    pub(crate) fn u8(&mut self, v: u8) {
        self.bytes(&[v]);
    }
    pub(crate) fn u16(&mut self, v: u16) {
        self.bytes(&v.to_le_bytes());
    }
    pub(crate) fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }
    pub(crate) fn i32(&mut self, v: i32) {
        self.bytes(&v.to_le_bytes());
    }
    pub(crate) fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
    pub(crate) fn u128(&mut self, v: u128) {
        self.bytes(&v.to_le_bytes());
    }
    pub(crate) fn pubkey(&mut self, v: &Pubkey) {
        self.bytes(&v.0);
    }
    pub(crate) fn u64s(&mut self, v: &[u64]) {
        for x in v {
            self.u64(*x);
        }
    }

    pub(crate) fn finish(self) {
        debug_assert!(
            !self.overrun && self.rest.is_empty(),
            "layout wrote {} past / left {} bytes",
            self.overrun,
            self.rest.len()
        );
    }
}

/// Checks an exact-size layout.
pub(crate) fn check_len(
    account: AccountKind,
    data: &[u8],
    expected: usize,
) -> Result<(), DecodeError> {
    if data.len() == expected {
        Ok(())
    } else {
        Err(DecodeError::Length {
            account,
            expected,
            actual: data.len(),
        })
    }
}

/// Checks an exact-size Anchor layout and its discriminator.
pub(crate) fn check_anchor(
    account: AccountKind,
    data: &[u8],
    expected_len: usize,
    discriminator: [u8; 8],
) -> Result<(), DecodeError> {
    check_len(account, data, expected_len)?;
    let found: [u8; 8] = match data.first_chunk::<8>() {
        Some(d) => *d,
        None => [0; 8],
    };
    if found == discriminator {
        Ok(())
    } else {
        Err(DecodeError::Discriminator {
            account,
            expected: discriminator,
            found,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pubkey_parses_and_displays_base58() {
        let p: Pubkey = "So11111111111111111111111111111111111111112"
            .parse()
            .unwrap();
        assert_eq!(p.0[0], 6);
        assert_eq!(p.to_string(), "So11111111111111111111111111111111111111112");
        assert_eq!(
            Pubkey::default().to_string(),
            "11111111111111111111111111111111"
        );
    }

    #[test]
    fn pubkey_rejects_wrong_length_and_alphabet() {
        assert_eq!("1111".parse::<Pubkey>(), Err(PubkeyParseError::Length(4)));
        assert!(matches!(
            "0OIl".parse::<Pubkey>(),
            Err(PubkeyParseError::Base58(_))
        ));
        let long = "z".repeat(60);
        assert_eq!(long.parse::<Pubkey>(), Err(PubkeyParseError::Length(44)));
        let huge = "z".repeat(1000);
        assert_eq!(huge.parse::<Pubkey>(), Err(PubkeyParseError::TooLong));
    }

    #[test]
    fn program_ids_are_valid_addresses() {
        for id in [
            TOKEN_PROGRAM_ID,
            TOKEN_2022_PROGRAM_ID,
            RAYDIUM_AMM_V4_PROGRAM_ID,
            RAYDIUM_CPMM_PROGRAM_ID,
            ORCA_WHIRLPOOL_PROGRAM_ID,
        ] {
            let p: Pubkey = id.parse().unwrap();
            assert_eq!(p.to_string(), id);
        }
    }
}

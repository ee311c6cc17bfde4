//! SPL Token account: the vault balances that price Raydium pools.
//!
//! Layout: `Account` of `solana-program-library/token/program/src/state.rs` (`Pack`, 165
//! bytes): mint, owner, amount, delegate `COption<Pubkey>`, state, is_native `COption<u64>`,
//! delegated_amount, close_authority `COption<Pubkey>`; a `COption` is a u32 tag (0 none,
//! 1 some) then the value. Token-2022 accounts share these 165 bytes; when they carry
//! extensions, byte 165 is the account type (2 = Account) and TLV extensions follow.

use super::{AccountKind, DecodeError, Pubkey, Reader, Writer};

/// Size of the base token account layout.
pub const LEN: usize = 165;
/// Offset of `amount` (u64): the hot path reads only this.
pub const AMOUNT_OFFSET: usize = 64;
/// Offset of the `state` byte.
pub const STATE_OFFSET: usize = 108;
/// Token-2022: `Multisig::LEN`. An account of this size would be ambiguous, so Token-2022
/// refuses it as a token account, and so do we.
const MULTISIG_LEN: usize = 355;
/// Token-2022 `AccountType::Account`, at byte [`LEN`] of an account with extensions.
const ACCOUNT_TYPE_ACCOUNT: u8 = 2;

const KIND: AccountKind = AccountKind::TokenAccount;

/// `AccountState` of a token account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenAccountState {
    /// Not yet initialized.
    Uninitialized = 0,
    /// Usable.
    Initialized = 1,
    /// Frozen by the mint's freeze authority.
    Frozen = 2,
}

/// A decoded token account (the 165-byte base; Token-2022 extensions are not decoded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenAccount {
    /// Mint of the token held.
    pub mint: Pubkey,
    /// Owner (authority) of the account: for a pool vault, the pool's authority.
    pub owner: Pubkey,
    /// Balance, raw units.
    pub amount: u64,
    /// Delegate, if any.
    pub delegate: Option<Pubkey>,
    /// Account state.
    pub state: TokenAccountState,
    /// For wrapped SOL: the rent-exempt reserve not counted in `amount`.
    pub is_native: Option<u64>,
    /// Amount the delegate may transfer.
    pub delegated_amount: u64,
    /// Close authority, if any.
    pub close_authority: Option<Pubkey>,
}

fn check_len(data: &[u8]) -> Result<(), DecodeError> {
    if data.len() < LEN {
        return Err(DecodeError::TooShort {
            account: KIND,
            min: LEN,
            actual: data.len(),
        });
    }
    if data.len() > LEN {
        if data.len() == MULTISIG_LEN {
            return Err(DecodeError::Length {
                account: KIND,
                expected: LEN,
                actual: data.len(),
            });
        }
        let account_type = data.get(LEN).copied().unwrap_or(0);
        if account_type != ACCOUNT_TYPE_ACCOUNT {
            return Err(DecodeError::InvalidValue {
                account: KIND,
                field: "account_type",
                value: account_type.into(),
            });
        }
    }
    Ok(())
}

fn state_from(byte: u8) -> Result<TokenAccountState, DecodeError> {
    match byte {
        0 => Ok(TokenAccountState::Uninitialized),
        1 => Ok(TokenAccountState::Initialized),
        2 => Ok(TokenAccountState::Frozen),
        v => Err(DecodeError::InvalidValue {
            account: KIND,
            field: "state",
            value: v.into(),
        }),
    }
}

/// The balance of a token account, accepting exactly what [`TokenAccount::decode`] accepts
/// but reading only the length, the three option tags, the state and the amount: the
/// feeder's hot path.
pub fn amount(data: &[u8]) -> Result<u64, DecodeError> {
    check_len(data)?;
    let base = data.get(..LEN).unwrap_or(&[]);
    let tag = |(offset, field): (usize, &'static str)| {
        coption_tag(&mut Reader::new(base.get(offset..).unwrap_or(&[])), field)
    };
    // In layout order, so the first problem reported is the one `decode` reports.
    tag(COPTION_TAGS[0])?;
    state_from(base.get(STATE_OFFSET).copied().unwrap_or(0))?;
    tag(COPTION_TAGS[1])?;
    tag(COPTION_TAGS[2])?;
    let mut r = Reader::new(base.get(AMOUNT_OFFSET..AMOUNT_OFFSET + 8).unwrap_or(&[]));
    let v = r.u64();
    r.finish();
    Ok(v)
}

/// Offsets of the `COption` tags, in field order.
const COPTION_TAGS: [(usize, &str); 3] = [
    (72, "delegate"),
    (109, "is_native"),
    (129, "close_authority"),
];

fn coption_tag(r: &mut Reader<'_>, field: &'static str) -> Result<bool, DecodeError> {
    match r.u32() {
        0 => Ok(false),
        1 => Ok(true),
        v => Err(DecodeError::InvalidValue {
            account: KIND,
            field,
            value: v.into(),
        }),
    }
}

impl TokenAccount {
    /// Decode an SPL Token account, or a Token-2022 account (extensions ignored).
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        check_len(data)?;
        let mut r = Reader::new(data.get(..LEN).unwrap_or(&[]));
        let mint = r.pubkey();
        let owner = r.pubkey();
        let amount = r.u64();
        // As spl-token's `unpack_coption_*`: a none tag ignores the value bytes.
        let has_delegate = coption_tag(&mut r, "delegate")?;
        let delegate = r.pubkey();
        let state = state_from(r.u8())?;
        let has_native = coption_tag(&mut r, "is_native")?;
        let native = r.u64();
        let delegated_amount = r.u64();
        let has_close = coption_tag(&mut r, "close_authority")?;
        let close_authority = r.pubkey();
        r.finish();
        Ok(TokenAccount {
            mint,
            owner,
            amount,
            delegate: has_delegate.then_some(delegate),
            state,
            is_native: has_native.then_some(native),
            delegated_amount,
            close_authority: has_close.then_some(close_authority),
        })
    }

    /// The 165 account bytes.
    pub fn encode(&self) -> [u8; LEN] {
        let mut out = [0u8; LEN];
        self.write(&mut out);
        out
    }

    /// Write the 165-byte base layout over the start of `out`, leaving any Token-2022
    /// extension bytes after it untouched.
    pub fn encode_into(&self, out: &mut [u8]) -> Result<(), DecodeError> {
        match out.get_mut(..LEN) {
            Some(base) => {
                self.write(base);
                Ok(())
            }
            None => Err(DecodeError::TooShort {
                account: KIND,
                min: LEN,
                actual: out.len(),
            }),
        }
    }

    fn write(&self, out: &mut [u8]) {
        let mut w = Writer::new(out);
        w.pubkey(&self.mint);
        w.pubkey(&self.owner);
        w.u64(self.amount);
        w.u32(self.delegate.is_some().into());
        w.pubkey(&self.delegate.unwrap_or_default());
        w.u8(self.state as u8);
        w.u32(self.is_native.is_some().into());
        w.u64(self.is_native.unwrap_or(0));
        w.u64(self.delegated_amount);
        w.u32(self.close_authority.is_some().into());
        w.pubkey(&self.close_authority.unwrap_or_default());
        w.finish();
    }
}

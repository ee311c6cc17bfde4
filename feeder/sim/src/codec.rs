//! Account bytes in the programs' real layouts.
//!
//! The simulator's pools start from real mainnet snapshots (`feeder/sim/data/`, the project's
//! copies of `../shared/fixtures`), so every byte the feeder decodes is laid out exactly as on
//! chain; only the fields that move a price are rewritten: the `amount` of SPL Token vaults
//! (offset 64 of the 165-byte account; Token-2022 accounts share that base layout) and a
//! Whirlpool's `liquidity` (u128 at 49), `sqrt_price` (u128 at 65) and
//! `tick_current_index` (i32 at 81), from Orca's published `Whirlpool` account layout.

use crate::state::Address;
use base64::Engine as _;

/// SPL Token account: offset of `amount` (u64).
pub const TOKEN_AMOUNT: usize = 64;
/// SPL Token account: base length (Token-2022 accounts may be longer).
pub const TOKEN_ACCOUNT_LEN: usize = 165;
/// Whirlpool: offset of `liquidity` (u128).
pub const WHIRLPOOL_LIQUIDITY: usize = 49;
/// Whirlpool: offset of `sqrt_price` (u128, Q64.64).
pub const WHIRLPOOL_SQRT_PRICE: usize = 65;
/// Whirlpool: offset of `tick_current_index` (i32).
pub const WHIRLPOOL_TICK: usize = 81;
/// Whirlpool: account length.
pub const WHIRLPOOL_LEN: usize = 653;

/// Errors reading a snapshot.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Not the JSON the fixtures use.
    #[error("snapshot {name}: {why}")]
    Bad {
        /// Which snapshot.
        name: String,
        /// What is wrong.
        why: String,
    },
}

/// An account snapshot (`{"address", "owner", "data_base64", "lamports"?}`).
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Address.
    pub address: Address,
    /// Owning program.
    pub owner: Address,
    /// Lamports (0 when the snapshot has none).
    pub lamports: u64,
    /// Data.
    pub data: Vec<u8>,
}

/// Decode a base58 address.
pub fn address(b58: &str) -> Result<Address, String> {
    let v = bs58::decode(b58)
        .into_vec()
        .map_err(|e| format!("{b58:?}: {e}"))?;
    v.try_into()
        .map_err(|v: Vec<u8>| format!("{b58:?}: {} bytes, expected 32", v.len()))
}

/// Parse one snapshot file's JSON.
pub fn parse_snapshot(name: &str, json: &str) -> Result<Snapshot, SnapshotError> {
    let bad = |why: String| SnapshotError::Bad {
        name: name.to_owned(),
        why,
    };
    let v: serde_json::Value = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
    let field = |k: &str| {
        v.get(k)
            .and_then(|x| x.as_str())
            .ok_or_else(|| bad(format!("missing string field {k}")))
    };
    let data = base64::engine::general_purpose::STANDARD
        .decode(field("data_base64")?)
        .map_err(|e| bad(format!("data_base64: {e}")))?;
    Ok(Snapshot {
        address: address(field("address")?).map_err(bad)?,
        owner: address(field("owner")?).map_err(bad)?,
        lamports: v.get("lamports").and_then(|x| x.as_u64()).unwrap_or(0),
        data,
    })
}

/// Mint of an SPL Token account.
pub fn token_mint(data: &[u8]) -> Option<Address> {
    data.get(0..32)?.try_into().ok()
}

/// Rewrite the `amount` of an SPL Token (or Token-2022) account.
pub fn set_token_amount(data: &mut [u8], amount: u64) {
    data[TOKEN_AMOUNT..TOKEN_AMOUNT + 8].copy_from_slice(&amount.to_le_bytes());
}

/// `amount` of an SPL Token account.
pub fn token_amount(data: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(
        data.get(TOKEN_AMOUNT..TOKEN_AMOUNT + 8)?.try_into().ok()?,
    ))
}

/// A fresh, initialized SPL Token account (165 bytes) of `mint` owned by `owner`.
pub fn new_token_account(mint: &Address, owner: &Address, amount: u64) -> Vec<u8> {
    let mut d = vec![0u8; TOKEN_ACCOUNT_LEN];
    d[0..32].copy_from_slice(mint);
    d[32..64].copy_from_slice(owner);
    set_token_amount(&mut d, amount);
    d[108] = 1; // AccountState::Initialized
    d
}

/// Rewrite a Whirlpool's price fields.
pub fn set_whirlpool_price(data: &mut [u8], liquidity: u128, sqrt_price_x64: u128, tick: i32) {
    data[WHIRLPOOL_LIQUIDITY..WHIRLPOOL_LIQUIDITY + 16].copy_from_slice(&liquidity.to_le_bytes());
    data[WHIRLPOOL_SQRT_PRICE..WHIRLPOOL_SQRT_PRICE + 16]
        .copy_from_slice(&sqrt_price_x64.to_le_bytes());
    data[WHIRLPOOL_TICK..WHIRLPOOL_TICK + 4].copy_from_slice(&tick.to_le_bytes());
}

/// A Whirlpool's (liquidity, sqrt price, tick).
pub fn whirlpool_price(data: &[u8]) -> Option<(u128, u128, i32)> {
    let u128_at = |o: usize| -> Option<u128> {
        Some(u128::from_le_bytes(data.get(o..o + 16)?.try_into().ok()?))
    };
    let tick = i32::from_le_bytes(
        data.get(WHIRLPOOL_TICK..WHIRLPOOL_TICK + 4)?
            .try_into()
            .ok()?,
    );
    Some((
        u128_at(WHIRLPOOL_LIQUIDITY)?,
        u128_at(WHIRLPOOL_SQRT_PRICE)?,
        tick,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const WHIRLPOOL: &str = include_str!("../data/orca_whirlpool-Czfq3xZZ.json");
    const VAULT: &str = include_str!("../data/spl_token_account-DQyrAcCr.json");

    #[test]
    fn whirlpool_price_fields_are_where_the_layout_says_and_round_trip() {
        let mut s = parse_snapshot("whirlpool", WHIRLPOOL).unwrap();
        assert_eq!(s.data.len(), WHIRLPOOL_LEN);
        let (liq, sqrt, tick) = whirlpool_price(&s.data).unwrap();
        // The tick is floor(log_1.0001(price)): the three fields agree with each other.
        let price = (sqrt as f64 / 2f64.powi(64)).powi(2);
        assert_eq!(tick, (price.ln() / 1.0001f64.ln()).floor() as i32);
        assert!(liq > 0);
        set_whirlpool_price(&mut s.data, 7, 8 << 64, -5);
        assert_eq!(whirlpool_price(&s.data), Some((7, 8 << 64, -5)));
    }

    #[test]
    fn token_amount_round_trips_and_new_accounts_are_initialized() {
        let mut s = parse_snapshot("vault", VAULT).unwrap();
        assert_eq!(s.data.len(), TOKEN_ACCOUNT_LEN);
        let mint = token_mint(&s.data).unwrap();
        // wSOL mint So111...
        assert_eq!(
            bs58::encode(mint).into_string(),
            "So11111111111111111111111111111111111111112"
        );
        set_token_amount(&mut s.data, 42);
        assert_eq!(token_amount(&s.data), Some(42));
        let fresh = new_token_account(&mint, &[3; 32], 9);
        assert_eq!(
            (fresh.len(), token_amount(&fresh), fresh[108]),
            (165, Some(9), 1)
        );
    }

    #[test]
    fn bad_snapshots_are_errors_not_panics() {
        assert!(parse_snapshot("x", "{}").is_err());
        assert!(parse_snapshot("x", "not json").is_err());
        assert!(parse_snapshot("x", r#"{"address":"1","owner":"1","data_base64":"!!"}"#).is_err());
    }
}

//! Other traders: with an embedded SVM, the random walk's moves of an executed pool are
//! swaps, built here, signed by the simulator's own trader (a wallet funded like
//! `--fund-wallet`) and executed on the real program like any sent transaction. A step of the
//! walk gives a pool's target price; the trade that reaches it is:
//! - Raydium CPMM: `swap_base_input` of the amount that brings the constant product to the
//!   target reserves (the 0.25 % trade fee added);
//! - Orca Whirlpool: `swap` (exact input, the trader's whole balance offered) with the target
//!   as `sqrt_price_limit`, so the program stops at it.
//!
//! The walk then reads the pool back from its accounts: what the program did is the market.

use crate::pda;
use crate::state::{Address, State};
use crate::world::{Kind, WorldPool};
use ed25519_dalek::{Signer as _, SigningKey};
use sha2::{Digest, Sha256};

/// One account of an instruction.
#[derive(Debug, Clone, Copy)]
struct Meta {
    key: Address,
    writable: bool,
}

fn anchor_ix(name: &str) -> [u8; 8] {
    let h = Sha256::digest(format!("global:{name}").as_bytes());
    let mut d = [0u8; 8];
    d.copy_from_slice(&h[..8]);
    d
}

fn addr_at(data: &[u8], off: usize) -> Option<Address> {
    data.get(off..off + 32)?.try_into().ok()
}

fn compact_u16(out: &mut Vec<u8>, mut v: usize) {
    loop {
        let mut b = (v & 0x7f) as u8;
        v >>= 7;
        if v != 0 {
            b |= 0x80;
        }
        out.push(b);
        if v == 0 {
            return;
        }
    }
}

/// The simulator's trader.
pub struct Trader {
    key: SigningKey,
    /// Its address (fund it with [`crate::world::fund_wallet`]).
    pub address: Address,
}

impl Trader {
    /// A trader whose key follows from `seed` (same seed, same market).
    pub fn new(seed: u64) -> Self {
        let mut secret = [0u8; 32];
        for (i, c) in secret.chunks_mut(8).enumerate() {
            c.copy_from_slice(
                &phantom_ringbuf::schema::splitmix64(seed ^ 0x7AADE5 ^ i as u64).to_le_bytes(),
            );
        }
        let key = SigningKey::from_bytes(&secret);
        let address = key.verifying_key().to_bytes();
        Trader { key, address }
    }

    /// A signed legacy transaction of one instruction (`program`, `metas`, `data`), the
    /// trader paying.
    fn transaction(
        &self,
        program: Address,
        metas: &[Meta],
        data: &[u8],
        blockhash: &[u8; 32],
    ) -> Vec<u8> {
        // Keys: the payer (signer, writable), writable others, read-only others (the program
        // last among them).
        let mut writable: Vec<Address> = Vec::new();
        let mut readonly: Vec<Address> = Vec::new();
        for m in metas {
            if m.key == self.address {
                continue;
            }
            if m.writable {
                readonly.retain(|k| *k != m.key);
                if !writable.contains(&m.key) {
                    writable.push(m.key);
                }
            } else if !writable.contains(&m.key) && !readonly.contains(&m.key) {
                readonly.push(m.key);
            }
        }
        if !readonly.contains(&program) {
            readonly.push(program);
        }
        let keys: Vec<Address> = std::iter::once(self.address)
            .chain(writable.iter().copied())
            .chain(readonly.iter().copied())
            .collect();
        let index = |k: &Address| keys.iter().position(|x| x == k).unwrap_or(0) as u8;
        let mut msg = vec![1u8, 0, readonly.len() as u8];
        compact_u16(&mut msg, keys.len());
        for k in &keys {
            msg.extend_from_slice(k);
        }
        msg.extend_from_slice(blockhash);
        compact_u16(&mut msg, 1);
        msg.push(index(&program));
        compact_u16(&mut msg, metas.len());
        for m in metas {
            msg.push(index(&m.key));
        }
        compact_u16(&mut msg, data.len());
        msg.extend_from_slice(data);
        let sig = self.key.sign(&msg).to_bytes();
        let mut wire = vec![1u8];
        wire.extend_from_slice(&sig);
        wire.extend_from_slice(&msg);
        wire
    }

    fn balance(&self, state: &State, program: &Address, mint: &Address) -> u64 {
        let ata = pda::associated_token_account(&self.address, program, mint);
        state
            .account(&ata)
            .and_then(|a| crate::codec::token_amount(&a.data))
            .unwrap_or(0)
    }

    /// The swap that moves `pool` to `target` (the walk's new state of it), or None when the
    /// pool is already there (or its accounts are not what the kind needs).
    pub fn trade(
        &self,
        state: &State,
        pool: &WorldPool,
        target: &crate::market::SimPool,
    ) -> Option<Vec<u8>> {
        let account = state.account_at(pool.accounts[0])?;
        let d = &account.data;
        let (blockhash, _) = state.latest_blockhash();
        match pool.kind {
            Kind::RaydiumCpmm => {
                let amount = |k: usize| {
                    state
                        .account_at(pool.accounts[k])
                        .and_then(|a| crate::codec::token_amount(&a.data))
                };
                let (ra, rb) = (amount(1)?, amount(2)?);
                let (ta, tb) = (target.reserve_a, target.reserve_b);
                // Input grossed up for the 0.25 % trade fee the program takes.
                let gross = |x: u64| x.saturating_mul(1_000_000) / 997_500;
                let (a_to_b, amount_in) = if ta > ra {
                    (true, gross(ta - ra))
                } else if tb > rb {
                    (false, gross(tb - rb))
                } else {
                    return None;
                };
                if amount_in == 0 {
                    return None;
                }
                let mints = [addr_at(d, 168)?, addr_at(d, 200)?];
                let vaults = [addr_at(d, 72)?, addr_at(d, 104)?];
                let programs = [addr_at(d, 232)?, addr_at(d, 264)?];
                let (i, o) = if a_to_b { (0, 1) } else { (1, 0) };
                let ata = |k: usize| {
                    pda::associated_token_account(&self.address, &programs[k], &mints[k])
                };
                let m = |key: Address, writable: bool| Meta { key, writable };
                let metas = [
                    m(self.address, false),
                    m(pda::cpmm_authority().0, false),
                    m(addr_at(d, 8)?, false),
                    m(account.address, true),
                    m(ata(i), true),
                    m(ata(o), true),
                    m(vaults[i], true),
                    m(vaults[o], true),
                    m(programs[i], false),
                    m(programs[o], false),
                    m(mints[i], false),
                    m(mints[o], false),
                    m(addr_at(d, 296)?, true),
                ];
                let mut data = anchor_ix("swap_base_input").to_vec();
                data.extend_from_slice(&amount_in.to_le_bytes());
                data.extend_from_slice(&0u64.to_le_bytes());
                Some(self.transaction(pda::raydium_cpmm(), &metas, &data, &blockhash))
            }
            Kind::OrcaWhirlpool => {
                let (_, sqrt_now, tick) = crate::codec::whirlpool_price(d)?;
                let target_sqrt = target.sqrt_price_x64;
                if target_sqrt == sqrt_now {
                    return None;
                }
                let a_to_b = target_sqrt < sqrt_now;
                let spacing = u16::from_le_bytes(d.get(41..43)?.try_into().ok()?);
                let width = crate::layouts::TICK_ARRAY_SIZE * i32::from(spacing.max(1));
                let start = crate::layouts::tick_array_start(tick, spacing);
                let step = if a_to_b { -width } else { width };
                // One swap crosses at most the three tick arrays it names: a target beyond
                // them is reached over several steps.
                let sqrt_at = |t: i32| (1.0001f64.powf(f64::from(t) / 2.0) * 2f64.powi(64)) as u128;
                let gap = i32::from(spacing.max(1));
                let limit = if a_to_b {
                    target_sqrt.max(sqrt_at(start - 2 * width + gap))
                } else {
                    target_sqrt.min(sqrt_at(start + 3 * width - gap))
                };
                let arrays: Vec<Address> = (0..3)
                    .map(|k| pda::whirlpool_tick_array(&account.address, start + k * step))
                    .collect();
                let (mint_a, mint_b) = (addr_at(d, 101)?, addr_at(d, 181)?);
                let token = pda::token_program();
                let input = if a_to_b { mint_a } else { mint_b };
                let amount = self.balance(state, &token, &input);
                if amount == 0 {
                    return None;
                }
                let m = |key: Address, writable: bool| Meta { key, writable };
                let metas = [
                    m(token, false),
                    m(self.address, false),
                    m(account.address, true),
                    m(
                        pda::associated_token_account(&self.address, &token, &mint_a),
                        true,
                    ),
                    m(addr_at(d, 133)?, true),
                    m(
                        pda::associated_token_account(&self.address, &token, &mint_b),
                        true,
                    ),
                    m(addr_at(d, 213)?, true),
                    m(arrays[0], true),
                    m(arrays[1], true),
                    m(arrays[2], true),
                    m(pda::whirlpool_oracle(&account.address), true),
                ];
                let mut data = anchor_ix("swap").to_vec();
                data.extend_from_slice(&amount.to_le_bytes());
                data.extend_from_slice(&0u64.to_le_bytes());
                data.extend_from_slice(&limit.to_le_bytes());
                data.push(1); // amount_specified_is_input
                data.push(u8::from(a_to_b));
                Some(self.transaction(pda::orca_whirlpool(), &metas, &data, &blockhash))
            }
            Kind::RaydiumAmmV4 => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transactions_parse_and_verify() {
        let t = Trader::new(1);
        let program = [7u8; 32];
        let metas = [
            Meta {
                key: [1; 32],
                writable: false,
            },
            Meta {
                key: [2; 32],
                writable: true,
            },
            Meta {
                key: t.address,
                writable: false,
            },
            Meta {
                key: [1; 32],
                writable: true,
            },
        ];
        let wire = t.transaction(program, &metas, &[9, 9], &[5; 32]);
        let info = crate::svm::parse_tx(&wire).expect("parses");
        assert_eq!(info.programs, vec![program]);
        assert_eq!(info.blockhash, [5; 32]);
        let msg = &wire[65..];
        // Header: 1 signer, 0 read-only signers, 1 read-only non-signer (the program: [1; 32]
        // is writable through its second use).
        assert_eq!(&msg[..3], &[1, 0, 1]);
        let key = ed25519_dalek::VerifyingKey::from_bytes(&t.address).expect("key");
        let sig = ed25519_dalek::Signature::from_bytes(&info.signature);
        assert!(key.verify_strict(msg, &sig).is_ok());
    }
}

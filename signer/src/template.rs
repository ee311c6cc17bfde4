//! Route templates: a route compiled once into wire bytes, patched and signed per trade.
//!
//! A route's instructions (compute-unit limit, compute-unit price, its legs, an optional Jito
//! tip) are compiled into a v0 message with the route's address lookup tables, then serialized
//! here, recording the byte offset of every field a trade changes: each leg's amount in and
//! minimum out, the compute-unit price, the tip lamports and the recent blockhash. A trade
//! writes those fields in place, signs the message bytes and writes `[1, signature, message]`
//! (the wire transaction) into a caller's buffer: no allocation, no re-encoding.
//!
//! Whirlpool legs need the tick arrays around the current price, which moves. A route keeps
//! one template per combination of its Whirlpool legs' configured tick-array variants; an
//! intent picks one by index ([`RouteTemplate::variant_for_start_ticks`] maps the current
//! tick-array start indices to it).

use crate::config::RouteConfig;
use crate::programs::{self, LegAccounts, PatchableInstruction, ProgramKind};
use crate::signing::{Signer, SIGNATURE_LEN};
use phantom_ringbuf::records::OrderIntent;
use solana_address::Address;
use solana_hash::Hash;
use solana_message::v0;
use solana_message::AddressLookupTableAccount;
use std::collections::BTreeMap;

/// Largest serialized transaction the network accepts (IPv6 MTU less headers).
pub const PACKET_DATA_SIZE: usize = 1232;
/// First byte of a versioned message: the high bit set, version 0.
pub const V0_PREFIX: u8 = 0x80;

/// What a trade fills into a template.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TradeFields {
    /// Per-leg amount in, raw units (unused legs ignored).
    pub amount_in: [u64; 3],
    /// Per-leg minimum out, raw units (ignored for transfers).
    pub min_out: [u64; 3],
    /// Compute-unit price, micro-lamports.
    pub cu_price_micro_lamports: u64,
    /// Jito tip, lamports; must be 0 on a route without a tip account.
    pub tip_lamports: u64,
    /// Template variant (tick arrays), see [`RouteTemplate::variant_for_start_ticks`].
    pub variant: u32,
}

impl From<&OrderIntent> for TradeFields {
    fn from(i: &OrderIntent) -> Self {
        TradeFields {
            amount_in: i.amount_in,
            min_out: i.min_out,
            cu_price_micro_lamports: i.cu_price_micro_lamports,
            tip_lamports: i.tip_lamports,
            variant: i.tick_array_variant,
        }
    }
}

/// Why a route could not be compiled.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TemplateError {
    /// A leg's instruction could not be built.
    #[error("{key}.{source}")]
    Build {
        /// `routes[i].legs[j]`.
        key: String,
        /// Why.
        source: programs::BuildError,
    },
    /// The message could not be compiled (e.g. too many accounts).
    #[error("{key}: cannot compile the message: {message}")]
    Compile {
        /// `routes[i]`.
        key: String,
        /// The compiler's reason.
        message: String,
    },
    /// The wire transaction would exceed [`PACKET_DATA_SIZE`].
    #[error(
        "{key}: the transaction is {len} bytes, over the {PACKET_DATA_SIZE}-byte limit; \
         add its accounts to an address lookup table"
    )]
    TooLarge {
        /// `routes[i]`.
        key: String,
        /// Wire bytes.
        len: usize,
    },
    /// Something other than the fee payer would have to sign.
    #[error("{key}: the message needs {signers} signers; only the fee payer signs")]
    ExtraSigners {
        /// `routes[i]`.
        key: String,
        /// Required signatures.
        signers: u8,
    },
}

/// Why a trade could not be signed. Carries no heap data: building it must not allocate.
#[derive(Clone, Copy, Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignError {
    /// The intent names a variant the route does not have.
    #[error("tick-array variant {variant} out of range (route has {count})")]
    NoSuchVariant {
        /// Asked for.
        variant: u32,
        /// Available.
        count: usize,
    },
    /// The output buffer is shorter than the transaction.
    #[error("output buffer of {have} bytes, transaction needs {need}")]
    BufferTooSmall {
        /// Needed.
        need: usize,
        /// Given.
        have: usize,
    },
    /// A tip was asked for on a route without a tip account.
    #[error("tip requested on a route without a tip account")]
    NoTipAccount,
    /// The signer's key is not the key the template was built for.
    #[error("signer key differs from the route's fee payer")]
    WrongSigner,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct LegOffsets {
    amount: Option<usize>,
    min_out: Option<usize>,
}

/// One compiled message and where its patchable fields lie (offsets into `message`).
#[derive(Clone, Debug)]
struct MessageTemplate {
    message: Vec<u8>,
    blockhash: usize,
    cu_price: usize,
    tip: Option<usize>,
    legs: [LegOffsets; 3],
    /// Tick-array start index per Whirlpool leg, in leg order.
    start_ticks: Vec<i32>,
}

/// A route compiled into one template per tick-array variant.
#[derive(Clone, Debug)]
pub struct RouteTemplate {
    route_id: u32,
    payer: Address,
    variants: Vec<MessageTemplate>,
}

/// A compiled message's serialization and the offset of each instruction's data.
struct Serialized {
    bytes: Vec<u8>,
    blockhash: usize,
    ix_data: Vec<usize>,
}

fn push_compact_u16(buf: &mut Vec<u8>, mut n: usize) {
    debug_assert!(n <= u16::MAX as usize);
    loop {
        let mut byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            buf.push(byte);
            return;
        }
        byte |= 0x80;
        buf.push(byte);
    }
}

/// Serializes a v0 message as the runtime reads it (`0x80`, header, compact-u16 arrays),
/// noting offsets. The tests check the result with `solana-transaction`'s own deserializer.
fn serialize_v0(m: &v0::Message) -> Serialized {
    let mut b = Vec::with_capacity(PACKET_DATA_SIZE);
    b.push(V0_PREFIX);
    b.push(m.header.num_required_signatures);
    b.push(m.header.num_readonly_signed_accounts);
    b.push(m.header.num_readonly_unsigned_accounts);
    push_compact_u16(&mut b, m.account_keys.len());
    for k in &m.account_keys {
        b.extend_from_slice(k.as_ref());
    }
    let blockhash = b.len();
    b.extend_from_slice(m.recent_blockhash.as_ref());
    push_compact_u16(&mut b, m.instructions.len());
    let mut ix_data = Vec::with_capacity(m.instructions.len());
    for ix in &m.instructions {
        b.push(ix.program_id_index);
        push_compact_u16(&mut b, ix.accounts.len());
        b.extend_from_slice(&ix.accounts);
        push_compact_u16(&mut b, ix.data.len());
        ix_data.push(b.len());
        b.extend_from_slice(&ix.data);
    }
    push_compact_u16(&mut b, m.address_table_lookups.len());
    for l in &m.address_table_lookups {
        b.extend_from_slice(l.account_key.as_ref());
        push_compact_u16(&mut b, l.writable_indexes.len());
        b.extend_from_slice(&l.writable_indexes);
        push_compact_u16(&mut b, l.readonly_indexes.len());
        b.extend_from_slice(&l.readonly_indexes);
    }
    Serialized {
        bytes: b,
        blockhash,
        ix_data,
    }
}

/// Builds one leg's instruction from its named accounts (`tick_arrays`: Whirlpool legs).
pub fn build_leg(
    leg: &crate::config::LegConfig,
    accounts: &BTreeMap<String, Address>,
    payer: Address,
    tick_arrays: [Address; 3],
) -> Result<PatchableInstruction, programs::BuildError> {
    let named = LegAccounts::new(leg.kind(), accounts);
    let program_id = leg.program_id();
    let direction = leg.direction.unwrap_or(programs::Direction::AToB);
    match leg.kind() {
        ProgramKind::RaydiumAmmV4 => {
            programs::raydium_amm_v4::swap_base_in_v2(program_id, &named, payer, direction)
        }
        ProgramKind::RaydiumCpmm => {
            programs::raydium_cpmm::swap_base_input(program_id, &named, payer, direction)
        }
        ProgramKind::OrcaWhirlpool => {
            programs::orca_whirlpool::swap(program_id, &named, payer, direction, tick_arrays)
        }
        ProgramKind::SplTransfer => programs::spl_token::transfer(program_id, &named, payer),
    }
}

/// Decodes a mixed-radix variant index into one choice per Whirlpool leg.
fn variant_choices(mut v: usize, radices: &[usize]) -> Vec<usize> {
    radices
        .iter()
        .map(|&n| {
            let c = v % n;
            v /= n;
            c
        })
        .collect()
}

impl RouteTemplate {
    /// Compiles route `route_id` for the fee payer `payer` (the signer's public key).
    pub fn build(
        route_id: u32,
        route: &RouteConfig,
        payer: Address,
    ) -> Result<Self, TemplateError> {
        let key = format!("routes[{route_id}]");
        let alts: Vec<AddressLookupTableAccount> = route
            .address_lookup_tables
            .iter()
            .map(|t| AddressLookupTableAccount {
                key: t.address.0,
                addresses: t.addresses.iter().map(|a| a.0).collect(),
            })
            .collect();
        let accounts: Vec<BTreeMap<String, Address>> = route
            .legs
            .iter()
            .map(|leg| leg.accounts.iter().map(|(k, v)| (k.clone(), v.0)).collect())
            .collect();
        // Whirlpool legs in leg order, and how many variants each has.
        let whirlpool_legs: Vec<usize> = (0..route.legs.len())
            .filter(|&j| route.legs[j].kind() == ProgramKind::OrcaWhirlpool)
            .collect();
        let radices: Vec<usize> = whirlpool_legs
            .iter()
            .map(|&j| route.legs[j].tick_array_variants.len().max(1))
            .collect();
        let count: usize = radices.iter().product();

        let mut variants = Vec::with_capacity(count);
        for v in 0..count {
            let choices = variant_choices(v, &radices);
            let mut ixs: Vec<PatchableInstruction> = Vec::with_capacity(route.legs.len() + 3);
            ixs.push(PatchableInstruction {
                instruction: programs::compute_budget::set_compute_unit_limit(
                    route.compute_unit_limit,
                ),
                amount_offset: None,
                min_out_offset: None,
            });
            ixs.push(programs::compute_budget::set_compute_unit_price());
            let mut start_ticks = Vec::with_capacity(whirlpool_legs.len());
            for (j, leg) in route.legs.iter().enumerate() {
                let arrays = if leg.kind() == ProgramKind::OrcaWhirlpool {
                    let w = whirlpool_legs.iter().position(|&x| x == j).unwrap_or(0);
                    let chosen = leg.tick_array_variants.get(choices[w]);
                    start_ticks.push(chosen.map_or(0, |c| c.start_tick_index));
                    chosen.map_or([Address::default(); 3], |c| {
                        let get =
                            |i: usize| c.tick_arrays.get(i).map_or(Address::default(), |a| a.0);
                        [get(0), get(1), get(2)]
                    })
                } else {
                    [Address::default(); 3]
                };
                let built = build_leg(leg, &accounts[j], payer, arrays).map_err(|source| {
                    TemplateError::Build {
                        key: format!("{key}.legs[{j}]"),
                        source,
                    }
                })?;
                ixs.push(built);
            }
            if let Some(tip) = route.tip_account {
                ixs.push(programs::system::transfer(payer, tip.0));
            }
            let plain: Vec<_> = ixs.iter().map(|p| p.instruction.clone()).collect();
            let message = v0::Message::try_compile(&payer, &plain, &alts, Hash::default())
                .map_err(|e| TemplateError::Compile {
                    key: key.clone(),
                    message: e.to_string(),
                })?;
            if message.header.num_required_signatures != 1 {
                return Err(TemplateError::ExtraSigners {
                    key,
                    signers: message.header.num_required_signatures,
                });
            }
            let s = serialize_v0(&message);
            let wire = 1 + SIGNATURE_LEN + s.bytes.len();
            if wire > PACKET_DATA_SIZE {
                return Err(TemplateError::TooLarge { key, len: wire });
            }
            let field = |ix: usize, off: Option<usize>| off.map(|o| s.ix_data[ix] + o);
            let mut legs = [LegOffsets::default(); 3];
            for (j, leg) in legs.iter_mut().enumerate().take(route.legs.len()) {
                *leg = LegOffsets {
                    amount: field(2 + j, ixs[2 + j].amount_offset),
                    min_out: field(2 + j, ixs[2 + j].min_out_offset),
                };
            }
            let cu_price = field(1, ixs[1].amount_offset).unwrap_or(0);
            let tip = route
                .tip_account
                .and_then(|_| field(ixs.len() - 1, ixs[ixs.len() - 1].amount_offset));
            variants.push(MessageTemplate {
                blockhash: s.blockhash,
                message: s.bytes,
                cu_price,
                tip,
                legs,
                start_ticks,
            });
        }
        Ok(RouteTemplate {
            route_id,
            payer,
            variants,
        })
    }

    /// The route id (position in `[[routes]]`).
    pub fn route_id(&self) -> u32 {
        self.route_id
    }

    /// Number of templates (tick-array variants); 1 for routes without Whirlpool legs.
    pub fn variant_count(&self) -> usize {
        self.variants.len()
    }

    /// The variant whose Whirlpool legs' tick arrays start at `start_ticks` (one entry per
    /// Whirlpool leg, in leg order), if one was configured.
    pub fn variant_for_start_ticks(&self, start_ticks: &[i32]) -> Option<u32> {
        self.variants
            .iter()
            .position(|t| t.start_ticks == start_ticks)
            .and_then(|v| u32::try_from(v).ok())
    }

    /// Wire length of a transaction from `variant`, if it exists.
    pub fn wire_len(&self, variant: u32) -> Option<usize> {
        self.variants
            .get(variant as usize)
            .map(|t| 1 + SIGNATURE_LEN + t.message.len())
    }

    /// Patches `fields` and `blockhash` into the template, signs, and writes the wire
    /// transaction (`[1, signature, message]`) to the start of `out`; returns its length.
    /// Allocation-free.
    pub fn sign_into(
        &mut self,
        fields: &TradeFields,
        blockhash: &[u8; 32],
        signer: &mut Signer,
        out: &mut [u8],
    ) -> Result<usize, SignError> {
        let count = self.variants.len();
        let t = self
            .variants
            .get_mut(fields.variant as usize)
            .ok_or(SignError::NoSuchVariant {
                variant: fields.variant,
                count,
            })?;
        let need = 1 + SIGNATURE_LEN + t.message.len();
        if out.len() < need {
            return Err(SignError::BufferTooSmall {
                need,
                have: out.len(),
            });
        }
        if signer.public_key() != self.payer.to_bytes() {
            return Err(SignError::WrongSigner);
        }
        match t.tip {
            Some(at) => programs::put_u64(&mut t.message, at, fields.tip_lamports),
            None if fields.tip_lamports != 0 => return Err(SignError::NoTipAccount),
            None => {}
        }
        for (j, leg) in t.legs.iter().enumerate() {
            if let Some(at) = leg.amount {
                programs::put_u64(&mut t.message, at, fields.amount_in[j]);
            }
            if let Some(at) = leg.min_out {
                programs::put_u64(&mut t.message, at, fields.min_out[j]);
            }
        }
        programs::put_u64(&mut t.message, t.cu_price, fields.cu_price_micro_lamports);
        t.message[t.blockhash..t.blockhash + 32].copy_from_slice(blockhash);
        let signature = signer.sign(&t.message);
        out[0] = 1;
        out[1..1 + SIGNATURE_LEN].copy_from_slice(&signature);
        out[1 + SIGNATURE_LEN..need].copy_from_slice(&t.message);
        Ok(need)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::sample_toml;
    use crate::config::Config;
    use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
    use solana_message::VersionedMessage;
    use solana_transaction::versioned::VersionedTransaction;

    fn setup() -> (Config, Signer, Address) {
        let config = Config::from_toml_str(&sample_toml()).expect("config");
        let key = SigningKey::from_bytes(&[42; 32]);
        let signer = Signer::rfc8032(key);
        let payer = Address::new_from_array(signer.public_key());
        (config, signer, payer)
    }

    fn parse(wire: &[u8]) -> VersionedTransaction {
        bincode::deserialize(wire).expect("solana-transaction parses the wire bytes")
    }

    fn fields() -> TradeFields {
        TradeFields {
            amount_in: [1_000_000_007, 2_000_000_011, 3_000_000_019],
            min_out: [900_000_001, 1_800_000_003, 2_700_000_005],
            cu_price_micro_lamports: 12_345,
            tip_lamports: 10_001,
            variant: 1,
        }
    }

    #[test]
    fn compact_u16_matches_the_short_vec_encoding() {
        for n in [0usize, 1, 127, 128, 255, 256, 16383, 16384, 65535] {
            let mut ours = Vec::new();
            push_compact_u16(&mut ours, n);
            let theirs = bincode::serialize(&solana_short_vec::ShortU16(n as u16)).expect("ser");
            assert_eq!(ours, theirs, "{n}");
        }
    }

    #[test]
    fn three_leg_route_signs_into_a_valid_transaction() {
        let (config, mut signer, payer) = setup();
        let mut t = RouteTemplate::build(0, &config.routes[0], payer).expect("template");
        assert_eq!(t.variant_count(), 2);
        let blockhash = [7u8; 32];
        let f = fields();
        let mut out = [0u8; PACKET_DATA_SIZE];
        let n = t
            .sign_into(&f, &blockhash, &mut signer, &mut out)
            .expect("signed");
        assert!(n <= PACKET_DATA_SIZE, "{n} bytes");
        let tx = parse(&out[..n]);
        assert_eq!(
            bincode::serialize(&tx).expect("ser"),
            out[..n].to_vec(),
            "round trip"
        );

        // Signature verifies over the message bytes, with the fee payer's key.
        let msg_bytes = &out[1 + SIGNATURE_LEN..n];
        let vk = VerifyingKey::from_bytes(&signer.public_key()).expect("vk");
        let sig = Signature::from_bytes(&tx.signatures[0].into());
        vk.verify_strict(msg_bytes, &sig)
            .expect("signature verifies");

        let VersionedMessage::V0(m) = &tx.message else {
            panic!("not a v0 message")
        };
        assert_eq!(m.header.num_required_signatures, 1);
        assert_eq!(m.account_keys[0], payer, "fee payer first");
        assert_eq!(m.recent_blockhash.to_bytes(), blockhash);
        assert_eq!(m.address_table_lookups.len(), 1);
        let ixs = &m.instructions;
        assert_eq!(ixs.len(), 6, "limit, price, 3 legs, tip");
        let program = |i: usize| m.account_keys[ixs[i].program_id_index as usize];
        assert_eq!(program(0), programs::ids::COMPUTE_BUDGET);
        assert_eq!(
            ixs[0].data,
            [&[2u8][..], &600_000u32.to_le_bytes()].concat()
        );
        assert_eq!(ixs[1].data, [&[3u8][..], &12_345u64.to_le_bytes()].concat());
        assert_eq!(program(2), programs::ids::RAYDIUM_AMM_V4);
        assert_eq!(
            ixs[2].data,
            [
                &[16u8][..],
                &f.amount_in[0].to_le_bytes(),
                &f.min_out[0].to_le_bytes()
            ]
            .concat()
        );
        assert_eq!(ixs[2].accounts.len(), 8);
        assert_eq!(program(3), programs::ids::RAYDIUM_CPMM);
        assert_eq!(
            ixs[3].data,
            [
                &programs::anchor_discriminator("swap_base_input")[..],
                &f.amount_in[1].to_le_bytes(),
                &f.min_out[1].to_le_bytes()
            ]
            .concat()
        );
        assert_eq!(ixs[3].accounts.len(), 13);
        assert_eq!(program(4), programs::ids::ORCA_WHIRLPOOL);
        let w = &ixs[4].data;
        assert_eq!(&w[..8], &programs::anchor_discriminator("swap"));
        assert_eq!(w[8..16], f.amount_in[2].to_le_bytes());
        assert_eq!(w[16..24], f.min_out[2].to_le_bytes());
        assert_eq!(
            u128::from_le_bytes(w[24..40].try_into().expect("16")),
            programs::orca_whirlpool::MIN_SQRT_PRICE_X64
        );
        assert_eq!((w[40], w[41]), (1, 1), "exact input, a_to_b");
        assert_eq!(ixs[4].accounts.len(), 11);
        assert_eq!(program(5), programs::ids::SYSTEM);
        assert_eq!(
            ixs[5].data,
            [&2u32.to_le_bytes()[..], &10_001u64.to_le_bytes()].concat()
        );
    }

    #[test]
    fn serializer_agrees_with_solana_messages_own_serializer() {
        let (config, mut signer, payer) = setup();
        for (id, route) in config.routes.iter().enumerate() {
            let mut t = RouteTemplate::build(id as u32, route, payer).expect("template");
            for variant in 0..t.variant_count() as u32 {
                let mut out = [0u8; PACKET_DATA_SIZE];
                let f = TradeFields {
                    variant,
                    tip_lamports: 0,
                    ..fields()
                };
                let n = t
                    .sign_into(&f, &[9; 32], &mut signer, &mut out)
                    .expect("signed");
                let tx = parse(&out[..n]);
                // solana-message's serde encoding of the parsed message is byte-identical.
                let theirs = bincode::serialize(&tx.message).expect("ser");
                assert_eq!(
                    theirs,
                    out[1 + SIGNATURE_LEN..n].to_vec(),
                    "route {id} v{variant}"
                );
                assert_eq!(t.wire_len(variant), Some(n));
            }
        }
    }

    #[test]
    fn three_leg_route_with_lookup_table_fits_a_packet() {
        let (config, _, payer) = setup();
        let t = RouteTemplate::build(0, &config.routes[0], payer).expect("template");
        let len = t.wire_len(0).expect("variant 0");
        // 3 legs (18 + 13 + 11 accounts), compute budget and tip: 690 bytes with the pools'
        // accounts in the lookup table (programs, signer, user token accounts, the SPL Token
        // id and the tip account stay static); over the limit without (see the refusal test).
        assert!(len <= PACKET_DATA_SIZE, "{len}");
        assert!(len < 800, "{len}");
    }

    #[test]
    fn accounts_follow_each_programs_order_and_writability() {
        let (config, mut signer, payer) = setup();
        let mut t = RouteTemplate::build(0, &config.routes[0], payer).expect("template");
        let mut out = [0u8; PACKET_DATA_SIZE];
        let n = t
            .sign_into(&fields(), &[1; 32], &mut signer, &mut out)
            .expect("signed");
        let tx = parse(&out[..n]);
        let VersionedMessage::V0(m) = &tx.message else {
            panic!("v0")
        };
        // Resolve every account index to (address, writable) through the lookup table.
        let alt = &config.routes[0].address_lookup_tables[0];
        let lookup = &m.address_table_lookups[0];
        let mut keys: Vec<(Address, bool)> = Vec::new();
        let n_static = m.account_keys.len();
        let h = m.header;
        for (i, k) in m.account_keys.iter().enumerate() {
            let signed = i < h.num_required_signatures as usize;
            let writable = if signed {
                i < (h.num_required_signatures - h.num_readonly_signed_accounts) as usize
            } else {
                i < n_static - h.num_readonly_unsigned_accounts as usize
            };
            keys.push((*k, writable));
        }
        for &i in &lookup.writable_indexes {
            keys.push((alt.addresses[i as usize].0, true));
        }
        for &i in &lookup.readonly_indexes {
            keys.push((alt.addresses[i as usize].0, false));
        }
        let a = |n: u8| Address::new_from_array([n; 32]);
        let metas = |ix: usize| -> Vec<(Address, bool)> {
            m.instructions[ix]
                .accounts
                .iter()
                .map(|&k| keys[k as usize])
                .collect()
        };
        // Raydium v4 SwapBaseInV2, a_to_b: source = user_token_a (2), destination = b (3).
        let v4 = metas(2);
        let expect_v4 = [
            (programs::ids::SPL_TOKEN, false),
            (a(10), true),
            (a(11), false),
            (a(14), true),
            (a(15), true),
            (a(2), true),
            (a(3), true),
            (payer, true),
        ];
        assert_eq!(v4, expect_v4);
        // CPMM swap_base_input, b_to_a: input side is token 1.
        let cpmm = metas(3);
        let expect_cpmm = [
            (payer, true),
            (a(30), false),
            (a(31), false),
            (a(32), true),
            (a(3), true),
            (a(4), true),
            (a(34), true),
            (a(33), true),
            (programs::ids::SPL_TOKEN, false),
            (programs::ids::SPL_TOKEN, false),
            (a(36), false),
            (a(35), false),
            (a(37), true),
        ];
        assert_eq!(cpmm, expect_cpmm);
        // Whirlpool swap, variant 1: tick arrays 45, 46, 47.
        let wp = metas(4);
        let expect_wp = [
            (programs::ids::SPL_TOKEN, false),
            (payer, true),
            (a(40), true),
            (a(4), true),
            (a(41), true),
            (a(2), true),
            (a(42), true),
            (a(45), true),
            (a(46), true),
            (a(47), true),
            (a(43), true),
        ];
        assert_eq!(wp, expect_wp);
        assert_eq!(metas(5), [(payer, true), (a(90), true)]);
        assert_eq!(m.header.num_required_signatures, 1);
        assert!(m
            .instructions
            .iter()
            .all(|ix| (ix.program_id_index as usize) < n_static));
    }

    #[test]
    fn variants_are_keyed_by_tick_array_start() {
        let (config, _, payer) = setup();
        let t = RouteTemplate::build(0, &config.routes[0], payer).expect("template");
        assert_eq!(t.variant_for_start_ticks(&[-5632]), Some(0));
        assert_eq!(t.variant_for_start_ticks(&[0]), Some(1));
        assert_eq!(t.variant_for_start_ticks(&[5632]), None);
        let plain = RouteTemplate::build(1, &config.routes[1], payer).expect("template");
        assert_eq!(plain.variant_count(), 1);
        assert_eq!(plain.variant_for_start_ticks(&[]), Some(0));
    }

    #[test]
    fn spl_transfer_route_patches_the_amount() {
        let (config, mut signer, payer) = setup();
        let mut t = RouteTemplate::build(1, &config.routes[1], payer).expect("template");
        let mut out = [0u8; PACKET_DATA_SIZE];
        let f = TradeFields {
            amount_in: [777, 0, 0],
            ..TradeFields::default()
        };
        let n = t
            .sign_into(&f, &[3; 32], &mut signer, &mut out)
            .expect("signed");
        let tx = parse(&out[..n]);
        let ix = &tx.message.instructions()[2];
        assert_eq!(ix.data, [&[3u8][..], &777u64.to_le_bytes()].concat());
        assert_eq!(
            tx.message.static_account_keys()[ix.program_id_index as usize],
            programs::ids::SPL_TOKEN
        );
    }

    #[test]
    fn refusals_are_errors_not_panics() {
        let (config, mut signer, payer) = setup();
        let mut t = RouteTemplate::build(1, &config.routes[1], payer).expect("template");
        let mut out = [0u8; PACKET_DATA_SIZE];
        let bad_variant = TradeFields {
            variant: 1,
            ..TradeFields::default()
        };
        assert!(matches!(
            t.sign_into(&bad_variant, &[0; 32], &mut signer, &mut out),
            Err(SignError::NoSuchVariant {
                variant: 1,
                count: 1
            })
        ));
        let tip = TradeFields {
            tip_lamports: 1,
            ..TradeFields::default()
        };
        assert_eq!(
            t.sign_into(&tip, &[0; 32], &mut signer, &mut out),
            Err(SignError::NoTipAccount)
        );
        let mut small = [0u8; 64];
        assert!(matches!(
            t.sign_into(&TradeFields::default(), &[0; 32], &mut signer, &mut small),
            Err(SignError::BufferTooSmall { .. })
        ));
        let mut other = Signer::rfc8032(SigningKey::from_bytes(&[1; 32]));
        assert_eq!(
            t.sign_into(&TradeFields::default(), &[0; 32], &mut other, &mut out),
            Err(SignError::WrongSigner)
        );
    }

    #[test]
    fn three_leg_route_without_lookup_tables_is_refused_as_too_large() {
        let (mut config, _, payer) = setup();
        config.routes[0].address_lookup_tables.clear();
        // Every account of every leg distinct (no sharing between legs).
        let mut n = 100u8;
        for leg in &mut config.routes[0].legs {
            for v in leg.accounts.values_mut() {
                *v = crate::config::Pubkey(Address::new_from_array([n; 32]));
                n += 1;
            }
            for t in &mut leg.tick_array_variants {
                for a in &mut t.tick_arrays {
                    *a = crate::config::Pubkey(Address::new_from_array([n; 32]));
                    n += 1;
                }
            }
        }
        let e = RouteTemplate::build(0, &config.routes[0], payer).expect_err("too large");
        assert!(matches!(e, TemplateError::TooLarge { .. }), "{e}");
        assert!(e.to_string().starts_with("routes[0]: "), "{e}");
    }

    #[test]
    fn order_intent_maps_to_trade_fields() {
        let mut i: OrderIntent = unsafe_free_default_intent();
        i.amount_in = [1, 2, 3];
        i.min_out = [4, 5, 6];
        i.cu_price_micro_lamports = 7;
        i.tip_lamports = 8;
        i.tick_array_variant = 9;
        let f = TradeFields::from(&i);
        assert_eq!(
            f,
            TradeFields {
                amount_in: [1, 2, 3],
                min_out: [4, 5, 6],
                cu_price_micro_lamports: 7,
                tip_lamports: 8,
                variant: 9
            }
        );
    }

    fn unsafe_free_default_intent() -> OrderIntent {
        OrderIntent {
            seq: 0,
            epoch: 0,
            tick_seq: 0,
            amount_in: [0; 3],
            min_out: [0; 3],
            cu_price_micro_lamports: 0,
            tip_lamports: 0,
            expected_profit: 0,
            t_tick_recv_ns: 0,
            t_tick_pub_ns: 0,
            t_strategy_read_ns: 0,
            t_intent_ns: 0,
            route_id: 0,
            flags: 0,
            tick_array_variant: 0,
            _reserved: [0; 20],
        }
    }
}

//! Property tests of the decoders: encoders and decoders are inverse, and no input panics.

use phantom_feeder::decode::raydium_amm_v4::{Fees, StateData};
use phantom_feeder::decode::whirlpool::WhirlpoolRewardInfo;
use phantom_feeder::decode::{
    raydium_amm_v4, raydium_cpmm, token, whirlpool, AmmInfo, CpmmPoolState, Pubkey, TokenAccount,
    TokenAccountState, Whirlpool,
};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;

/// Deterministic by default (fixed seed, no regression files); `PROPTEST_RNG_SEED` and
/// `PROPTEST_CASES` still explore further.
fn config() -> ProptestConfig {
    let mut c = ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    if c.rng_seed == RngSeed::Random {
        c.rng_seed = RngSeed::Fixed(0x5EED_F00D);
    }
    c
}

fn pubkey() -> impl Strategy<Value = Pubkey> {
    any::<[u8; 32]>().prop_map(Pubkey)
}

fn token_account() -> impl Strategy<Value = TokenAccount> {
    (
        pubkey(),
        pubkey(),
        any::<u64>(),
        proptest::option::of(pubkey()),
        prop_oneof![
            Just(TokenAccountState::Uninitialized),
            Just(TokenAccountState::Initialized),
            Just(TokenAccountState::Frozen)
        ],
        proptest::option::of(any::<u64>()),
        any::<u64>(),
        proptest::option::of(pubkey()),
    )
        .prop_map(
            |(mint, owner, amount, delegate, state, is_native, delegated_amount, close)| {
                TokenAccount {
                    mint,
                    owner,
                    amount,
                    delegate,
                    state,
                    is_native,
                    delegated_amount,
                    close_authority: close,
                }
            },
        )
}

fn amm_info() -> impl Strategy<Value = AmmInfo> {
    (
        any::<[u64; 16]>(),
        any::<[u64; 8]>(),
        any::<[u64; 8]>(),
        any::<[u128; 4]>(),
        any::<[u64; 2]>(),
        any::<[[u8; 32]; 9]>(),
        any::<[u64; 8]>(),
        any::<[u8; 32]>(),
        any::<[u64; 4]>(),
    )
        .prop_map(|(h, f, s, big, acc, keys, padding1, owner, tail)| {
            let k = keys.map(Pubkey);
            AmmInfo {
                status: h[0],
                nonce: h[1],
                order_num: h[2],
                depth: h[3],
                coin_decimals: h[4],
                pc_decimals: h[5],
                state: h[6],
                reset_flag: h[7],
                min_size: h[8],
                vol_max_cut_ratio: h[9],
                amount_wave: h[10],
                coin_lot_size: h[11],
                pc_lot_size: h[12],
                min_price_multiplier: h[13],
                max_price_multiplier: h[14],
                sys_decimal_value: h[15],
                fees: Fees {
                    min_separate_numerator: f[0],
                    min_separate_denominator: f[1],
                    trade_fee_numerator: f[2],
                    trade_fee_denominator: f[3],
                    pnl_numerator: f[4],
                    pnl_denominator: f[5],
                    swap_fee_numerator: f[6],
                    swap_fee_denominator: f[7],
                },
                state_data: StateData {
                    need_take_pnl_coin: s[0],
                    need_take_pnl_pc: s[1],
                    total_pnl_pc: s[2],
                    total_pnl_coin: s[3],
                    pool_open_time: s[4],
                    punish_pc_amount: s[5],
                    punish_coin_amount: s[6],
                    orderbook_to_init_time: s[7],
                    swap_coin_in_amount: big[0],
                    swap_pc_out_amount: big[1],
                    swap_acc_pc_fee: acc[0],
                    swap_pc_in_amount: big[2],
                    swap_coin_out_amount: big[3],
                    swap_acc_coin_fee: acc[1],
                },
                coin_vault: k[0],
                pc_vault: k[1],
                coin_vault_mint: k[2],
                pc_vault_mint: k[3],
                lp_mint: k[4],
                open_orders: k[5],
                market: k[6],
                market_program: k[7],
                target_orders: k[8],
                padding1,
                amm_owner: Pubkey(owner),
                lp_amount: tail[0],
                client_order_id: tail[1],
                recent_epoch: tail[2],
                padding2: tail[3],
            }
        })
}

fn cpmm_pool() -> impl Strategy<Value = CpmmPoolState> {
    (
        any::<[[u8; 32]; 10]>(),
        any::<[u8; 5]>(),
        any::<[u64; 7]>(),
        any::<[u8; 8]>(),
        any::<[u64; 2]>(),
        any::<[u64; 28]>(),
    )
        .prop_map(|(keys, small, words, flags, creator, padding)| {
            let k = keys.map(Pubkey);
            CpmmPoolState {
                amm_config: k[0],
                pool_creator: k[1],
                token_0_vault: k[2],
                token_1_vault: k[3],
                lp_mint: k[4],
                token_0_mint: k[5],
                token_1_mint: k[6],
                token_0_program: k[7],
                token_1_program: k[8],
                observation_key: k[9],
                auth_bump: small[0],
                status: small[1],
                lp_mint_decimals: small[2],
                mint_0_decimals: small[3],
                mint_1_decimals: small[4],
                lp_supply: words[0],
                protocol_fees_token_0: words[1],
                protocol_fees_token_1: words[2],
                fund_fees_token_0: words[3],
                fund_fees_token_1: words[4],
                open_time: words[5],
                recent_epoch: words[6],
                creator_fee_on: flags[0],
                enable_creator_fee: flags[1],
                padding1: [flags[2], flags[3], flags[4], flags[5], flags[6], flags[7]],
                creator_fees_token_0: creator[0],
                creator_fees_token_1: creator[1],
                padding,
            }
        })
}

fn reward_info() -> impl Strategy<Value = WhirlpoolRewardInfo> {
    (
        pubkey(),
        pubkey(),
        any::<[u8; 32]>(),
        any::<u128>(),
        any::<u128>(),
    )
        .prop_map(|(mint, vault, extension, e, g)| WhirlpoolRewardInfo {
            mint,
            vault,
            extension,
            emissions_per_second_x64: e,
            growth_global_x64: g,
        })
}

fn whirlpool_account() -> impl Strategy<Value = Whirlpool> {
    (
        (pubkey(), any::<u8>(), any::<u16>(), any::<[u8; 2]>()),
        (any::<u16>(), any::<u16>(), any::<u128>(), any::<u128>()),
        (any::<i32>(), any::<u64>(), any::<u64>()),
        (
            pubkey(),
            pubkey(),
            any::<u128>(),
            pubkey(),
            pubkey(),
            any::<u128>(),
        ),
        any::<u64>(),
        [reward_info(), reward_info(), reward_info()],
    )
        .prop_map(|(a, b, c, d, ts, rewards)| Whirlpool {
            whirlpools_config: a.0,
            whirlpool_bump: [a.1],
            tick_spacing: a.2,
            fee_tier_index_seed: a.3,
            fee_rate: b.0,
            protocol_fee_rate: b.1,
            liquidity: b.2,
            sqrt_price: b.3,
            tick_current_index: c.0,
            protocol_fee_owed_a: c.1,
            protocol_fee_owed_b: c.2,
            token_mint_a: d.0,
            token_vault_a: d.1,
            fee_growth_global_a: d.2,
            token_mint_b: d.3,
            token_vault_b: d.4,
            fee_growth_global_b: d.5,
            reward_last_updated_timestamp: ts,
            reward_infos: rewards,
        })
}

/// Byte strings of every interesting length: around each layout's size, and anything else.
fn account_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..1024),
        prop_oneof![
            Just(164usize),
            Just(165),
            Just(166),
            Just(355),
            Just(636),
            Just(637),
            Just(653),
            Just(752),
        ]
        .prop_flat_map(|n| proptest::collection::vec(any::<u8>(), n)),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn token_account_decode_inverts_encode(x in token_account()) {
        prop_assert_eq!(TokenAccount::decode(&x.encode()), Ok(x));
        prop_assert_eq!(token::amount(&x.encode()), Ok(x.amount));
    }

    #[test]
    fn token_2022_extended_account_decode_inverts_encode_into(
        x in token_account(),
        ext in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut data = vec![0u8; token::LEN];
        data.push(2);
        data.extend_from_slice(&ext);
        prop_assume!(data.len() != 355);
        x.encode_into(&mut data).unwrap();
        prop_assert_eq!(TokenAccount::decode(&data), Ok(x));
        prop_assert_eq!(&data[token::LEN + 1..], &ext[..]);
    }

    #[test]
    fn amm_v4_decode_inverts_encode(x in amm_info()) {
        prop_assert_eq!(AmmInfo::decode(&x.encode()), Ok(x));
    }

    #[test]
    fn cpmm_decode_inverts_encode(x in cpmm_pool()) {
        prop_assert_eq!(CpmmPoolState::decode(&x.encode()), Ok(x));
    }

    #[test]
    fn whirlpool_decode_inverts_encode(x in whirlpool_account()) {
        prop_assert_eq!(Whirlpool::decode(&x.encode()), Ok(x));
    }

    /// Every byte pattern of the right size is a valid pool account (all fields are raw
    /// integers), so decode and encode are a bijection: nothing is dropped or reordered.
    #[test]
    fn pool_encode_inverts_decode_for_any_bytes(
        amm in proptest::collection::vec(any::<u8>(), raydium_amm_v4::LEN),
        cpmm in proptest::collection::vec(any::<u8>(), raydium_cpmm::LEN),
        pool in proptest::collection::vec(any::<u8>(), whirlpool::LEN),
    ) {
        prop_assert_eq!(&AmmInfo::decode(&amm).unwrap().encode()[..], &amm[..]);
        let mut cpmm = cpmm;
        cpmm[..8].copy_from_slice(&raydium_cpmm::DISCRIMINATOR);
        prop_assert_eq!(&CpmmPoolState::decode(&cpmm).unwrap().encode()[..], &cpmm[..]);
        let mut pool = pool;
        pool[..8].copy_from_slice(&whirlpool::DISCRIMINATOR);
        prop_assert_eq!(&Whirlpool::decode(&pool).unwrap().encode()[..], &pool[..]);
    }

    /// Random bytes with valid tags and state: every such account decodes, and re-encoding
    /// reproduces it except the value bytes behind a none COption tag, which spl-token
    /// ignores and the encoder zeroes.
    #[test]
    fn token_encode_inverts_decode_up_to_ignored_bytes(
        mut data in proptest::collection::vec(any::<u8>(), token::LEN),
        tags in any::<[bool; 3]>(),
        state in 0u8..=2,
    ) {
        let none_bodies = [(72usize, 76..108), (109, 113..121), (129, 133..165)];
        for ((tag, _), some) in none_bodies.iter().zip(tags) {
            data[*tag..*tag + 4].copy_from_slice(&u32::from(some).to_le_bytes());
        }
        data[token::STATE_OFFSET] = state;
        let t = TokenAccount::decode(&data).unwrap();
        let enc = t.encode();
        for (i, (a, b)) in enc.iter().zip(&data).enumerate() {
            let in_none_body = none_bodies
                .iter()
                .any(|(tag, body)| data[*tag] == 0 && body.contains(&i));
            prop_assert!(a == b || (in_none_body && *a == 0), "byte {}", i);
        }
    }

    #[test]
    fn decoders_never_panic_on_arbitrary_bytes(data in account_bytes()) {
        let t = TokenAccount::decode(&data);
        // The fast path accepts and refuses exactly what the full decoder does.
        prop_assert_eq!(token::amount(&data), t.map(|t| t.amount));
        let _ = AmmInfo::decode(&data);
        let _ = CpmmPoolState::decode(&data);
        let _ = Whirlpool::decode(&data);
    }
}

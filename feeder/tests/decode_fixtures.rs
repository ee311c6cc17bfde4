//! Decoders against real mainnet snapshots (`tests/fixtures`, copied from `../shared/fixtures`)
//! and against account bytes built here from the published layouts.
//!
//! Every expected value is read in this file at the absolute offset the program's published
//! source implies (computed by hand from the struct declarations, noted beside each helper
//! call), never taken from the decoder under test.

use base64::Engine as _;
use phantom_feeder::decode::{
    raydium_amm_v4, raydium_cpmm, token, whirlpool, AccountKind, AmmInfo, CpmmPoolState,
    DecodeError, Pubkey, TokenAccount, TokenAccountState, Whirlpool,
};
use std::path::PathBuf;

struct Fixture {
    address: String,
    owner: String,
    slot: Option<u64>,
    data: Vec<u8>,
}

fn fixture(name: &str) -> Fixture {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let data = base64::engine::general_purpose::STANDARD
        .decode(v["data_base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(data.len() as u64, v["data_len"].as_u64().unwrap(), "{name}");
    Fixture {
        address: v["address"].as_str().unwrap().to_owned(),
        owner: v["owner"].as_str().unwrap().to_owned(),
        slot: v["slot"].as_u64(),
        data,
    }
}

// Independent readers: fixed offsets, nothing shared with the decoder.
fn u16_at(d: &[u8], off: usize) -> u16 {
    u16::from_le_bytes(d[off..off + 2].try_into().unwrap())
}
fn i32_at(d: &[u8], off: usize) -> i32 {
    i32::from_le_bytes(d[off..off + 4].try_into().unwrap())
}
fn u64_at(d: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(d[off..off + 8].try_into().unwrap())
}
fn u128_at(d: &[u8], off: usize) -> u128 {
    u128::from_le_bytes(d[off..off + 16].try_into().unwrap())
}
fn key_at(d: &[u8], off: usize) -> String {
    bs58::encode(&d[off..off + 32]).into_string()
}
fn put(d: &mut [u8], off: usize, bytes: &[u8]) {
    d[off..off + bytes.len()].copy_from_slice(bytes);
}
fn key(p: &Pubkey) -> String {
    bs58::encode(p.0).into_string()
}

const AMM_V4: &str = "raydium_amm_v4-58oQChx4.json";
const AMM_V4_COIN_VAULT: &str = "spl_token_account-DQyrAcCr.json";
const AMM_V4_PC_VAULT: &str = "spl_token_account-HLmqeL62.json";
const CPMM: &str = "raydium_cpmm-2higKRf2.json";
const CPMM_VAULT_0: &str = "spl_token_account-47KLLXNK.json";
const CPMM_VAULT_1: &str = "spl_token_2022_account-5Ap19VZW.json";
const WHIRLPOOL: &str = "orca_whirlpool-Czfq3xZZ.json";
const WHIRLPOOL_VAULT_B: &str = "spl_token_account-2WLWEuKD.json";

const ALL_TOKEN_FIXTURES: [&str; 5] = [
    AMM_V4_COIN_VAULT,
    AMM_V4_PC_VAULT,
    CPMM_VAULT_0,
    CPMM_VAULT_1,
    WHIRLPOOL_VAULT_B,
];

#[test]
fn token_fixtures_decode_to_the_published_offsets() {
    for name in ALL_TOKEN_FIXTURES {
        let f = fixture(name);
        let t = TokenAccount::decode(&f.data).unwrap();
        let d = &f.data;
        assert_eq!(key(&t.mint), key_at(d, 0), "{name} mint");
        assert_eq!(key(&t.owner), key_at(d, 32), "{name} owner");
        assert_eq!(t.amount, u64_at(d, 64), "{name} amount");
        assert_eq!(t.state as u8, d[108], "{name} state");
        assert_eq!(t.state, TokenAccountState::Initialized, "{name}");
        // is_native: COption<u64> tag at 109, value at 113; delegated_amount at 121.
        assert_eq!(t.is_native, (d[109] == 1).then(|| u64_at(d, 113)), "{name}");
        assert_eq!(t.delegated_amount, u64_at(d, 121), "{name}");
        assert_eq!(t.delegate, None, "{name}");
        assert_eq!(t.close_authority, None, "{name}");
        assert_eq!(token::amount(d).unwrap(), u64_at(d, 64), "{name} fast path");
        // Nothing is lost: the encoder reproduces the snapshot byte for byte.
        assert_eq!(&t.encode()[..], &d[..], "{name} re-encode");
    }
}

#[test]
fn wrapped_sol_vault_reports_its_rent_reserve_as_is_native() {
    let f = fixture(AMM_V4_COIN_VAULT);
    let t = TokenAccount::decode(&f.data).unwrap();
    assert_eq!(key(&t.mint), "So11111111111111111111111111111111111111112");
    assert_eq!(t.is_native, Some(2_039_280));
}

#[test]
fn amm_v4_fixture_fields_match_the_published_offsets() {
    let f = fixture(AMM_V4);
    assert_eq!(f.owner, phantom_feeder::decode::RAYDIUM_AMM_V4_PROGRAM_ID);
    let d = &f.data;
    let a = AmmInfo::decode(d).unwrap();
    // 16 u64 header fields at 0..128.
    let header = [
        a.status,
        a.nonce,
        a.order_num,
        a.depth,
        a.coin_decimals,
        a.pc_decimals,
        a.state,
        a.reset_flag,
        a.min_size,
        a.vol_max_cut_ratio,
        a.amount_wave,
        a.coin_lot_size,
        a.pc_lot_size,
        a.min_price_multiplier,
        a.max_price_multiplier,
        a.sys_decimal_value,
    ];
    for (i, v) in header.iter().enumerate() {
        assert_eq!(*v, u64_at(d, 8 * i), "header field {i}");
    }
    // Fees at 128..192.
    assert_eq!(a.fees.min_separate_numerator, u64_at(d, 128));
    assert_eq!(a.fees.min_separate_denominator, u64_at(d, 136));
    assert_eq!(a.fees.trade_fee_numerator, u64_at(d, 144));
    assert_eq!(a.fees.trade_fee_denominator, u64_at(d, 152));
    assert_eq!(a.fees.pnl_numerator, u64_at(d, 160));
    assert_eq!(a.fees.pnl_denominator, u64_at(d, 168));
    assert_eq!(a.swap_fee(), (u64_at(d, 176), u64_at(d, 184)));
    // StateData at 192..336.
    assert_eq!(a.state_data.need_take_pnl_coin, u64_at(d, 192));
    assert_eq!(a.state_data.need_take_pnl_pc, u64_at(d, 200));
    assert_eq!(a.state_data.total_pnl_pc, u64_at(d, 208));
    assert_eq!(a.state_data.total_pnl_coin, u64_at(d, 216));
    assert_eq!(a.state_data.pool_open_time, u64_at(d, 224));
    assert_eq!(a.state_data.punish_pc_amount, u64_at(d, 232));
    assert_eq!(a.state_data.punish_coin_amount, u64_at(d, 240));
    assert_eq!(a.state_data.orderbook_to_init_time, u64_at(d, 248));
    assert_eq!(a.state_data.swap_coin_in_amount, u128_at(d, 256));
    assert_eq!(a.state_data.swap_pc_out_amount, u128_at(d, 272));
    assert_eq!(a.state_data.swap_acc_pc_fee, u64_at(d, 288));
    assert_eq!(a.state_data.swap_pc_in_amount, u128_at(d, 296));
    assert_eq!(a.state_data.swap_coin_out_amount, u128_at(d, 312));
    assert_eq!(a.state_data.swap_acc_coin_fee, u64_at(d, 328));
    // Pubkeys from 336, 32 bytes each.
    let keys = [
        &a.coin_vault,
        &a.pc_vault,
        &a.coin_vault_mint,
        &a.pc_vault_mint,
        &a.lp_mint,
        &a.open_orders,
        &a.market,
        &a.market_program,
        &a.target_orders,
    ];
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(key(k), key_at(d, 336 + 32 * i), "pubkey {i}");
    }
    for i in 0..8 {
        assert_eq!(a.padding1[i], u64_at(d, 624 + 8 * i));
    }
    assert_eq!(key(&a.amm_owner), key_at(d, 688));
    assert_eq!(a.lp_amount, u64_at(d, 720));
    assert_eq!(a.client_order_id, u64_at(d, 728));
    assert_eq!(a.recent_epoch, u64_at(d, 736));
    assert_eq!(a.padding2, u64_at(d, 744));
    assert_eq!(&a.encode()[..], &d[..], "re-encode");
}

#[test]
fn amm_v4_fixture_is_the_sol_usdc_pool_with_known_parameters() {
    let a = AmmInfo::decode(&fixture(AMM_V4).data).unwrap();
    // Public facts about this pool, not read from the bytes.
    assert_eq!(
        key(&a.coin_vault_mint),
        "So11111111111111111111111111111111111111112"
    );
    assert_eq!(
        key(&a.pc_vault_mint),
        "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
    );
    assert_eq!((a.coin_decimals, a.pc_decimals), (9, 6));
    assert_eq!(a.swap_fee(), (25, 10_000));
    assert_eq!(
        key(&a.market_program),
        "srmqPvymJeFKQ4zGQed1GFppgkRHL9kaELCbyksJtPX"
    );
    assert_eq!(a.status, 6, "SwapOnly");
}

#[test]
fn amm_v4_vaults_and_reserves_agree_with_the_vault_snapshots_of_the_same_slot() {
    let pool = fixture(AMM_V4);
    let coin = fixture(AMM_V4_COIN_VAULT);
    let pc = fixture(AMM_V4_PC_VAULT);
    assert_eq!(pool.slot, coin.slot);
    assert_eq!(pool.slot, pc.slot);
    let a = AmmInfo::decode(&pool.data).unwrap();
    assert_eq!(key(&a.coin_vault), coin.address);
    assert_eq!(key(&a.pc_vault), pc.address);
    // The vaults hold the pool's mints (offset 0 of a token account).
    assert_eq!(key(&a.coin_vault_mint), key_at(&coin.data, 0));
    assert_eq!(key(&a.pc_vault_mint), key_at(&pc.data, 0));
    let expected = (
        u64_at(&coin.data, 64) - u64_at(&pool.data, 192),
        u64_at(&pc.data, 64) - u64_at(&pool.data, 200),
    );
    let coin_amount = TokenAccount::decode(&coin.data).unwrap().amount;
    let pc_amount = TokenAccount::decode(&pc.data).unwrap().amount;
    assert_eq!(a.reserves(coin_amount, pc_amount).unwrap(), expected);
    // SOL/USDC priced from the reserves: a sanity bound, not a fact to pin.
    let price = (expected.1 as f64 / 1e6) / (expected.0 as f64 / 1e9);
    assert!((10.0..10_000.0).contains(&price), "{price}");
}

#[test]
fn amm_v4_reserves_subtract_pnl_owed_and_refuse_more_owed_than_held() {
    let mut a = AmmInfo::decode(&fixture(AMM_V4).data).unwrap();
    a.state_data.need_take_pnl_coin = 7;
    a.state_data.need_take_pnl_pc = 11;
    assert_eq!(a.reserves(100, 200).unwrap(), (93, 189));
    assert!(matches!(
        a.reserves(6, 200),
        Err(DecodeError::OwedExceedsVault {
            field: "need_take_pnl_coin",
            owed: 7,
            vault: 6,
            ..
        })
    ));
    assert!(matches!(
        a.reserves(7, 10),
        Err(DecodeError::OwedExceedsVault {
            field: "need_take_pnl_pc",
            ..
        })
    ));
}

#[test]
fn cpmm_fixture_fields_match_the_published_offsets() {
    let f = fixture(CPMM);
    assert_eq!(f.owner, phantom_feeder::decode::RAYDIUM_CPMM_PROGRAM_ID);
    let d = &f.data;
    let p = CpmmPoolState::decode(d).unwrap();
    let keys = [
        &p.amm_config,
        &p.pool_creator,
        &p.token_0_vault,
        &p.token_1_vault,
        &p.lp_mint,
        &p.token_0_mint,
        &p.token_1_mint,
        &p.token_0_program,
        &p.token_1_program,
        &p.observation_key,
    ];
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(key(k), key_at(d, 8 + 32 * i), "pubkey {i}");
    }
    assert_eq!(
        [
            p.auth_bump,
            p.status,
            p.lp_mint_decimals,
            p.mint_0_decimals,
            p.mint_1_decimals
        ],
        d[328..333]
    );
    assert_eq!(p.lp_supply, u64_at(d, 333));
    assert_eq!(p.protocol_fees_token_0, u64_at(d, 341));
    assert_eq!(p.protocol_fees_token_1, u64_at(d, 349));
    assert_eq!(p.fund_fees_token_0, u64_at(d, 357));
    assert_eq!(p.fund_fees_token_1, u64_at(d, 365));
    assert_eq!(p.open_time, u64_at(d, 373));
    assert_eq!(p.recent_epoch, u64_at(d, 381));
    assert_eq!(p.creator_fee_on, d[389]);
    assert_eq!(p.enable_creator_fee, d[390]);
    assert_eq!(p.creator_fees_token_0, u64_at(d, 397));
    assert_eq!(p.creator_fees_token_1, u64_at(d, 405));
    assert_eq!(p.padding[27], u64_at(d, 629));
    assert_eq!(&p.encode()[..], &d[..], "re-encode");
}

#[test]
fn cpmm_vaults_and_reserves_agree_with_the_vault_snapshots_of_the_same_slot() {
    let pool = fixture(CPMM);
    let v0 = fixture(CPMM_VAULT_0);
    let v1 = fixture(CPMM_VAULT_1);
    assert_eq!(pool.slot, v0.slot);
    assert_eq!(pool.slot, v1.slot);
    let p = CpmmPoolState::decode(&pool.data).unwrap();
    assert_eq!(key(&p.token_0_vault), v0.address);
    assert_eq!(key(&p.token_1_vault), v1.address);
    // Each vault is owned by the program its pool names (Token vs Token-2022).
    assert_eq!(key(&p.token_0_program), v0.owner);
    assert_eq!(key(&p.token_1_program), v1.owner);
    assert_eq!(v1.owner, phantom_feeder::decode::TOKEN_2022_PROGRAM_ID);
    assert_eq!(key(&p.token_0_mint), key_at(&v0.data, 0));
    assert_eq!(key(&p.token_1_mint), key_at(&v1.data, 0));
    let d = &pool.data;
    let owed_0 = u64_at(d, 341) + u64_at(d, 357) + u64_at(d, 397);
    let owed_1 = u64_at(d, 349) + u64_at(d, 365) + u64_at(d, 405);
    let expected = (u64_at(&v0.data, 64) - owed_0, u64_at(&v1.data, 64) - owed_1);
    let a0 = TokenAccount::decode(&v0.data).unwrap().amount;
    let a1 = TokenAccount::decode(&v1.data).unwrap().amount;
    assert_eq!(p.reserves(a0, a1).unwrap(), expected);
    assert!(
        owed_0 > 0 && owed_1 > 0,
        "this snapshot owes fees in both vaults"
    );
}

#[test]
fn whirlpool_fixture_fields_match_the_published_offsets() {
    let f = fixture(WHIRLPOOL);
    assert_eq!(f.owner, phantom_feeder::decode::ORCA_WHIRLPOOL_PROGRAM_ID);
    let d = &f.data;
    let w = Whirlpool::decode(d).unwrap();
    assert_eq!(key(&w.whirlpools_config), key_at(d, 8));
    assert_eq!(w.whirlpool_bump[0], d[40]);
    assert_eq!(w.tick_spacing, u16_at(d, 41));
    assert_eq!(w.fee_tier_index_seed, d[43..45]);
    assert_eq!(w.fee_rate, u16_at(d, 45));
    assert_eq!(w.protocol_fee_rate, u16_at(d, 47));
    assert_eq!(w.liquidity, u128_at(d, 49));
    assert_eq!(w.sqrt_price, u128_at(d, 65));
    assert_eq!(w.tick_current_index, i32_at(d, 81));
    assert_eq!(w.protocol_fee_owed_a, u64_at(d, 85));
    assert_eq!(w.protocol_fee_owed_b, u64_at(d, 93));
    assert_eq!(key(&w.token_mint_a), key_at(d, 101));
    assert_eq!(key(&w.token_vault_a), key_at(d, 133));
    assert_eq!(w.fee_growth_global_a, u128_at(d, 165));
    assert_eq!(key(&w.token_mint_b), key_at(d, 181));
    assert_eq!(key(&w.token_vault_b), key_at(d, 213));
    assert_eq!(w.fee_growth_global_b, u128_at(d, 245));
    assert_eq!(w.reward_last_updated_timestamp, u64_at(d, 261));
    for (i, r) in w.reward_infos.iter().enumerate() {
        let o = 269 + 128 * i;
        assert_eq!(key(&r.mint), key_at(d, o));
        assert_eq!(key(&r.vault), key_at(d, o + 32));
        assert_eq!(r.extension, d[o + 64..o + 96]);
        assert_eq!(r.emissions_per_second_x64, u128_at(d, o + 96));
        assert_eq!(r.growth_global_x64, u128_at(d, o + 112));
    }
    assert_eq!(&w.encode()[..], &d[..], "re-encode");
}

#[test]
fn whirlpool_fixture_price_is_consistent_with_its_tick() {
    let f = fixture(WHIRLPOOL);
    let w = Whirlpool::decode(&f.data).unwrap();
    assert_eq!(
        key(&w.token_mint_a),
        "So11111111111111111111111111111111111111112"
    );
    assert_eq!(
        key(&w.token_mint_b),
        "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
    );
    // The current tick is floor(log_1.0001(sqrt_price^2)): two independent fields agree.
    let sqrt = w.sqrt_price as f64 / 2f64.powi(64);
    let tick_from_price = (sqrt * sqrt).ln() / 1.0001f64.ln();
    assert!(
        (tick_from_price - f64::from(w.tick_current_index)).abs() < 1.0,
        "{tick_from_price} vs {}",
        w.tick_current_index
    );
    assert_eq!(w.fee(), (u64::from(u16_at(&f.data, 45)), 1_000_000));
    // The vault-B snapshot is that pool's USDC vault, owned by the pool.
    let vb = fixture(WHIRLPOOL_VAULT_B);
    assert_eq!(key(&w.token_vault_b), vb.address);
    assert_eq!(key_at(&vb.data, 32), f.address);
}

#[test]
fn anchor_discriminators_are_sha256_of_the_account_names() {
    use sha2::{Digest, Sha256};
    let d = |name: &str| -> [u8; 8] {
        Sha256::digest(format!("account:{name}").as_bytes())[..8]
            .try_into()
            .unwrap()
    };
    assert_eq!(raydium_cpmm::DISCRIMINATOR, d("PoolState"));
    assert_eq!(whirlpool::DISCRIMINATOR, d("Whirlpool"));
}

/// A token account with every optional field set, built byte by byte from the layout.
fn handmade_token_account() -> Vec<u8> {
    let mut d = vec![0u8; 165];
    put(&mut d, 0, &[0x11; 32]); // mint
    put(&mut d, 32, &[0x22; 32]); // owner
    put(&mut d, 64, &123_456_789_012u64.to_le_bytes()); // amount
    put(&mut d, 72, &1u32.to_le_bytes()); // delegate: Some
    put(&mut d, 76, &[0x33; 32]);
    d[108] = 2; // Frozen
    put(&mut d, 109, &1u32.to_le_bytes()); // is_native: Some
    put(&mut d, 113, &2_039_280u64.to_le_bytes());
    put(&mut d, 121, &77u64.to_le_bytes()); // delegated_amount
    put(&mut d, 129, &1u32.to_le_bytes()); // close_authority: Some
    put(&mut d, 133, &[0x44; 32]);
    d
}

#[test]
fn handmade_token_account_decodes_every_field() {
    let d = handmade_token_account();
    let t = TokenAccount::decode(&d).unwrap();
    assert_eq!(t.mint, Pubkey([0x11; 32]));
    assert_eq!(t.owner, Pubkey([0x22; 32]));
    assert_eq!(t.amount, 123_456_789_012);
    assert_eq!(t.delegate, Some(Pubkey([0x33; 32])));
    assert_eq!(t.state, TokenAccountState::Frozen);
    assert_eq!(t.is_native, Some(2_039_280));
    assert_eq!(t.delegated_amount, 77);
    assert_eq!(t.close_authority, Some(Pubkey([0x44; 32])));
    assert_eq!(&t.encode()[..], &d[..]);
}

#[test]
fn token_2022_account_with_extensions_decodes_its_base_and_keeps_extensions_on_encode() {
    let mut d = handmade_token_account();
    d.push(2); // AccountType::Account
    d.extend_from_slice(&[7, 0, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8]); // a TLV entry
    let t = TokenAccount::decode(&d).unwrap();
    assert_eq!(t.amount, 123_456_789_012);
    let mut out = d.clone();
    let mut changed = t;
    changed.amount = 5;
    changed.encode_into(&mut out).unwrap();
    assert_eq!(u64_at(&out, 64), 5);
    assert_eq!(out[165..], d[165..], "extensions untouched");
    assert_eq!(token::amount(&out).unwrap(), 5);
}

#[test]
fn token_account_errors_name_the_problem() {
    let base = handmade_token_account();
    let err = |d: &[u8]| TokenAccount::decode(d).unwrap_err();
    assert_eq!(
        err(&base[..164]),
        DecodeError::TooShort {
            account: AccountKind::TokenAccount,
            min: 165,
            actual: 164
        }
    );
    let mut mint_type = base.clone();
    mint_type.push(1); // AccountType::Mint after a token-account base
    assert!(matches!(
        err(&mint_type),
        DecodeError::InvalidValue {
            field: "account_type",
            value: 1,
            ..
        }
    ));
    let mut multisig = base.clone();
    multisig.resize(355, 0);
    multisig[165] = 2;
    assert!(matches!(
        err(&multisig),
        DecodeError::Length { actual: 355, .. }
    ));
    for (off, field) in [
        (72, "delegate"),
        (109, "is_native"),
        (129, "close_authority"),
    ] {
        let mut d = base.clone();
        d[off] = 2;
        assert!(
            matches!(err(&d), DecodeError::InvalidValue { field: f, value: 2, .. } if f == field),
            "{field}"
        );
    }
    let mut bad_state = base.clone();
    bad_state[108] = 3;
    let e = err(&bad_state);
    assert!(matches!(
        e,
        DecodeError::InvalidValue {
            field: "state",
            value: 3,
            ..
        }
    ));
    assert_eq!(
        e.to_string(),
        "SPL Token account: field state has invalid value 3"
    );
    assert_eq!(token::amount(&bad_state), Err(e));
}

#[test]
fn handmade_amm_v4_decodes_every_field_at_its_offset() {
    // Distinct value per u64 slot (like the program's own layout test), so a field read from
    // the wrong offset cannot match.
    let mut d = vec![0u8; 752];
    for i in 0..94 {
        put(
            &mut d,
            8 * i,
            &(0x0101_0101_0000_0000u64 + i as u64).to_le_bytes(),
        );
    }
    let v = |off: usize| 0x0101_0101_0000_0000u64 + (off / 8) as u64;
    let a = AmmInfo::decode(&d).unwrap();
    assert_eq!(a.status, v(0));
    assert_eq!(a.sys_decimal_value, v(120));
    assert_eq!(a.fees.min_separate_numerator, v(128));
    assert_eq!(a.fees.swap_fee_denominator, v(184));
    assert_eq!(a.state_data.need_take_pnl_coin, v(192));
    assert_eq!(a.state_data.need_take_pnl_pc, v(200));
    assert_eq!(a.state_data.orderbook_to_init_time, v(248));
    assert_eq!(
        a.state_data.swap_coin_in_amount,
        u128::from(v(256)) | u128::from(v(264)) << 64
    );
    assert_eq!(a.state_data.swap_acc_pc_fee, v(288));
    assert_eq!(
        a.state_data.swap_pc_in_amount,
        u128::from(v(296)) | u128::from(v(304)) << 64
    );
    assert_eq!(a.state_data.swap_acc_coin_fee, v(328));
    assert_eq!(a.coin_vault.0[..8], v(336).to_le_bytes());
    assert_eq!(a.pc_vault.0[..8], v(368).to_le_bytes());
    assert_eq!(a.target_orders.0[..8], v(592).to_le_bytes());
    assert_eq!(a.padding1[0], v(624));
    assert_eq!(a.amm_owner.0[..8], v(688).to_le_bytes());
    assert_eq!(a.lp_amount, v(720));
    assert_eq!(a.recent_epoch, v(736));
    assert_eq!(a.padding2, v(744));
    assert_eq!(&a.encode()[..], &d[..]);
}

#[test]
fn handmade_cpmm_decodes_the_price_fields_at_their_offsets() {
    let mut d = vec![0u8; 637];
    put(&mut d, 0, &raydium_cpmm::DISCRIMINATOR);
    put(&mut d, 72, &[0xA0; 32]); // token_0_vault
    put(&mut d, 104, &[0xA1; 32]); // token_1_vault
    d[329] = 4; // status: swap disabled
    d[331] = 9; // mint_0_decimals
    d[332] = 6; // mint_1_decimals
    put(&mut d, 341, &10u64.to_le_bytes()); // protocol_fees_token_0
    put(&mut d, 349, &20u64.to_le_bytes()); // protocol_fees_token_1
    put(&mut d, 357, &1u64.to_le_bytes()); // fund_fees_token_0
    put(&mut d, 365, &2u64.to_le_bytes()); // fund_fees_token_1
    put(&mut d, 397, &100u64.to_le_bytes()); // creator_fees_token_0
    put(&mut d, 405, &200u64.to_le_bytes()); // creator_fees_token_1
    let p = CpmmPoolState::decode(&d).unwrap();
    assert_eq!(p.token_0_vault, Pubkey([0xA0; 32]));
    assert_eq!(p.token_1_vault, Pubkey([0xA1; 32]));
    assert_eq!((p.mint_0_decimals, p.mint_1_decimals), (9, 6));
    assert!(!p.swap_enabled());
    assert_eq!(p.reserves(1_000, 2_000).unwrap(), (889, 1_778));
    assert!(matches!(
        p.reserves(110, 2_000),
        Err(DecodeError::OwedExceedsVault {
            owed: 111,
            vault: 110,
            ..
        })
    ));
    assert_eq!(&p.encode()[..], &d[..]);
}

#[test]
fn handmade_whirlpool_decodes_the_price_fields_at_their_offsets() {
    let mut d = vec![0u8; 653];
    put(&mut d, 0, &whirlpool::DISCRIMINATOR);
    put(&mut d, 41, &64u16.to_le_bytes()); // tick_spacing
    put(&mut d, 45, &3000u16.to_le_bytes()); // fee_rate
    put(&mut d, 49, &(u128::MAX - 5).to_le_bytes()); // liquidity
    put(&mut d, 65, &(1u128 << 64 | 0xdead).to_le_bytes()); // sqrt_price
    put(&mut d, 81, &(-443_636i32).to_le_bytes()); // tick_current_index
    put(&mut d, 133, &[0xB0; 32]); // token_vault_a
    put(&mut d, 213, &[0xB1; 32]); // token_vault_b
    put(&mut d, 269 + 128 * 2 + 112, &7u128.to_le_bytes()); // reward 2 growth (last field)
    let w = Whirlpool::decode(&d).unwrap();
    assert_eq!(w.tick_spacing, 64);
    assert_eq!(w.fee(), (3000, 1_000_000));
    assert_eq!(w.liquidity, u128::MAX - 5);
    assert_eq!(w.sqrt_price, 1u128 << 64 | 0xdead);
    assert_eq!(w.tick_current_index, -443_636);
    assert_eq!(w.token_vault_a, Pubkey([0xB0; 32]));
    assert_eq!(w.token_vault_b, Pubkey([0xB1; 32]));
    assert_eq!(w.reward_infos[2].growth_global_x64, 7);
    assert_eq!(&w.encode()[..], &d[..]);
}

#[test]
fn pool_decoders_refuse_wrong_lengths_and_foreign_discriminators() {
    let amm = fixture(AMM_V4).data;
    assert_eq!(
        AmmInfo::decode(&amm[..751]),
        Err(DecodeError::Length {
            account: AccountKind::RaydiumAmmV4,
            expected: 752,
            actual: 751
        })
    );
    let cpmm = fixture(CPMM).data;
    let pool = fixture(WHIRLPOOL).data;
    assert!(matches!(
        CpmmPoolState::decode(&cpmm[..636]),
        Err(DecodeError::Length { expected: 637, .. })
    ));
    assert!(matches!(
        Whirlpool::decode(&[pool.clone(), vec![0]].concat()),
        Err(DecodeError::Length {
            expected: 653,
            actual: 654,
            ..
        })
    ));
    // Right length, wrong account type.
    let mut not_pool = cpmm.clone();
    not_pool[..8].copy_from_slice(&whirlpool::DISCRIMINATOR);
    let e = CpmmPoolState::decode(&not_pool).unwrap_err();
    assert!(matches!(e, DecodeError::Discriminator { .. }));
    assert!(
        e.to_string()
            .starts_with("Raydium CPMM PoolState: discriminator"),
        "{e}"
    );
    let mut not_whirlpool = pool.clone();
    not_whirlpool[0] ^= 1;
    assert!(matches!(
        Whirlpool::decode(&not_whirlpool),
        Err(DecodeError::Discriminator { .. })
    ));
    assert_eq!(raydium_amm_v4::LEN, 752);
}

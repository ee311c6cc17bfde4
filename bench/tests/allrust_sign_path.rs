//! The transaction phantom-allrust signs for an intent is byte for byte the one the signer's
//! own path makes of the same intent: `RouteTemplate::build` of the route, `TradeFields` of the
//! `OrderIntent` the numba runtime publishes, `sign_into` with the same blockhash and key.

use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use phantom_bench::allrust::pipeline::sign_intent;
use phantom_bench::allrust::setup::Setup;
use phantom_ringbuf::records::{pool_kind, OrderIntent, PoolState};
use phantom_ringbuf::schema::Record as _;
use phantom_signer::engine::build_templates;
use phantom_signer::signing::Signer;
use phantom_signer::template::{RouteTemplate, TradeFields, PACKET_DATA_SIZE};
use solana_address::Address;

fn example_setup() -> Setup {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/simulator.toml");
    Setup::load(&path).expect("examples/simulator.toml")
}

fn cpmm(reserve_a: u64, reserve_b: u64) -> PoolState {
    let mut p = PoolState::zeroed();
    p.pool_kind = pool_kind::RAYDIUM_CPMM;
    p.ready = 1;
    (p.reserve_a, p.reserve_b) = (reserve_a, reserve_b);
    (p.fee_num, p.fee_den) = (2_500, 1_000_000);
    p
}

#[test]
fn signed_intent_equals_the_signers_template_path() {
    let setup = example_setup();
    assert_eq!(setup.n_legs, 2);
    assert_eq!(setup.routes.len(), 2);
    let kernel = setup.kernel();
    // Pools 2 and 3 are the CPMM pair the example routes trade; pool 3 prices A 2 % dearer.
    let mut pools = vec![PoolState::zeroed(); setup.feeder.pools.len()];
    pools[2] = cpmm(80_000_000_000, 200_000_000_000_000);
    pools[3] = cpmm(81_600_000_000, 200_000_000_000_000);
    let intent = kernel
        .on_pool_update(3, &pools)
        .expect("a 2 % dislocation trades");
    assert_eq!(intent.route_id, 0, "buy on pool 2, sell on pool 3");
    assert!(intent.amount_in[0] > 0 && intent.amount_in[1] == intent.min_out[0]);

    let key = SigningKey::from_bytes(&[11; 32]);
    let payer = Address::new_from_array(key.verifying_key().to_bytes());
    let blockhash = [5u8; 32];

    let mut ours = build_templates(&setup.signer, payer).expect("templates");
    let mut signer = Signer::rfc8032(key.clone());
    let mut wire = [0u8; PACKET_DATA_SIZE];
    let n = sign_intent(&mut ours, &intent, &blockhash, &mut signer, &mut wire).expect("signed");

    // The signer's path: the intent as the numba runtime publishes it (its own sequence
    // numbers and stamps included: they must not matter), then TradeFields::from.
    let mut published = OrderIntent::zeroed();
    published.seq = 41;
    published.epoch = 3;
    published.tick_seq = 977;
    published.route_id = intent.route_id;
    published.amount_in = intent.amount_in;
    published.min_out = intent.min_out;
    published.cu_price_micro_lamports = intent.cu_price_micro_lamports;
    published.tip_lamports = intent.tip_lamports;
    published.expected_profit = intent.expected_profit;
    published.t_tick_recv_ns = 1;
    published.t_tick_pub_ns = 2;
    published.t_strategy_read_ns = 3;
    published.t_intent_ns = 4;
    let route = intent.route_id as usize;
    let mut theirs = RouteTemplate::build(intent.route_id, &setup.signer.routes[route], payer)
        .expect("template");
    let mut signer2 = Signer::rfc8032(key.clone());
    let mut wire2 = [0u8; PACKET_DATA_SIZE];
    let n2 = theirs
        .sign_into(
            &TradeFields::from(&published),
            &blockhash,
            &mut signer2,
            &mut wire2,
        )
        .expect("signed");
    assert_eq!(wire[..n], wire2[..n2], "same wire bytes");

    // And it is a valid transaction carrying the intent's amounts.
    let vk = VerifyingKey::from_bytes(&key.verifying_key().to_bytes()).expect("vk");
    let sig = Signature::from_bytes(wire[1..65].try_into().expect("64 bytes"));
    vk.verify_strict(&wire[65..n], &sig)
        .expect("signature verifies");
    let message = &wire[65..n];
    let mut leg0 = intent.amount_in[0].to_le_bytes().to_vec();
    leg0.extend_from_slice(&intent.min_out[0].to_le_bytes());
    assert!(
        message.windows(16).any(|w| w == leg0.as_slice()),
        "leg 0 amounts patched in"
    );
    assert!(
        message.windows(32).any(|w| w == blockhash),
        "blockhash patched in"
    );
}

#[test]
fn example_config_reads_the_strategy_params() {
    let setup = example_setup();
    let p = setup.params;
    // examples/simulator.toml: params = { min_profit = 1, slippage_bps = 20,
    // cu_price_micro_lamports = 1000 }; the rest are ArbParams' defaults.
    assert_eq!(
        (p.min_profit, p.slippage_bps, p.cu_price_micro_lamports),
        (1, 20, 1000)
    );
    assert_eq!((p.max_amount_in, p.cu_limit), (1_000_000_000_000, 200_000));
    let r = &setup.routes[1];
    assert_eq!((r.legs[0].pool, r.legs[0].a_to_b), (3, true));
    assert_eq!((r.legs[1].pool, r.legs[1].a_to_b), (2, false));
}

#[test]
fn unknown_strategy_or_param_is_refused_naming_the_key() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/simulator.toml");
    let text = std::fs::read_to_string(path).expect("example");
    let bad = text.replace("min_profit = 1,", "min_proft = 1,");
    let e = Setup::from_toml_str(&bad).err().expect("refused");
    assert!(e.contains("strategy.params"), "{e}");
    let other = text.replace("arb:TwoPoolArb", "echo:Echo");
    let e = Setup::from_toml_str(&other).err().expect("refused");
    assert!(e.contains("strategy.name"), "{e}");
}

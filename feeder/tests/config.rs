//! The feeder's config: a good file parses with the right values and defaults, the other
//! processes' tables are tolerated, and every unknown key and bad value is refused with an
//! error naming the key.

use phantom_feeder::config::{
    Commitment, Config, ConfigError, PoolKind, WaitStrategy, MAX_ENDPOINTS,
};
use phantom_feeder::decode::Pubkey;

const SOL_USDC_V4: &str = "58oQChx4yWmvKdwLLZzBi4ChoCc2fqCUWBkwMihLYQo2";
const V4_COIN_VAULT: &str = "DQyrAcCrDXQ7NeoqGgDCZwBvWDcYmFCjSb9JtteuvPpz";
const V4_PC_VAULT: &str = "HLmqeL62xR1QoZ1HKKbXRrdN1p3phKpxRMb2VVopvBBz";
const CPMM: &str = "2higKRf25Q9WMcYfgyK96AAuFVv5zucfDAFHHDuVETcq";
const CPMM_VAULT_0: &str = "47KLLXNKUMuJBgis11NWmZ9iNPW2wHX2ZKQKUDCL3LA6";
const CPMM_VAULT_1: &str = "5Ap19VZWbmP9NnvFabeyGzWjTqXFcFLPcuFDsNyAB9Sg";
const WHIRLPOOL: &str = "Czfq3xZZDmsdGdUyrNLtRhGc47cXcZtLG4crryfu44zE";

/// A full config: every feeder key set, the three pool kinds, and other processes' tables.
fn good() -> String {
    format!(
        r#"
[supervisor]
market_capacity = 65536

[feeder]
endpoints = [
  {{ ws = "ws://127.0.0.1:8900", rpc = "http://127.0.0.1:8899" }},
  {{ ws = "wss://rpc.example.com/ws?api-key=SECRETKEY", rpc = "https://rpc.example.com/?api-key=SECRETKEY" }},
]
commitment = "confirmed"
wait = "spin"
cpu = 3
reconnect_backoff_min_ms = 50
reconnect_backoff_max_ms = 2000
heartbeat_interval_ms = 1000
read_timeout_ms = 3000
max_frame_bytes = 65536
max_slot_lead = 300
rpc_timeout_ms = 2500
market_capacity = 65536

[signer]
mode = "dry-run"
anything = {{ the = "signer's" }}

[strategy]
name = "phantom_pipeline.strategies:TwoPool"

[[pools]]
name = "SOL/USDC v4"
kind = "raydium_amm_v4"
address = "{SOL_USDC_V4}"
vaults = ["{V4_COIN_VAULT}", "{V4_PC_VAULT}"]

[[pools]]
kind = "raydium_cpmm"
address = "{CPMM}"
vaults = ["{CPMM_VAULT_0}", "{CPMM_VAULT_1}"]
fee_numerator = 2500
fee_denominator = 1000000

[[pools]]
kind = "orca_whirlpool"
address = "{WHIRLPOOL}"
program_id = "{CPMM}"
decimals = [9, 6]

[[routes]]
legs = [{{ pool = 0, direction = "a_to_b" }}, {{ pool = 2, direction = "b_to_a" }}]
"#
    )
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml_str(text)
}

/// The config with `from` replaced by `to` (which must occur exactly once).
fn edited(from: &str, to: &str) -> String {
    let g = good();
    assert_eq!(g.matches(from).count(), 1, "{from:?} must occur once");
    g.replacen(from, to, 1)
}

#[track_caller]
fn refused(text: &str, key: &str, fragment: &str) {
    match parse(text) {
        Ok(_) => panic!("accepted; expected an error at {key}"),
        Err(e) => {
            assert_eq!(e.key(), Some(key), "{e}");
            assert!(e.to_string().contains(fragment), "{e:?} lacks {fragment:?}");
            assert!(e.to_string().starts_with(&format!("{key}: ")), "{e}");
        }
    }
}

#[test]
fn good_config_parses_every_key_and_ignores_other_processes_tables() {
    let c = parse(&good()).unwrap();
    let f = &c.feeder;
    assert_eq!(f.endpoints.len(), 2);
    assert_eq!(f.endpoints[0].ws, "ws://127.0.0.1:8900");
    assert_eq!(
        f.endpoints[1].rpc,
        "https://rpc.example.com/?api-key=SECRETKEY"
    );
    assert_eq!(f.commitment, Commitment::Confirmed);
    assert_eq!(f.wait, WaitStrategy::Spin);
    assert_eq!(f.cpu, Some(3));
    assert_eq!(
        (f.reconnect_backoff_min_ms, f.reconnect_backoff_max_ms),
        (50, 2000)
    );
    assert_eq!((f.heartbeat_interval_ms, f.read_timeout_ms), (1000, 3000));
    assert_eq!(f.max_frame_bytes, 65536);
    assert_eq!((f.max_slot_lead, f.rpc_timeout_ms), (300, 2500));
    assert_eq!(f.market_capacity, Some(65536));
    assert_eq!(c.pools.len(), 3);
    // A configured program id replaces the kind's mainnet one.
    assert_eq!(c.pools[2].program_id(), CPMM.parse::<Pubkey>().unwrap());
    assert_eq!(
        c.pools[0].program_id().to_string(),
        "675kPX9MHTjS2zt1qfr1NYHuzeLXfQM9H24wFSUt1Mp8"
    );
    let kinds: Vec<PoolKind> = c.pools.iter().map(|p| p.kind).collect();
    assert_eq!(
        kinds,
        [
            PoolKind::RaydiumAmmV4,
            PoolKind::RaydiumCpmm,
            PoolKind::OrcaWhirlpool
        ]
    );
    assert_eq!(c.pools[0].name.as_deref(), Some("SOL/USDC v4"));
    assert_eq!(c.pools[0].address, SOL_USDC_V4.parse::<Pubkey>().unwrap());
    assert_eq!(
        c.pools[0].vaults.unwrap()[1],
        V4_PC_VAULT.parse::<Pubkey>().unwrap()
    );
    assert_eq!(c.pools[1].fee(), Some((2500, 1_000_000)));
    assert_eq!(c.pools[2].decimals, Some([9, 6]));
    assert_eq!(c.pools[2].vaults, None);
    assert_eq!(PoolKind::OrcaWhirlpool.code(), 3);
}

#[test]
fn minimal_config_gets_documented_defaults() {
    let c = parse(
        r#"
[feeder]
endpoints = [{ ws = "ws://localhost:8900", rpc = "http://localhost:8899" }]
"#,
    )
    .unwrap();
    let f = &c.feeder;
    assert_eq!(f.commitment, Commitment::Processed);
    assert_eq!(f.wait, WaitStrategy::Adaptive);
    assert_eq!(f.cpu, None);
    assert_eq!(
        (f.reconnect_backoff_min_ms, f.reconnect_backoff_max_ms),
        (100, 5000)
    );
    assert_eq!((f.heartbeat_interval_ms, f.read_timeout_ms), (5000, 15000));
    assert_eq!(f.max_frame_bytes, 1 << 20);
    assert_eq!((f.max_slot_lead, f.rpc_timeout_ms), (150, 10_000));
    assert_eq!(f.market_capacity, None);
    assert!(c.pools.is_empty());
}

#[test]
fn config_loads_from_a_file_and_names_an_unreadable_one() {
    let dir = std::env::temp_dir().join(format!("phantom-feeder-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("pipeline.toml");
    std::fs::write(&path, good()).unwrap();
    assert_eq!(Config::load(&path).unwrap(), parse(&good()).unwrap());
    let missing = dir.join("missing.toml");
    let e = Config::load(&missing).unwrap_err();
    assert!(matches!(e, ConfigError::Read { .. }));
    assert!(e.to_string().contains("missing.toml"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn debug_output_redacts_endpoint_secrets() {
    let c = parse(&good()).unwrap();
    let shown = format!("{c:?}");
    assert!(!shown.contains("SECRETKEY"), "{shown}");
    assert!(shown.contains("wss://rpc.example.com"), "{shown}");
}

#[test]
fn unknown_keys_are_refused_with_their_path() {
    refused(
        &edited("cpu = 3", "cpu = 3\ncpus = 4"),
        "feeder.cpus",
        "unknown field \"cpus\"",
    );
    refused(
        &edited(
            r#"{ ws = "ws://127.0.0.1:8900", rpc"#,
            r#"{ ws = "ws://127.0.0.1:8900", token = "x", rpc"#,
        ),
        "feeder.endpoints[0].token",
        "unknown field \"token\"",
    );
    refused(
        &edited("decimals = [9, 6]", "decimals = [9, 6]\nfee_tier = 4"),
        "pools[2].fee_tier",
        "unknown field \"fee_tier\"",
    );
}

#[test]
fn bad_feeder_values_are_refused_naming_the_key() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "wss://rpc.example.com/ws?api-key=SECRETKEY",
            "https://rpc.example.com/ws",
            "feeder.endpoints[1].ws",
            "not a ws:// or wss:// URL: https://rpc.example.com/…",
        ),
        (
            "ws://127.0.0.1:8900",
            "ws://",
            "feeder.endpoints[0].ws",
            "not a ws:// or wss:// URL",
        ),
        (
            "http://127.0.0.1:8899",
            "ws://127.0.0.1:8899",
            "feeder.endpoints[0].rpc",
            "not a http:// or https:// URL",
        ),
        (
            r#"commitment = "confirmed""#,
            r#"commitment = "recent""#,
            "feeder.commitment",
            "unknown variant \"recent\"",
        ),
        (
            r#"wait = "spin""#,
            r#"wait = "sleep""#,
            "feeder.wait",
            "unknown variant \"sleep\"",
        ),
        ("cpu = 3", "cpu = -1", "feeder.cpu", "invalid value"),
        (
            "reconnect_backoff_min_ms = 50",
            "reconnect_backoff_min_ms = 0",
            "feeder.reconnect_backoff_min_ms",
            "must be positive",
        ),
        (
            "reconnect_backoff_min_ms = 50",
            "reconnect_backoff_min_ms = 5000",
            "feeder.reconnect_backoff_min_ms",
            "5000 exceeds reconnect_backoff_max_ms = 2000",
        ),
        (
            "heartbeat_interval_ms = 1000",
            "heartbeat_interval_ms = 0",
            "feeder.heartbeat_interval_ms",
            "must be positive",
        ),
        (
            "read_timeout_ms = 3000",
            "read_timeout_ms = 1000",
            "feeder.read_timeout_ms",
            "must exceed heartbeat_interval_ms = 1000",
        ),
        (
            "read_timeout_ms = 3000",
            r#"read_timeout_ms = "3s""#,
            "feeder.read_timeout_ms",
            "invalid type",
        ),
        (
            "max_frame_bytes = 65536",
            "max_frame_bytes = 0",
            "feeder.max_frame_bytes",
            "must be positive",
        ),
        (
            "max_slot_lead = 300",
            "max_slot_lead = 0",
            "feeder.max_slot_lead",
            "must be positive",
        ),
        (
            "rpc_timeout_ms = 2500",
            "rpc_timeout_ms = 0",
            "feeder.rpc_timeout_ms",
            "must be positive",
        ),
        (
            "market_capacity = 65536\n\n[signer]",
            "market_capacity = 1000\n\n[signer]",
            "feeder.market_capacity",
            "1000 is not a power of two",
        ),
    ];
    for (from, to, key, fragment) in cases {
        refused(&edited(from, to), key, fragment);
    }
}

#[test]
fn endpoint_list_must_hold_one_to_eight() {
    let none = good().replace(
        &good()[good().find("endpoints = [").unwrap()..good().find("]\ncommitment").unwrap() + 1],
        "endpoints = []",
    );
    refused(&none, "feeder.endpoints", "at least one");
    let one = r#"{ ws = "ws://h:1", rpc = "http://h:2" }"#;
    let many = [one; MAX_ENDPOINTS + 1].join(", ");
    let text = format!("[feeder]\nendpoints = [{many}]\n");
    refused(&text, "feeder.endpoints", "9 endpoints, at most 8");
    refused("[signer]\nmode = \"dry-run\"\n", "feeder", "missing");
    refused(
        "[feeder]\ncommitment = \"processed\"\n",
        "feeder",
        "missing field \"endpoints\"",
    );
}

#[test]
fn bad_pool_values_are_refused_naming_the_key() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            r#"kind = "raydium_amm_v4""#,
            r#"kind = "raydium_clmm""#,
            "pools[0].kind",
            "unknown variant \"raydium_clmm\"",
        ),
        (
            &format!(r#"address = "{SOL_USDC_V4}""#),
            r#"address = "not-base58!""#,
            "pools[0].address",
            "is not an address: not base58",
        ),
        (
            &format!(r#"address = "{WHIRLPOOL}""#),
            r#"address = "1111""#,
            "pools[2].address",
            "decodes to 4 bytes, expected 32",
        ),
        (
            &format!(r#"vaults = ["{V4_COIN_VAULT}", "{V4_PC_VAULT}"]"#),
            "",
            "pools[0].vaults",
            "missing: a raydium_amm_v4 pool is priced from its two vault accounts",
        ),
        (
            &format!(r#"vaults = ["{V4_COIN_VAULT}", "{V4_PC_VAULT}"]"#),
            &format!(r#"vaults = ["{V4_COIN_VAULT}"]"#),
            "pools[0].vaults",
            "invalid length 1",
        ),
        (
            &format!(r#"vaults = ["{V4_COIN_VAULT}", "{V4_PC_VAULT}"]"#),
            &format!(r#"vaults = ["{V4_COIN_VAULT}", "xyz0"]"#),
            "pools[0].vaults[1]",
            "is not an address",
        ),
        (
            &format!(r#"vaults = ["{V4_COIN_VAULT}", "{V4_PC_VAULT}"]"#),
            &format!(r#"vaults = ["{V4_COIN_VAULT}", "{V4_COIN_VAULT}"]"#),
            "pools[0].vaults",
            "the two vaults are the same account",
        ),
        (
            &format!(r#"vaults = ["{CPMM_VAULT_0}", "{CPMM_VAULT_1}"]"#),
            &format!(r#"vaults = ["{CPMM_VAULT_0}", "{CPMM}"]"#),
            "pools[1].vaults[1]",
            "is the pool account itself",
        ),
        (
            "fee_numerator = 2500\n",
            "",
            "pools[1].fee_numerator",
            "missing: a raydium_cpmm pool's fee rate lives in its AmmConfig account",
        ),
        (
            "fee_denominator = 1000000",
            "fee_denominator = 0",
            "pools[1].fee_denominator",
            "must be positive",
        ),
        (
            "fee_numerator = 2500",
            "fee_numerator = 1000000",
            "pools[1].fee_numerator",
            "is not below fee_denominator",
        ),
        (
            r#"name = "SOL/USDC v4""#,
            "fee_numerator = 25\nfee_denominator = 10000",
            "pools[0].fee_numerator",
            "not allowed for raydium_amm_v4: the pool account holds its fee",
        ),
        (
            "decimals = [9, 6]",
            "",
            "pools[2].decimals",
            "missing: a orca_whirlpool account does not hold its tokens' decimals",
        ),
        (
            "decimals = [9, 6]",
            "decimals = [9, 256]",
            "pools[2].decimals[1]",
            "invalid value",
        ),
        (
            r#"name = "SOL/USDC v4""#,
            "decimals = [9, 6]",
            "pools[0].decimals",
            "not allowed for raydium_amm_v4",
        ),
        (
            &format!(r#"address = "{CPMM}""#),
            &format!(r#"address = "{SOL_USDC_V4}""#),
            "pools[1].address",
            "is already pools[0]",
        ),
    ];
    for (from, to, key, fragment) in cases {
        refused(&edited(from, to), key, fragment);
    }
}

#[test]
fn toml_syntax_errors_give_the_line() {
    let e = parse("[feeder]\nendpoints = [\n  { ws = \"ws://h:1\" rpc = 1 },\n]\n").unwrap_err();
    let shown = e.to_string();
    assert!(shown.contains("(line 3)"), "{shown}");
}

//! The simulator's world: which pools it serves, at which addresses, with which accounts.
//!
//! Every pool is built from the real mainnet snapshot of its kind (Raydium AMM v4, Raydium
//! CPMM, Orca Whirlpool) placed at the pool's address, with its vault token accounts at the
//! vault addresses, which are also written into the pool's own data where the program keeps
//! them. Pools of one kind trade the snapshot's pair (v4 and Whirlpool: SOL/USDC; CPMM:
//! WSOL/pump), so pools of a pair share a fair price and can be dislocated against each other.
//!
//! The default world is four pools: the three snapshots at their real addresses and a second
//! CPMM pool at a synthetic address (so each pair has two venues), built as the program would
//! have created it: its vaults, LP mint and observation state at their PDAs, its own creator.
//! Beside the pools and vaults the world holds what their swaps read, in the programs' real
//! layouts ([`crate::layouts`]): the mints (under their own token programs), CPMM's
//! `AmmConfig` and each pool's `ObservationState`, and the Whirlpool's tick arrays around its
//! current tick (its oracle stays absent, as on mainnet for a pool without adaptive fee).
//! [`fund_wallet`] adds a trader: lamports and a funded token account at the standard
//! associated token account address for every mint. `--config FILE`
//! serves the `[[pools]]` of an instance config instead (its `kind`, `address`, `vaults` and
//! `name`; the feeder's other pool keys are ignored here), so a config written for mainnet
//! runs unchanged against the simulator.

use crate::codec::{self, Snapshot};
use crate::layouts;
use crate::market::{PoolModel, SimPool};
use crate::pda;
use crate::state::Account;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// A Solana address.
pub type Address = [u8; 32];

const SNAPSHOTS: [(&str, &str); 8] = [
    (
        "raydium_amm_v4-58oQChx4",
        include_str!("../data/raydium_amm_v4-58oQChx4.json"),
    ),
    (
        "spl_token_account-DQyrAcCr",
        include_str!("../data/spl_token_account-DQyrAcCr.json"),
    ),
    (
        "spl_token_account-HLmqeL62",
        include_str!("../data/spl_token_account-HLmqeL62.json"),
    ),
    (
        "orca_whirlpool-Czfq3xZZ",
        include_str!("../data/orca_whirlpool-Czfq3xZZ.json"),
    ),
    (
        "spl_token_account-2WLWEuKD",
        include_str!("../data/spl_token_account-2WLWEuKD.json"),
    ),
    (
        "raydium_cpmm-2higKRf2",
        include_str!("../data/raydium_cpmm-2higKRf2.json"),
    ),
    (
        "spl_token_account-47KLLXNK",
        include_str!("../data/spl_token_account-47KLLXNK.json"),
    ),
    (
        "spl_token_2022_account-5Ap19VZW",
        include_str!("../data/spl_token_2022_account-5Ap19VZW.json"),
    ),
];

/// Pool kinds the simulator serves, with the snapshots they are built from and where the
/// vault addresses sit in the pool's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Raydium AMM v4 (`AmmInfo`; vaults at 336 and 368).
    RaydiumAmmV4,
    /// Raydium CPMM (`PoolState`; vaults at 72 and 104).
    RaydiumCpmm,
    /// Orca Whirlpool (vaults at 133 and 213; priced from the pool account).
    OrcaWhirlpool,
}

impl Kind {
    /// Parse a config `kind`.
    pub fn parse(s: &str) -> Result<Kind, String> {
        match s {
            "raydium_amm_v4" => Ok(Kind::RaydiumAmmV4),
            "raydium_cpmm" => Ok(Kind::RaydiumCpmm),
            "orca_whirlpool" => Ok(Kind::OrcaWhirlpool),
            _ => Err(format!(
                "unknown kind {s:?} (expected raydium_amm_v4, raydium_cpmm or orca_whirlpool)"
            )),
        }
    }

    /// The config name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::RaydiumAmmV4 => "raydium_amm_v4",
            Kind::RaydiumCpmm => "raydium_cpmm",
            Kind::OrcaWhirlpool => "orca_whirlpool",
        }
    }

    fn snapshots(self) -> (&'static str, [&'static str; 2]) {
        match self {
            Kind::RaydiumAmmV4 => (
                "raydium_amm_v4-58oQChx4",
                ["spl_token_account-DQyrAcCr", "spl_token_account-HLmqeL62"],
            ),
            Kind::RaydiumCpmm => (
                "raydium_cpmm-2higKRf2",
                [
                    "spl_token_account-47KLLXNK",
                    "spl_token_2022_account-5Ap19VZW",
                ],
            ),
            // A Whirlpool's vaults are made from its mints (one is a real snapshot).
            Kind::OrcaWhirlpool => ("orca_whirlpool-Czfq3xZZ", ["", ""]),
        }
    }

    fn vault_offsets(self) -> [usize; 2] {
        match self {
            Kind::RaydiumAmmV4 => [336, 368],
            Kind::RaydiumCpmm => [72, 104],
            Kind::OrcaWhirlpool => [133, 213],
        }
    }

    fn pair(self) -> usize {
        match self {
            Kind::RaydiumAmmV4 | Kind::OrcaWhirlpool => 0,
            Kind::RaydiumCpmm => 1,
        }
    }
}

/// One pool to serve.
#[derive(Debug, Clone)]
pub struct PoolSpec {
    /// Display name.
    pub name: String,
    /// Kind.
    pub kind: Kind,
    /// Pool account address.
    pub address: Address,
    /// Vault addresses (None: the snapshot's own, or derived from the pool address when the
    /// pool is not at the snapshot's address).
    pub vaults: Option<[Address; 2]>,
}

/// A pool of the world: its kind and account indices (pool account, vault a, vault b).
#[derive(Debug, Clone)]
pub struct WorldPool {
    /// Display name.
    pub name: String,
    /// Kind.
    pub kind: Kind,
    /// Indices into [`World::accounts`].
    pub accounts: [usize; 3],
}

/// Accounts, pools and their simulated states.
pub struct World {
    /// Every account served (pool accounts and vaults).
    pub accounts: Vec<Account>,
    /// The pools.
    pub pools: Vec<WorldPool>,
    /// The pools' price models, in pool order.
    pub sim: Vec<SimPool>,
    /// Every mint of the world's pools, in order of first use.
    pub mints: Vec<MintInfo>,
}

/// A mint of the world.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MintInfo {
    /// Mint address.
    pub address: Address,
    /// Its token program (SPL Token or Token-2022).
    pub token_program: Address,
    /// Decimals.
    pub decimals: u8,
}

/// A deterministic address from a tag (synthetic accounts).
pub fn synthetic_address(tag: u64) -> Address {
    let mut a = [0u8; 32];
    for (i, c) in a.chunks_mut(8).enumerate() {
        c.copy_from_slice(&phantom_ringbuf::schema::splitmix64(tag ^ i as u64).to_le_bytes());
    }
    a
}

fn address_from(addr: &Address, salt: u64) -> Address {
    let mut tag = salt;
    for c in addr.chunks(8) {
        tag = phantom_ringbuf::schema::splitmix64(
            tag ^ u64::from_le_bytes(c.try_into().expect("8 bytes")),
        );
    }
    synthetic_address(tag)
}

fn acc(s: &Snapshot) -> Account {
    Account {
        address: s.address,
        owner: s.owner,
        lamports: s.lamports.max(2_039_280),
        data: s.data.clone(),
    }
}

fn snapshots() -> Result<HashMap<&'static str, Snapshot>, String> {
    let mut snaps = HashMap::new();
    for (name, json) in SNAPSHOTS {
        snaps.insert(
            name,
            codec::parse_snapshot(name, json).map_err(|e| e.to_string())?,
        );
    }
    Ok(snaps)
}

/// The default world's pools.
pub fn default_specs() -> Result<Vec<PoolSpec>, String> {
    let snaps = snapshots()?;
    let at = |n: &str| snaps[n].address;
    Ok(vec![
        PoolSpec {
            name: "SOL/USDC raydium_amm_v4".into(),
            kind: Kind::RaydiumAmmV4,
            address: at("raydium_amm_v4-58oQChx4"),
            vaults: None,
        },
        PoolSpec {
            name: "SOL/USDC orca_whirlpool".into(),
            kind: Kind::OrcaWhirlpool,
            address: at("orca_whirlpool-Czfq3xZZ"),
            vaults: None,
        },
        PoolSpec {
            name: "WSOL/pump raydium_cpmm".into(),
            kind: Kind::RaydiumCpmm,
            address: at("raydium_cpmm-2higKRf2"),
            vaults: None,
        },
        PoolSpec {
            name: "WSOL/pump raydium_cpmm #2".into(),
            kind: Kind::RaydiumCpmm,
            address: synthetic_address(0xC10E),
            vaults: None,
        },
    ])
}

#[derive(serde::Deserialize)]
struct ConfigFile {
    #[serde(default)]
    pools: Vec<ConfigPool>,
}

// The feeder owns the other [[pools]] keys (decimals, fees): they are not the simulator's.
#[derive(serde::Deserialize)]
struct ConfigPool {
    name: Option<String>,
    kind: String,
    address: String,
    vaults: Option<[String; 2]>,
}

/// The pools of an instance config's `[[pools]]` (errors name the pool and the key).
pub fn specs_from_config(path: &Path) -> Result<Vec<PoolSpec>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let file: ConfigFile = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    if file.pools.is_empty() {
        return Err(format!("{}: no [[pools]] to serve", path.display()));
    }
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, p) in file.pools.iter().enumerate() {
        let at = |key: &str, e: String| format!("{}: pools[{i}].{key}: {e}", path.display());
        let kind = Kind::parse(&p.kind).map_err(|e| at("kind", e))?;
        let address = codec::address(&p.address).map_err(|e| at("address", e))?;
        let vaults = match &p.vaults {
            Some([a, b]) => Some([
                codec::address(a).map_err(|e| at("vaults[0]", e))?,
                codec::address(b).map_err(|e| at("vaults[1]", e))?,
            ]),
            None => None,
        };
        for a in std::iter::once(address).chain(vaults.into_iter().flatten()) {
            if !seen.insert(a) {
                return Err(at(
                    "address",
                    format!("{} is used twice", bs58::encode(a).into_string()),
                ));
            }
        }
        out.push(PoolSpec {
            name: p
                .name
                .clone()
                .unwrap_or_else(|| format!("pool {i} {}", p.kind)),
            kind,
            address,
            vaults,
        });
    }
    Ok(out)
}

/// Build the accounts and price models of `specs`.
pub fn build(specs: &[PoolSpec]) -> Result<World, String> {
    let snaps = snapshots()?;
    let mut accounts: Vec<Account> = Vec::new();
    let mut pools = Vec::new();
    let mut sim = Vec::new();
    let mut mints: Vec<MintInfo> = Vec::new();
    for spec in specs {
        let (pool_snap, vault_snaps) = spec.kind.snapshots();
        let snap = &snaps[pool_snap];
        let mut pool = acc(snap);
        pool.address = spec.address;
        let offsets = spec.kind.vault_offsets();
        let in_data = |k: usize| -> Result<Address, String> {
            snap.data[offsets[k]..offsets[k] + 32]
                .try_into()
                .map_err(|_| format!("{}: snapshot data too short", spec.name))
        };
        let vaults = match spec.vaults {
            Some(v) => v,
            None if spec.address == snap.address => [in_data(0)?, in_data(1)?],
            None if spec.kind == Kind::RaydiumCpmm => [
                pda::cpmm_vault(&spec.address, &addr_at(&snap.data, 168)),
                pda::cpmm_vault(&spec.address, &addr_at(&snap.data, 200)),
            ],
            None => [
                address_from(&spec.address, 1),
                address_from(&spec.address, 2),
            ],
        };
        if spec.kind == Kind::RaydiumCpmm && spec.address != snap.address {
            // A pool of its own, as `initialize` creates it: LP mint and observation state at
            // the pool's PDAs, another creator.
            pool.data[136..168].copy_from_slice(&pda::cpmm_lp_mint(&spec.address));
            pool.data[296..328].copy_from_slice(&pda::cpmm_observation(&spec.address));
            pool.data[40..72].copy_from_slice(&address_from(&spec.address, 3));
        }
        for (k, v) in vaults.iter().enumerate() {
            pool.data[offsets[k]..offsets[k] + 32].copy_from_slice(v);
        }
        let vault_accounts: Vec<Account> = match spec.kind {
            Kind::OrcaWhirlpool => {
                let known = &snaps["spl_token_account-2WLWEuKD"];
                let mints = [&snap.data[101..133], &snap.data[181..213]];
                (0..2)
                    .map(|k| {
                        let mint: Address = mints[k].try_into().expect("32 bytes");
                        let mut a = if in_data(k).ok() == Some(known.address) {
                            acc(known)
                        } else {
                            Account {
                                address: vaults[k],
                                owner: known.owner,
                                lamports: 2_039_280,
                                data: codec::new_token_account(
                                    &mint,
                                    &spec.address,
                                    // Deep enough for the walk's trades on a
                                    // mainnet-sized liquidity (100 M tokens).
                                    100_000_000 * 1_000_000_000,
                                ),
                            }
                        };
                        a.address = vaults[k];
                        a
                    })
                    .collect()
            }
            _ => (0..2)
                .map(|k| {
                    let mut a = acc(&snaps[vault_snaps[k]]);
                    a.address = vaults[k];
                    a
                })
                .collect(),
        };
        let support = support_accounts(spec, &pool.data, &mut mints)?;
        let base = accounts.len();
        accounts.push(pool);
        accounts.extend(vault_accounts);
        for a in support {
            if !accounts.iter().any(|b| b.address == a.address) {
                accounts.push(a);
            }
        }
        let model = match spec.kind {
            Kind::OrcaWhirlpool => {
                let (liquidity, sqrt_price_x64, tick) =
                    codec::whirlpool_price(&accounts[base].data)
                        .ok_or_else(|| format!("{}: whirlpool data", spec.name))?;
                SimPool {
                    pair: spec.kind.pair(),
                    model: PoolModel::Concentrated,
                    reserve_a: 0,
                    reserve_b: 0,
                    liquidity,
                    sqrt_price_x64,
                    tick,
                }
            }
            _ => SimPool {
                pair: spec.kind.pair(),
                model: PoolModel::ConstantProduct,
                reserve_a: codec::token_amount(&accounts[base + 1].data).unwrap_or(1),
                reserve_b: codec::token_amount(&accounts[base + 2].data).unwrap_or(1),
                liquidity: 0,
                sqrt_price_x64: 0,
                tick: 0,
            },
        };
        sim.push(model);
        pools.push(WorldPool {
            name: spec.name.clone(),
            kind: spec.kind,
            accounts: [base, base + 1, base + 2],
        });
    }
    let mut seen = HashSet::new();
    for a in &accounts {
        if !seen.insert(a.address) {
            return Err(format!(
                "account {} is used twice (a pool, vault or derived account)",
                bs58::encode(a.address).into_string()
            ));
        }
    }
    Ok(World {
        accounts,
        pools,
        sim,
        mints,
    })
}

fn addr_at(data: &[u8], off: usize) -> Address {
    let mut a = [0u8; 32];
    if let Some(s) = data.get(off..off + 32) {
        a.copy_from_slice(s);
    }
    a
}

fn account(address: Address, owner: Address, data: Vec<u8>) -> Account {
    Account {
        address,
        owner,
        lamports: layouts::rent_exempt(data.len()),
        data,
    }
}

/// The accounts a pool's swaps read besides the pool and its vaults; mints are added to
/// `mints` (once each) and returned as accounts.
fn support_accounts(
    spec: &PoolSpec,
    data: &[u8],
    mints: &mut Vec<MintInfo>,
) -> Result<Vec<Account>, String> {
    let short = || format!("{}: pool data too short", spec.name);
    let mut out = Vec::new();
    let mut mint_account = |info: MintInfo, authority: Address, supply: u64| {
        if !mints.iter().any(|m| m.address == info.address) {
            mints.push(info);
        }
        account(
            info.address,
            info.token_program,
            layouts::mint(&authority, supply, info.decimals),
        )
    };
    // Mint authorities the world does not use: a fixed synthetic signer.
    let issuer = synthetic_address(0x1550E5);
    match spec.kind {
        Kind::RaydiumCpmm => {
            let b = |o: usize| data.get(o).copied().ok_or_else(short);
            let config = addr_at(data, 8);
            // Config index 0 is the 0.25 % tier (trade fee 2 500 ppm, protocol 12 %, fund
            // 4 %), at ["amm_config", 0u16 big-endian]: the pool's own config address.
            let (at, bump) = pda::find_program_address(
                &[b"amm_config", &0u16.to_be_bytes()],
                &pda::raydium_cpmm(),
            );
            if at != config {
                return Err(format!(
                    "{}: the pool's amm_config {} is not config index 0",
                    spec.name,
                    bs58::encode(config).into_string()
                ));
            }
            let cfg = layouts::AmmConfig {
                bump,
                index: 0,
                trade_fee_rate: 2_500,
                protocol_fee_rate: 120_000,
                fund_fee_rate: 40_000,
                create_pool_fee: 150_000_000,
            };
            out.push(account(config, pda::raydium_cpmm(), cfg.data()));
            out.push(account(
                addr_at(data, 296),
                pda::raydium_cpmm(),
                layouts::cpmm_observation(&spec.address),
            ));
            let lp_supply = u64::from_le_bytes(
                data.get(333..341)
                    .ok_or_else(short)?
                    .try_into()
                    .map_err(|_| short())?,
            );
            let authority = pda::cpmm_authority().0;
            out.push(mint_account(
                MintInfo {
                    address: addr_at(data, 136),
                    token_program: pda::token_program(),
                    decimals: b(330)?,
                },
                authority,
                lp_supply,
            ));
            for (mint, program, dec) in [(168, 232, 331), (200, 264, 332)] {
                out.push(mint_account(
                    MintInfo {
                        address: addr_at(data, mint),
                        token_program: addr_at(data, program),
                        decimals: b(dec)?,
                    },
                    issuer,
                    u64::MAX / 4,
                ));
            }
        }
        Kind::OrcaWhirlpool => {
            for off in [101, 181] {
                let address = addr_at(data, off);
                // A Whirlpool does not keep decimals: SOL's are 9, the USD coins' 6.
                let decimals = if address == pda::native_mint() { 9 } else { 6 };
                out.push(mint_account(
                    MintInfo {
                        address,
                        token_program: pda::token_program(),
                        decimals,
                    },
                    issuer,
                    u64::MAX / 4,
                ));
            }
            let (_, _, tick) = codec::whirlpool_price(data).ok_or_else(short)?;
            let spacing = u16::from_le_bytes(
                data.get(41..43)
                    .ok_or_else(short)?
                    .try_into()
                    .map_err(|_| short())?,
            );
            let width = layouts::TICK_ARRAY_SIZE * i32::from(spacing.max(1));
            let here = layouts::tick_array_start(tick, spacing);
            for k in -2..=2 {
                let start = here + k * width;
                out.push(account(
                    pda::whirlpool_tick_array(&spec.address, start),
                    pda::orca_whirlpool(),
                    layouts::whirlpool_tick_array(&spec.address, start),
                ));
            }
        }
        Kind::RaydiumAmmV4 => {
            for (mint, dec) in [(400, 32), (432, 40)] {
                out.push(mint_account(
                    MintInfo {
                        address: addr_at(data, mint),
                        token_program: pda::token_program(),
                        decimals: data.get(dec).copied().ok_or_else(short)?,
                    },
                    issuer,
                    u64::MAX / 4,
                ));
            }
        }
    }
    Ok(out)
}

/// The token a (`side` 0) or b (1) mint of the world's first pool of `kind`.
pub fn pool_mint(world: &World, kind: Kind, side: usize) -> Option<Address> {
    let pool = world.pools.iter().find(|p| p.kind == kind)?;
    let offsets = match kind {
        Kind::RaydiumCpmm => [168, 200],
        Kind::OrcaWhirlpool => [101, 181],
        Kind::RaydiumAmmV4 => [400, 432],
    };
    let data = &world.accounts.get(pool.accounts[0])?.data;
    let off = *offsets.get(side)?;
    data.get(off..off + 32)?.try_into().ok()
}

/// Raw units of every mint a funded wallet gets (a million whole tokens).
pub const FUND_TOKENS: u64 = 1_000_000;
/// Lamports a funded wallet gets for fees and rent (1 000 SOL).
pub const FUND_LAMPORTS: u64 = 1_000_000_000_000;

/// Add `wallet`: a system account with [`FUND_LAMPORTS`], and for every mint of the world a
/// token account with [`FUND_TOKENS`] whole tokens at the standard associated token account
/// address (under the mint's own token program). `extra` are more token accounts of the
/// wallet at given addresses (address, mint), for routes that name accounts other than
/// the ATAs. Returns the accounts added, as (address, mint) pairs.
pub fn fund_wallet(
    world: &mut World,
    wallet: &Address,
    extra: &[(Address, Address)],
) -> Result<Vec<(Address, Address)>, String> {
    fund_wallet_with(world, wallet, extra, FUND_TOKENS)
}

/// [`fund_wallet`] with `tokens` whole tokens of every mint.
pub fn fund_wallet_with(
    world: &mut World,
    wallet: &Address,
    extra: &[(Address, Address)],
    tokens: u64,
) -> Result<Vec<(Address, Address)>, String> {
    let b58 = |a: &Address| bs58::encode(a).into_string();
    let taken = |world: &World, a: &Address| world.accounts.iter().any(|x| x.address == *a);
    if taken(world, wallet) {
        return Err(format!(
            "--fund-wallet {}: the address is already a world account",
            b58(wallet)
        ));
    }
    world.accounts.push(Account {
        address: *wallet,
        owner: pda::system_program(),
        lamports: FUND_LAMPORTS,
        data: Vec::new(),
    });
    let mut plan: Vec<(Address, MintInfo)> = world
        .mints
        .iter()
        .map(|m| {
            (
                pda::associated_token_account(wallet, &m.token_program, &m.address),
                *m,
            )
        })
        .collect();
    for (address, mint) in extra {
        let Some(m) = world.mints.iter().find(|m| m.address == *mint) else {
            return Err(format!(
                "--fund-token-account {}:{}: no pool of the world trades that mint",
                b58(address),
                b58(mint)
            ));
        };
        plan.push((*address, *m));
    }
    let mut added = Vec::new();
    for (address, m) in plan {
        if taken(world, &address) {
            return Err(format!(
                "token account {} of {} is already a world account",
                b58(&address),
                b58(&m.address)
            ));
        }
        let amount = tokens.saturating_mul(10u64.saturating_pow(u32::from(m.decimals)));
        let (data, lamports) = layouts::token_account(&m.address, wallet, amount);
        world.accounts.push(Account {
            address,
            owner: m.token_program,
            lamports,
            data,
        });
        added.push((address, m.address));
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_world_puts_the_snapshots_at_their_addresses_with_their_vaults() {
        let w = build(&default_specs().expect("specs")).expect("world");
        assert_eq!(w.pools.len(), 4);
        assert_eq!(
            w.accounts.len(),
            25,
            "12 pool and vault accounts, 13 they read"
        );
        let b58 = |a: &Address| bs58::encode(a).into_string();
        assert_eq!(
            b58(&w.accounts[0].address),
            "58oQChx4yWmvKdwLLZzBi4ChoCc2fqCUWBkwMihLYQo2"
        );
        assert_eq!(
            b58(&w.accounts[1].address),
            "DQyrAcCrDXQ7NeoqGgDCZwBvWDcYmFCjSb9JtteuvPpz"
        );
        for p in &w.pools {
            let data = &w.accounts[p.accounts[0]].data;
            for (k, off) in p.kind.vault_offsets().iter().enumerate() {
                assert_eq!(
                    &data[*off..*off + 32],
                    &w.accounts[p.accounts[1 + k]].address,
                    "{}: vault {k} is written into the pool data",
                    p.name
                );
            }
        }
    }

    #[test]
    fn the_second_cpmm_pool_is_built_as_the_program_would_create_it() {
        let w = build(&default_specs().expect("specs")).expect("world");
        let get = |a: &Address| {
            w.accounts
                .iter()
                .find(|x| x.address == *a)
                .unwrap_or_else(|| panic!("{} is served", bs58::encode(a).into_string()))
        };
        let [first, second] = [&w.pools[2], &w.pools[3]];
        let (p1, p2) = (
            &w.accounts[first.accounts[0]],
            &w.accounts[second.accounts[0]],
        );
        let pool = p2.address;
        let f = |d: &[u8], o: usize| addr_at(d, o);
        for (k, mint_off) in [(72, 168), (104, 200)] {
            assert_eq!(
                f(&p2.data, k),
                pda::cpmm_vault(&pool, &f(&p2.data, mint_off))
            );
            // Its vault is a token account of the pool's mint, owned by the authority.
            let v = get(&f(&p2.data, k));
            assert_eq!(f(&v.data, 0), f(&p2.data, mint_off));
            assert_eq!(f(&v.data, 32), pda::cpmm_authority().0);
        }
        assert_eq!(f(&p2.data, 136), pda::cpmm_lp_mint(&pool));
        assert_eq!(f(&p2.data, 296), pda::cpmm_observation(&pool));
        for off in [40, 136, 296] {
            assert_ne!(
                f(&p1.data, off),
                f(&p2.data, off),
                "offset {off} is its own"
            );
        }
        // Its observation state names it; its LP mint and the config exist.
        assert_eq!(f(&get(&f(&p2.data, 296)).data, 11), pool);
        assert_eq!(get(&f(&p2.data, 136)).data.len(), 82);
        assert_eq!(get(&f(&p2.data, 8)).owner, pda::raydium_cpmm());
        // The pump mint is Token-2022's, as the pool says.
        let pump = get(&f(&p2.data, 200));
        assert_eq!(pump.owner, pda::token_2022_program());
        assert_eq!(layouts::mint_decimals(&pump.data), Some(6));
    }

    #[test]
    fn a_funded_wallet_gets_an_ata_per_mint_under_its_token_program() {
        let mut w = build(&default_specs().expect("specs")).expect("world");
        let wallet = synthetic_address(77);
        let extra = synthetic_address(78);
        let added = fund_wallet(&mut w, &wallet, &[(extra, pda::native_mint())]).expect("funded");
        // SOL, USDC, the CPMM LP mints (2), pump; and the extra account.
        assert_eq!(added.len(), w.mints.len() + 1);
        assert_eq!(w.mints.len(), 5);
        for m in &w.mints {
            let ata = pda::associated_token_account(&wallet, &m.token_program, &m.address);
            let a = w.accounts.iter().find(|x| x.address == ata).expect("ata");
            assert_eq!(a.owner, m.token_program);
            assert_eq!(addr_at(&a.data, 0), m.address);
            assert_eq!(addr_at(&a.data, 32), wallet);
            assert_eq!(
                codec::token_amount(&a.data),
                Some(FUND_TOKENS * 10u64.pow(u32::from(m.decimals)))
            );
        }
        assert_eq!(
            pool_mint(&w, Kind::RaydiumCpmm, 0),
            Some(pda::native_mint())
        );
        assert_eq!(
            pool_mint(&w, Kind::RaydiumCpmm, 1).map(|m| bs58::encode(m).into_string()),
            Some("73edX6xoGY4v5y2hzuKdrUbJXLntqgmo74au1Ki1pump".into())
        );
        let e = fund_wallet(&mut w, &wallet, &[]).expect_err("twice");
        assert!(e.contains("already a world account"), "{e}");
        let e = fund_wallet(
            &mut w,
            &synthetic_address(79),
            &[(synthetic_address(80), [9; 32])],
        )
        .expect_err("unknown mint");
        assert!(e.contains("no pool of the world trades that mint"), "{e}");
    }

    #[test]
    fn a_config_places_pools_and_vaults_where_it_says_and_names_bad_keys() {
        let dir = std::env::temp_dir().join(format!("phantom-world-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("c.toml");
        let a = bs58::encode(synthetic_address(1)).into_string();
        let va = bs58::encode(synthetic_address(2)).into_string();
        let vb = bs58::encode(synthetic_address(3)).into_string();
        let wp = bs58::encode(synthetic_address(4)).into_string();
        std::fs::write(
            &path,
            format!(
                "[feeder]\nendpoints = []\n[[pools]]\nkind = \"raydium_amm_v4\"\naddress = \"{a}\"\n\
                 vaults = [\"{va}\", \"{vb}\"]\ndecimals = [9, 6]\n[[pools]]\nname = \"w\"\n\
                 kind = \"orca_whirlpool\"\naddress = \"{wp}\"\n"
            ),
        )
        .expect("write");
        let specs = specs_from_config(&path).expect("specs");
        let w = build(&specs).expect("world");
        assert_eq!(w.accounts[0].address, synthetic_address(1));
        assert_eq!(w.accounts[2].address, synthetic_address(3));
        assert_eq!(&w.accounts[0].data[368..400], &synthetic_address(3));
        assert_eq!(w.pools[1].name, "w");
        assert_eq!(
            w.sim[0].pair, w.sim[1].pair,
            "v4 and Whirlpool trade SOL/USDC"
        );
        std::fs::write(&path, "[[pools]]\nkind = \"serum\"\naddress = \"x\"\n").expect("write");
        let e = specs_from_config(&path).expect_err("refused");
        assert!(e.contains("pools[0].kind: unknown kind \"serum\""), "{e}");
        std::fs::write(
            &path,
            format!("[[pools]]\nkind = \"raydium_cpmm\"\naddress = \"{a}\"\n[[pools]]\nkind = \"raydium_cpmm\"\naddress = \"{a}\"\n"),
        )
        .expect("write");
        let e = specs_from_config(&path).expect_err("refused");
        assert!(
            e.contains("pools[1].address") && e.contains("used twice"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

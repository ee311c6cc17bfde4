//! Routes from pools and the wallet, at start and for `--print-routes`.
//!
//! At start the signer derives the legs that need it ([`crate::derive`]), warns of every
//! hand-written account that overrides a derived one, and in live mode refuses a route whose
//! wallet token account does not exist. `--print-routes` derives every leg whose pool has an
//! address and prints the accounts of each route's instructions with their sources.

use crate::config::Config;
use crate::derive::{self, DerivedLeg, Scope, Source};
use crate::engine::Following;
use crate::programs::{ids, orca_whirlpool};
use crate::rpc::RpcClient;
use crate::template::build_leg;
use serde_json::{json, Value};
use solana_address::Address;
use std::collections::BTreeMap;
use std::time::Duration;

/// Timeout of one derivation request.
const RPC_TIMEOUT: Duration = Duration::from_secs(30);

fn client(rpc: Option<&str>, why: &str) -> Result<RpcClient, String> {
    match rpc {
        Some(url) => Ok(RpcClient::new(url, RPC_TIMEOUT)),
        None => Err(format!(
            "{why}: no RPC endpoint to read the pools from; set [signer].rpc_endpoints or pass --rpc"
        )),
    }
}

/// The command that creates the wallet's associated token account of `mint`.
pub fn create_account_command(mint: &Address, token_program: &Address, wallet: &Address) -> String {
    if *token_program == ids::SPL_TOKEN_2022 {
        format!("spl-token create-account {mint} --owner {wallet} --program-2022")
    } else {
        format!("spl-token create-account {mint} --owner {wallet}")
    }
}

/// Why the routes could not be derived at start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The RPC could not be reached or answered badly.
    #[error("{0}")]
    Unreachable(String),
    /// Anything else (a pool that is not one, a missing token account, a bad route).
    #[error("{0}")]
    Refused(String),
}

/// Derives what the signer needs at start: the config with derived legs filled in, and for
/// each route whether it follows the current tick. In live mode every wallet token account
/// the routes use must exist.
pub fn derive_at_start(
    config: &Config,
    payer: Address,
    rpc: Option<&str>,
    live: bool,
) -> Result<(Config, Vec<Option<Following>>), StartError> {
    let needed = config.routes.iter().any(|r| {
        r.legs
            .iter()
            .any(|l| l.is_derived(&config.pools) && derive::needs_derivation(l))
    });
    let none = || config.routes.iter().map(|_| None).collect::<Vec<_>>();
    if !needed {
        return Ok((config.clone(), none()));
    }
    let mut client =
        client(rpc, "legs given by pool and direction").map_err(StartError::Refused)?;
    let derived =
        derive::derive(config, payer, Scope::Needed, &mut client).map_err(|e| match e {
            derive::DeriveError::Rpc(m) => StartError::Unreachable(m),
            other => StartError::Refused(other.to_string()),
        })?;
    for (i, route) in derived.iter().enumerate() {
        for (j, leg) in route.iter().enumerate() {
            for o in leg.iter().flat_map(|l| &l.overrides) {
                tracing::warn!(
                    leg = %format!("routes[{i}].legs[{j}]"),
                    account = %o.name,
                    configured = %o.configured,
                    derived = %o.derived.map_or_else(|| "-".to_string(), |a| a.to_string()),
                    "a hand-written account overrides the derived one"
                );
            }
        }
    }
    if live {
        check_user_accounts(&derived, payer, &mut client).map_err(StartError::Refused)?;
    }
    let resolved = derive::resolve(config, &derived);
    // What needs the accounts (a cyclic route, the worst price in live mode) is checked
    // again now that they are known.
    resolved
        .validate()
        .map_err(|e| StartError::Refused(e.to_string()))?;
    let following = config
        .routes
        .iter()
        .zip(&derived)
        .map(|(route, d)| {
            derive::follows(route, d).map(|legs| Following {
                legs,
                route: route.clone(),
                derived: d.clone(),
                rebuild: false,
            })
        })
        .collect();
    Ok((resolved, following))
}

/// Refuses a route whose wallet token account does not exist, naming the mint, the address
/// and the command that creates it.
fn check_user_accounts(
    derived: &[Vec<Option<DerivedLeg>>],
    wallet: Address,
    client: &mut RpcClient,
) -> Result<(), String> {
    use crate::derive::AccountSource;
    let mut all = Vec::new();
    for (i, route) in derived.iter().enumerate() {
        for (j, leg) in route.iter().enumerate() {
            for u in leg.iter().flat_map(|l| &l.user_accounts) {
                all.push((i, j, u.clone()));
            }
        }
    }
    let keys: Vec<Address> = all.iter().map(|(_, _, u)| u.address).collect();
    let found = client.get_multiple(&keys).map_err(|e| e.to_string())?;
    for ((i, j, u), f) in all.iter().zip(found) {
        if f.is_none() {
            return Err(format!(
                "routes[{i}].legs[{j}]: the wallet's token account of mint {} ({}) does not \
                 exist at {}; create it with `{}` (WSOL: see docs/mainnet.md), then start again",
                u.mint,
                u.name,
                u.address,
                create_account_command(&u.mint, &u.token_program, &wallet)
            ));
        }
    }
    Ok(())
}

/// The `--print-routes` report and whether it is clean (every account derived, nothing
/// missing).
pub fn print_routes(
    config: &Config,
    wallet: Address,
    rpc: Option<&str>,
) -> Result<(String, bool), String> {
    let derivable = config
        .routes
        .iter()
        .any(|r| r.legs.iter().any(|l| l.is_derived(&config.pools)));
    let mut absent = Vec::new();
    let derived = if derivable {
        use crate::derive::AccountSource;
        let mut client = client(rpc, "--print-routes")?;
        let derived =
            derive::derive(config, wallet, Scope::All, &mut client).map_err(|e| e.to_string())?;
        let users: Vec<Address> = derived
            .iter()
            .flatten()
            .flatten()
            .flat_map(|l| l.user_accounts.iter().map(|u| u.address))
            .collect();
        let found = client.get_multiple(&users).map_err(|e| e.to_string())?;
        absent = users
            .iter()
            .zip(found)
            .filter(|(_, f)| f.is_none())
            .map(|(a, _)| *a)
            .collect();
        derived
    } else {
        config
            .routes
            .iter()
            .map(|r| vec![None; r.legs.len()])
            .collect()
    };
    let (value, clean) = routes_json(config, &derived, wallet, &absent);
    let text = serde_json::to_string_pretty(&value).map_err(|e| e.to_string())?;
    Ok((text, clean))
}

/// The routes as JSON (`{"routes": [...]}`) and whether they are clean.
pub fn routes_json(
    config: &Config,
    derived: &[Vec<Option<DerivedLeg>>],
    wallet: Address,
    absent: &[Address],
) -> (Value, bool) {
    let mut clean = true;
    let mut routes = Vec::new();
    for (i, (route, d)) in config.routes.iter().zip(derived).enumerate() {
        let resolved = derive::resolve_route(route, d, &[]);
        let mut legs = Vec::new();
        let mut missing: Vec<Value> = Vec::new();
        let mut overrides: Vec<Value> = Vec::new();
        for (j, (leg, dl)) in resolved.legs.iter().zip(d).enumerate() {
            let key = format!("routes[{i}].legs[{j}]");
            let accounts: BTreeMap<String, (Address, Source)> = match dl {
                Some(dl) => dl.accounts.clone(),
                None => leg
                    .accounts
                    .iter()
                    .map(|(n, a)| (n.clone(), (a.0, Source::Config)))
                    .collect(),
            };
            for o in dl.iter().flat_map(|l| &l.overrides) {
                clean = false;
                overrides.push(json!({
                    "leg": j,
                    "name": o.name,
                    "configured": o.configured.to_string(),
                    "derived": o.derived.map(|a| a.to_string()),
                }));
            }
            if dl.is_none() && leg.kind().is_swap() {
                clean = false;
                overrides.push(json!({
                    "leg": j,
                    "name": "*",
                    "configured": "every account",
                    "derived": null,
                }));
            }
            for u in dl.iter().flat_map(|l| &l.user_accounts) {
                if absent.contains(&u.address) {
                    clean = false;
                    missing.push(json!({
                        "leg": j,
                        "name": u.name,
                        "mint": u.mint.to_string(),
                        "address": u.address.to_string(),
                        "token_program": u.token_program.to_string(),
                        "create": create_account_command(&u.mint, &u.token_program, &wallet),
                    }));
                }
            }
            let mut extra: BTreeMap<Address, Source> = BTreeMap::new();
            extra.insert(wallet, Source::Config);
            let mut arrays = [Address::default(); 3];
            if let Some(v) = leg.tick_array_variants.first() {
                // The set for the current tick: the middle of the prepared window.
                let current = dl.as_ref().and_then(|l| l.whirlpool).map(|f| {
                    orca_whirlpool::tick_array_starts(f.tick_current, f.tick_spacing, f.direction)
                });
                let chosen = current
                    .and_then(|s| {
                        leg.tick_array_variants
                            .iter()
                            .find(|v| v.start_tick_index == s[0])
                    })
                    .unwrap_or(v);
                for (k, a) in chosen.tick_arrays.iter().take(3).enumerate() {
                    arrays[k] = a.0;
                }
                if let (Some(f), Some(starts)) = (dl.as_ref().and_then(|l| l.whirlpool), current) {
                    for s in starts {
                        extra.insert(
                            orca_whirlpool::tick_array_address(&f.program_id, &f.whirlpool, s),
                            Source::Pda(format!("tick_array,{},{s}", f.whirlpool)),
                        );
                    }
                }
            }
            let map: BTreeMap<String, Address> =
                accounts.iter().map(|(n, (a, _))| (n.clone(), *a)).collect();
            let direction = leg.direction.unwrap_or(crate::programs::Direction::AToB);
            let names = derive::instruction_names(leg.kind(), direction);
            let accounts_json = match build_leg(leg, &map, wallet, arrays) {
                Ok(ix) => derive::leg_json(&ix.instruction, &names, &accounts, &extra),
                Err(e) => {
                    clean = false;
                    overrides.push(json!({"leg": j, "name": "?", "configured": null, "derived": null, "error": format!("{key}.{e}")}));
                    Value::Array(Vec::new())
                }
            };
            legs.push(json!({
                "pool": leg.pool,
                "program": leg.kind().name(),
                "program_id": leg.program_id().to_string(),
                "direction": match leg.direction {
                    Some(crate::programs::Direction::AToB) => "a_to_b",
                    Some(crate::programs::Direction::BToA) => "b_to_a",
                    None => "",
                },
                "accounts": accounts_json,
                // The same accounts by config name ([routes.legs.accounts] keys), for tools
                // that build the instruction themselves (the Python baselines).
                "named": map.iter().map(|(n, a)| (n.clone(), Value::String(a.to_string()))).collect::<serde_json::Map<_, _>>(),
            }));
        }
        routes.push(json!({
            "id": i,
            "name": route.name.clone().unwrap_or_default(),
            "legs": legs,
            "missing": missing,
            "overrides": overrides,
        }));
    }
    (
        json!({"wallet": wallet.to_string(), "routes": routes}),
        clean,
    )
}

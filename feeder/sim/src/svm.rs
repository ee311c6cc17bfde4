//! The embedded SVM: LiteSVM, the prebuilt `solders.litesvm`, in a Python executor process
//! (`executor/svm_executor.py`, carried in this binary) that the simulator drives over pipes
//! with JSON lines. The simulator's [`State`] stays the source of truth: before every
//! execution the accounts written since the last one are copied into the VM, and what a
//! committed transaction changed is copied back (and notified).
//!
//! Why an executor and not the `litesvm` crate: the crate and its Agave dependencies would
//! add several minutes of compilation to every install on a small machine; `solders` is
//! already a dependency of the tests and ships LiteSVM compiled.

use crate::state::{Account, Address, State};
use base64::Engine as _;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const EXECUTOR: &str = include_str!("../executor/svm_executor.py");

/// Why the SVM could not start or answer.
#[derive(Debug, thiserror::Error)]
pub enum SvmError {
    /// The executor process could not be started or talked to.
    #[error("SVM executor ({python}): {why}")]
    Executor {
        /// The interpreter.
        python: String,
        /// What went wrong.
        why: String,
    },
    /// The executor refused a request.
    #[error("SVM executor: {0}")]
    Refused(String),
}

/// A program binary found in `--programs`.
#[derive(Debug, Clone)]
pub struct Program {
    /// Its id.
    pub id: Address,
    /// The file.
    pub path: PathBuf,
}

/// The programs the simulator knows by file name: `raydium_cp_swap.so` (Raydium CPMM) and
/// `whirlpool.so` (Orca Whirlpool), as `../shared/programs` names them; `raydium_amm_v4.so`
/// would be Raydium AMM v4.
pub fn known_programs() -> [(&'static str, Address, &'static str); 3] {
    [
        (
            "raydium_cp_swap.so",
            crate::pda::raydium_cpmm(),
            "raydium_cpmm",
        ),
        (
            "whirlpool.so",
            crate::pda::orca_whirlpool(),
            "orca_whirlpool",
        ),
        (
            "raydium_amm_v4.so",
            crate::pda::raydium_amm_v4(),
            "raydium_amm_v4",
        ),
    ]
}

/// The known programs whose binary is in `dir`.
pub fn programs_in(dir: &Path) -> Result<Vec<Program>, String> {
    let meta = std::fs::metadata(dir).map_err(|e| format!("--programs {}: {e}", dir.display()))?;
    if !meta.is_dir() {
        return Err(format!("--programs {}: not a directory", dir.display()));
    }
    Ok(known_programs()
        .iter()
        .map(|(file, id, _)| Program {
            id: *id,
            path: dir.join(file),
        })
        .filter(|p| p.path.is_file())
        .collect())
}

/// What an execution answered.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Solana's JSON shape of the transaction error (`Value::Null`: success).
    pub err: Value,
    /// Program logs.
    pub logs: Vec<Value>,
    /// Compute units consumed.
    pub units: u64,
    /// Accounts the transaction changed (post-state).
    pub changed: Vec<Account>,
    /// Post-states of the accounts asked for (None: absent).
    pub accounts: Option<Vec<Option<Account>>>,
}

struct Executor {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// The state's generation last copied into the VM.
    synced: u64,
}

/// The running executor (one request at a time).
pub struct Svm {
    python: String,
    inner: Mutex<Executor>,
    /// The programs loaded.
    pub programs: Vec<Program>,
}

fn account_json(a: &Account) -> Value {
    json!([
        bs58::encode(a.address).into_string(),
        bs58::encode(a.owner).into_string(),
        a.lamports,
        B64.encode(&a.data)
    ])
}

fn account_of(v: &Value) -> Result<Account, String> {
    let f = |i: usize| {
        v.get(i)
            .ok_or_else(|| format!("account entry {v} too short"))
    };
    let s = |i: usize| {
        f(i)?
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("account entry {v}: field {i} is not a string"))
    };
    Ok(Account {
        address: crate::codec::address(&s(0)?)?,
        owner: crate::codec::address(&s(1)?)?,
        lamports: f(2)?
            .as_u64()
            .ok_or_else(|| format!("account entry {v}: lamports"))?,
        data: B64.decode(s(3)?).map_err(|e| e.to_string())?,
    })
}

impl Svm {
    /// Starts the executor with `python` and loads `programs`.
    pub fn start(python: &str, programs: Vec<Program>) -> Result<Svm, SvmError> {
        let fail = |why: String| SvmError::Executor {
            python: python.to_owned(),
            why,
        };
        let mut child = Command::new(python)
            .arg("-c")
            .arg(EXECUTOR)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| fail(format!("cannot start: {e}")))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            return Err(fail("no pipes".into()));
        };
        let svm = Svm {
            python: python.to_owned(),
            inner: Mutex::new(Executor {
                child,
                stdin,
                stdout: BufReader::new(stdout),
                synced: 0,
            }),
            programs,
        };
        let list: Vec<Value> = svm
            .programs
            .iter()
            .map(|p| json!([bs58::encode(p.id).into_string(), p.path.to_string_lossy()]))
            .collect();
        svm.request(&mut svm.lock(), json!({"op": "init", "programs": list}))?;
        Ok(svm)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Executor> {
        // A panic while holding it would be a bug here; the pipes stay usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn request(&self, ex: &mut Executor, req: Value) -> Result<Value, SvmError> {
        let fail = |why: String| SvmError::Executor {
            python: self.python.clone(),
            why,
        };
        let mut line = req.to_string();
        line.push('\n');
        ex.stdin
            .write_all(line.as_bytes())
            .and_then(|()| ex.stdin.flush())
            .map_err(|e| fail(format!("write: {e} (did it exit? see its stderr)")))?;
        let mut reply = String::new();
        let n = ex
            .stdout
            .read_line(&mut reply)
            .map_err(|e| fail(format!("read: {e}")))?;
        if n == 0 {
            return Err(fail("exited (see its stderr above)".into()));
        }
        let v: Value =
            serde_json::from_str(&reply).map_err(|e| fail(format!("bad reply {reply:?}: {e}")))?;
        if v.get("ok") != Some(&Value::Bool(true)) {
            let why = v
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("refused without a reason");
            return Err(SvmError::Refused(why.to_owned()));
        }
        Ok(v)
    }

    /// Copies the accounts written since the last sync into the VM, and sets its clock.
    fn sync(&self, ex: &mut Executor, state: &State) -> Result<(), SvmError> {
        let (changed, generation) = state.changed_since(ex.synced);
        if !changed.is_empty() {
            let list: Vec<Value> = changed.iter().map(|a| account_json(a)).collect();
            self.request(ex, json!({"op": "set", "accounts": list}))?;
        }
        ex.synced = generation;
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.request(
            ex,
            json!({"op": "clock", "slot": state.slot(), "unix": unix}),
        )?;
        Ok(())
    }

    /// Executes the wire transaction `wire` against the state: simulated (`commit` false:
    /// nothing changes) or committed (its changes are written into `state`, which is what
    /// [`Outcome::changed`] lists). `want`: addresses whose post-state to return.
    pub fn execute(
        &self,
        state: &State,
        wire: &[u8],
        commit: bool,
        sig_verify: bool,
        want: Option<&[String]>,
    ) -> Result<Outcome, SvmError> {
        let mut ex = self.lock();
        self.sync(&mut ex, state)?;
        let v = self.request(
            &mut ex,
            json!({"op": "exec", "tx": B64.encode(wire), "commit": commit,
                   "sig_verify": sig_verify, "want": want}),
        )?;
        let bad = |why: String| SvmError::Refused(format!("exec reply: {why}"));
        let changed = v
            .get("changed")
            .and_then(Value::as_array)
            .map(|l| l.iter().map(account_of).collect::<Result<Vec<_>, _>>())
            .transpose()
            .map_err(bad)?
            .unwrap_or_default();
        let accounts = match v.get("accounts").and_then(Value::as_array) {
            None => None,
            Some(l) => Some(
                l.iter()
                    .map(|a| (!a.is_null()).then(|| account_of(a)).transpose())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(bad)?,
            ),
        };
        if commit {
            // Written back into the state; the next sync copies them into the VM again
            // (redundant, but a write by another thread meanwhile is never skipped).
            for a in &changed {
                state.put(a.clone());
            }
        }
        Ok(Outcome {
            err: v.get("err").cloned().unwrap_or(Value::Null),
            logs: v
                .get("logs")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            units: v.get("units").and_then(Value::as_u64).unwrap_or(0),
            changed,
            accounts,
        })
    }
}

impl Drop for Svm {
    fn drop(&mut self) {
        let mut ex = self.lock();
        let _ = ex.child.kill();
        let _ = ex.child.wait();
    }
}

/// What the simulator needs of a wire transaction without executing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxInfo {
    /// First signature.
    pub signature: [u8; 64],
    /// Byte offset of the recent blockhash in the wire.
    pub blockhash_at: usize,
    /// The recent blockhash.
    pub blockhash: [u8; 32],
    /// Program ids of the top-level instructions.
    pub programs: Vec<Address>,
}

fn compact_u16(wire: &[u8], at: &mut usize) -> Option<usize> {
    let mut v = 0usize;
    for i in 0..3 {
        let b = *wire.get(*at)?;
        *at += 1;
        v |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// Parses a legacy or v0 wire transaction far enough for [`TxInfo`]; None: malformed.
pub fn parse_tx(wire: &[u8]) -> Option<TxInfo> {
    let mut at = 0;
    let nsig = compact_u16(wire, &mut at)?;
    if nsig == 0 {
        return None;
    }
    let signature: [u8; 64] = wire.get(at..at + 64)?.try_into().ok()?;
    at += 64 * nsig;
    if *wire.get(at)? & 0x80 != 0 {
        at += 1; // version prefix
    }
    at += 3; // header
    let nkeys = compact_u16(wire, &mut at)?;
    let keys_at = at;
    at += 32 * nkeys;
    let blockhash_at = at;
    let blockhash: [u8; 32] = wire.get(at..at + 32)?.try_into().ok()?;
    at += 32;
    let nix = compact_u16(wire, &mut at)?;
    let mut programs = Vec::with_capacity(nix);
    for _ in 0..nix {
        let p = usize::from(*wire.get(at)?);
        at += 1;
        if p >= nkeys {
            return None;
        }
        programs.push(
            wire.get(keys_at + 32 * p..keys_at + 32 * p + 32)?
                .try_into()
                .ok()?,
        );
        let na = compact_u16(wire, &mut at)?;
        at += na;
        let nd = compact_u16(wire, &mut at)?;
        at += nd;
        if at > wire.len() {
            return None;
        }
    }
    Some(TxInfo {
        signature,
        blockhash_at,
        blockhash,
        programs,
    })
}

/// Shared handle.
pub type SharedSvm = Arc<Svm>;

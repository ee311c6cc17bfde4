//! What the simulator serves: accounts (address, owner, lamports, data) at a slot, the
//! recent blockhash, and the signatures of transactions it was sent. Shared by the PubSub
//! server, the JSON-RPC server and the market driver.

use phantom_ringbuf::schema::splitmix64;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A 32-byte Solana address.
pub type Address = [u8; 32];

/// One account as the RPC serves it.
#[derive(Debug, Clone)]
pub struct Account {
    /// Its address.
    pub address: Address,
    /// Owning program.
    pub owner: Address,
    /// Lamports.
    pub lamports: u64,
    /// Account data, in the owning program's layout.
    pub data: Vec<u8>,
}

/// A change the PubSub server pushes to subscribers.
#[derive(Debug, Clone)]
pub enum Event {
    /// An account's data changed at `slot`.
    Account {
        /// Index in the account table.
        index: usize,
        /// Slot of the change.
        slot: u64,
        /// The new account.
        account: Arc<Account>,
    },
    /// A new slot began.
    Slot {
        /// The slot.
        slot: u64,
    },
}

/// Shared simulator state.
#[derive(Default)]
pub struct State {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    accounts: Vec<Arc<Account>>,
    by_address: HashMap<Address, usize>,
    slot: u64,
    base_slot: u64,
    block_height: u64,
    blockhash: [u8; 32],
    /// Blockhashes of the last [`RECENT_BLOCKHASHES`] slots, oldest first.
    recent: std::collections::VecDeque<[u8; 32]>,
    signatures: HashMap<[u8; 64], (u64, Option<serde_json::Value>)>,
    /// Change counter: bumped by every account write; `changed_at[i]` is account i's.
    generation: u64,
    changed_at: Vec<u64>,
}

/// How many slots a blockhash stays valid for (as a validator's blockhash queue).
pub const RECENT_BLOCKHASHES: usize = 150;

impl State {
    /// State with `accounts` at `slot`.
    pub fn new(accounts: Vec<Account>, slot: u64) -> Self {
        let n = accounts.len();
        let by_address = accounts
            .iter()
            .enumerate()
            .map(|(i, a)| (a.address, i))
            .collect();
        let s = State {
            inner: Mutex::new(Inner {
                accounts: accounts.into_iter().map(Arc::new).collect(),
                by_address,
                slot,
                base_slot: slot,
                block_height: slot,
                blockhash: [0; 32],
                recent: std::collections::VecDeque::new(),
                signatures: HashMap::new(),
                generation: 1,
                changed_at: vec![1; n],
            }),
        };
        s.advance_slot(slot);
        s
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock would be a bug in this crate; the state itself is
        // always consistent between statements, so carrying on is safe.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replace account `index`'s data; returns the new account.
    pub fn set_data(&self, index: usize, data: Vec<u8>) -> Arc<Account> {
        let mut g = self.lock();
        let mut acc = (*g.accounts[index]).clone();
        acc.data = data;
        let acc = Arc::new(acc);
        g.accounts[index] = acc.clone();
        g.generation += 1;
        g.changed_at[index] = g.generation;
        acc
    }

    /// Write `account` (owner, lamports and data) at its address, adding it if the state
    /// does not hold it yet; returns its index and the new account.
    pub fn put(&self, account: Account) -> (usize, Arc<Account>) {
        let mut g = self.lock();
        let acc = Arc::new(account);
        let index = match g.by_address.get(&acc.address) {
            Some(&i) => {
                g.accounts[i] = acc.clone();
                i
            }
            None => {
                let i = g.accounts.len();
                g.accounts.push(acc.clone());
                g.changed_at.push(0);
                g.by_address.insert(acc.address, i);
                i
            }
        };
        g.generation += 1;
        g.changed_at[index] = g.generation;
        (index, acc)
    }

    /// Accounts written after generation `since`, and the current generation.
    pub fn changed_since(&self, since: u64) -> (Vec<Arc<Account>>, u64) {
        let g = self.lock();
        let out = g
            .changed_at
            .iter()
            .enumerate()
            .filter(|(_, &c)| c > since)
            .map(|(i, _)| g.accounts[i].clone())
            .collect();
        (out, g.generation)
    }

    /// Whether `hash` is the blockhash of one of the last [`RECENT_BLOCKHASHES`] slots.
    pub fn blockhash_is_recent(&self, hash: &[u8; 32]) -> bool {
        self.lock().recent.iter().any(|h| h == hash)
    }

    /// Begin `slot`: a new blockhash too (derived from the slot, deterministic).
    pub fn advance_slot(&self, slot: u64) {
        let mut g = self.lock();
        g.slot = slot;
        g.block_height = slot;
        for (i, chunk) in g.blockhash.chunks_mut(8).enumerate() {
            chunk
                .copy_from_slice(&splitmix64(slot ^ (i as u64).wrapping_mul(0x9E37)).to_le_bytes());
        }
        let h = g.blockhash;
        g.recent.push_back(h);
        while g.recent.len() > RECENT_BLOCKHASHES {
            g.recent.pop_front();
        }
    }

    /// Current slot.
    pub fn slot(&self) -> u64 {
        self.lock().slot
    }

    /// (blockhash, last valid block height) as `getLatestBlockhash` reports them.
    pub fn latest_blockhash(&self) -> ([u8; 32], u64) {
        let g = self.lock();
        (g.blockhash, g.block_height + 150)
    }

    /// The account at `address`, if the simulator serves it.
    pub fn account(&self, address: &Address) -> Option<Arc<Account>> {
        let g = self.lock();
        g.by_address.get(address).map(|&i| g.accounts[i].clone())
    }

    /// Account number `index`.
    pub fn account_at(&self, index: usize) -> Option<Arc<Account>> {
        self.lock().accounts.get(index).cloned()
    }

    /// Address of account number `index` (zeroes if out of range).
    pub fn address_at(&self, index: usize) -> Address {
        self.account_at(index).map(|a| a.address).unwrap_or([0; 32])
    }

    /// The slot the simulation started at.
    pub fn base_slot(&self) -> u64 {
        self.lock().base_slot
    }

    /// Index of the account at `address`.
    pub fn index_of(&self, address: &Address) -> Option<usize> {
        self.lock().by_address.get(address).copied()
    }

    /// Record a transaction signature as landed in the current slot, with its error (Solana's
    /// JSON shape; None: it succeeded); returns the slot.
    pub fn land(&self, signature: [u8; 64], err: Option<serde_json::Value>) -> u64 {
        let mut g = self.lock();
        let slot = g.slot;
        g.signatures.insert(signature, (slot, err));
        slot
    }

    /// Slot a signature landed in, and its error.
    pub fn status_of(&self, signature: &[u8; 64]) -> Option<(u64, Option<serde_json::Value>)> {
        self.lock().signatures.get(signature).cloned()
    }
}

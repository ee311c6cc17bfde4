//! ed25519 signing: RFC 8032 (the default) and the opt-in precomputed-nonce signer.
//!
//! # RFC 8032
//! Deterministic: the nonce is `r = SHA-512(prefix || M)` from the secret key's hash prefix, so
//! the same message always gives the same signature and no randomness is needed. A signature
//! costs two SHA-512 passes over the message and a fixed-base scalar multiplication `r·B`,
//! which is most of its time.
//!
//! # Precomputed nonces (`signing = "precomputed-nonce"`)
//! A background thread draws `r` uniformly from the OS CSPRNG (64 bytes from `getrandom`,
//! reduced mod ℓ) and computes `R = r·B` ahead of time, keeping a bounded pool of such pairs.
//! Signing then takes one pair and computes `k = SHA-512(R || A || M) mod ℓ`, `S = r + k·a`:
//! one hash and a scalar multiply-add, no point multiplication. The result is an ordinary
//! ed25519 signature that any verifier accepts (RFC 8032 verification never recomputes `r`).
//!
//! The trade-off, accepted only by opting in:
//! * signatures are randomized, not deterministic: signing the same message twice gives two
//!   different valid signatures (and so two different transaction ids);
//! * security rests on the CSPRNG and on each nonce being used exactly once: two signatures
//!   with the same `r` over different messages reveal the secret scalar. Hence the pool is
//!   process-private heap memory (never shared memory), a nonce is moved out of the pool and
//!   its slot zeroed as it is taken, and zeroized once used; and after a `fork` the child's
//!   copy of the pool (which the parent may also use) is discarded, never used: the signer
//!   checks its pid on every signature (one `getpid`) and starts a fresh pool and thread in a
//!   new process;
//! * when the pool is empty the signer falls back to RFC 8032, which is always safe, and counts
//!   the fallback.

use curve25519_dalek::constants::ED25519_BASEPOINT_TABLE;
use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::{Signer as _, SigningKey};
use sha2::{Digest, Sha512};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Bytes of an ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

/// How often a signer took each path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SignerStats {
    /// Signatures made with a precomputed nonce.
    pub precomputed: u64,
    /// Signatures made per RFC 8032 (all of them in RFC 8032 mode; pool misses otherwise).
    pub rfc8032: u64,
    /// Times the nonce pool was discarded because the process had forked.
    pub fork_restarts: u64,
}

/// An ed25519 signer of transaction messages; owns (a copy of) the secret key.
pub struct Signer {
    kind: Kind,
    public: [u8; 32],
    stats: SignerStats,
}

enum Kind {
    Rfc8032(SigningKey),
    Precomputed(PrecomputedNonceSigner),
}

impl Signer {
    /// A deterministic RFC 8032 signer.
    pub fn rfc8032(key: SigningKey) -> Self {
        let public = key.verifying_key().to_bytes();
        Signer {
            kind: Kind::Rfc8032(key),
            public,
            stats: SignerStats::default(),
        }
    }

    /// A precomputed-nonce signer keeping up to `pool_size` nonces ready (see the module doc).
    pub fn precomputed_nonce(key: SigningKey, pool_size: usize) -> Self {
        let public = key.verifying_key().to_bytes();
        Signer {
            kind: Kind::Precomputed(PrecomputedNonceSigner::new(key, pool_size)),
            public,
            stats: SignerStats::default(),
        }
    }

    /// The public key (the fee payer's address).
    pub fn public_key(&self) -> [u8; 32] {
        self.public
    }

    /// Signs `message`. Allocation-free once the pool exists (a fork restart allocates).
    pub fn sign(&mut self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        match &mut self.kind {
            Kind::Rfc8032(key) => {
                self.stats.rfc8032 += 1;
                key.sign(message).to_bytes()
            }
            Kind::Precomputed(p) => {
                if p.restart_if_forked() {
                    self.stats.fork_restarts += 1;
                }
                match p.take_nonce() {
                    Some(nonce) => {
                        self.stats.precomputed += 1;
                        p.sign_with(nonce, message)
                    }
                    None => {
                        self.stats.rfc8032 += 1;
                        p.key.sign(message).to_bytes()
                    }
                }
            }
        }
    }

    /// Counters of the paths taken.
    pub fn stats(&self) -> SignerStats {
        self.stats
    }

    /// Nonces ready now (0 in RFC 8032 mode).
    pub fn nonces_ready(&self) -> usize {
        match &self.kind {
            Kind::Rfc8032(_) => 0,
            Kind::Precomputed(p) => lock(&p.pool.ready).len(),
        }
    }

    /// Whether this signer uses precomputed nonces.
    pub fn is_precomputed(&self) -> bool {
        matches!(self.kind, Kind::Precomputed(_))
    }

    #[cfg(test)]
    fn pretend_forked(&mut self) {
        if let Kind::Precomputed(p) = &mut self.kind {
            p.owner_pid = p.owner_pid.wrapping_add(1);
        }
    }
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match self.kind {
            Kind::Rfc8032(_) => "rfc8032",
            Kind::Precomputed(_) => "precomputed-nonce",
        };
        f.debug_struct("Signer")
            .field("mode", &mode)
            .field(
                "public_key",
                &solana_address::Address::new_from_array(self.public),
            )
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// One single-use nonce: `r` and `R = r·B` (compressed).
#[derive(Default, Zeroize, ZeroizeOnDrop)]
struct Nonce {
    r: Scalar,
    big_r: [u8; 32],
}

impl Nonce {
    fn fresh() -> Result<Self, getrandom::Error> {
        let mut wide = [0u8; 64];
        getrandom::fill(&mut wide)?;
        let r = Scalar::from_bytes_mod_order_wide(&wide);
        wide.zeroize();
        let big_r = (ED25519_BASEPOINT_TABLE * &r).compress().to_bytes();
        Ok(Nonce { r, big_r })
    }
}

struct NoncePool {
    /// Ready nonces. Capacity reserved up front, so pushes never reallocate (a reallocation
    /// would leave copies of nonces in freed memory).
    ready: Mutex<Vec<Nonce>>,
    capacity: usize,
    /// Wakes the worker when the pool drops below full.
    refill: Condvar,
    stop: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave a Vec of nonces inconsistent.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl NoncePool {
    fn new(capacity: usize) -> Arc<Self> {
        Arc::new(NoncePool {
            ready: Mutex::new(Vec::with_capacity(capacity)),
            capacity,
            refill: Condvar::new(),
            stop: AtomicBool::new(false),
        })
    }

    fn fill_loop(&self) {
        loop {
            {
                let mut ready = lock(&self.ready);
                while ready.len() >= self.capacity {
                    // Relaxed would do under the mutex; Acquire pairs with the Release store in
                    // `shutdown` for the read outside it below.
                    if self.stop.load(Ordering::Acquire) {
                        return;
                    }
                    ready = self
                        .refill
                        .wait_timeout(ready, Duration::from_millis(50))
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
            }
            if self.stop.load(Ordering::Acquire) {
                return;
            }
            match Nonce::fresh() {
                Ok(nonce) => {
                    let mut ready = lock(&self.ready);
                    if ready.len() < self.capacity {
                        ready.push(nonce);
                    }
                }
                // The OS RNG failing is not expected; signing falls back to RFC 8032 meanwhile.
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }

    fn shutdown_and_wipe(&self) {
        // Release: pairs with the Acquire loads in `fill_loop`.
        self.stop.store(true, Ordering::Release);
        self.refill.notify_all();
        let mut ready = lock(&self.ready);
        ready.iter_mut().for_each(Zeroize::zeroize);
        ready.clear();
    }
}

struct PrecomputedNonceSigner {
    key: SigningKey,
    /// The clamped secret scalar `a` (reduced mod ℓ: `A = a·B` either way).
    secret_scalar: Scalar,
    public: [u8; 32],
    pool: Arc<NoncePool>,
    worker: Option<JoinHandle<()>>,
    owner_pid: u32,
}

impl PrecomputedNonceSigner {
    fn new(key: SigningKey, pool_size: usize) -> Self {
        let secret_scalar = key.to_scalar();
        let public = key.verifying_key().to_bytes();
        let pool = NoncePool::new(pool_size.max(1));
        let worker = Some(spawn_worker(&pool));
        PrecomputedNonceSigner {
            key,
            secret_scalar,
            public,
            pool,
            worker,
            owner_pid: std::process::id(),
        }
    }

    /// After a fork the pool is a copy the parent may also draw from: discard it, never use
    /// it. The parent's worker thread does not exist in the child, so it is not joined.
    fn restart_if_forked(&mut self) -> bool {
        let pid = std::process::id();
        if pid == self.owner_pid {
            return false;
        }
        // try_lock: the parent's worker may have held the lock at the fork, forever here.
        if let Ok(mut ready) = self.pool.ready.try_lock() {
            ready.iter_mut().for_each(Zeroize::zeroize);
            ready.clear();
        }
        if let Some(handle) = self.worker.take() {
            std::mem::forget(handle);
        }
        self.pool = NoncePool::new(self.pool.capacity);
        self.worker = Some(spawn_worker(&self.pool));
        self.owner_pid = pid;
        true
    }

    fn take_nonce(&self) -> Option<Nonce> {
        let mut ready = lock(&self.pool.ready);
        let was_full = ready.len() == self.pool.capacity;
        // Take the value and leave zeros in its slot, so the Vec's buffer keeps no copy.
        let nonce = ready.last_mut().map(std::mem::take);
        ready.pop();
        drop(ready);
        if was_full {
            self.pool.refill.notify_one();
        }
        nonce
    }

    fn sign_with(&self, nonce: Nonce, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        let mut h = Sha512::new();
        h.update(nonce.big_r);
        h.update(self.public);
        h.update(message);
        let mut wide = [0u8; 64];
        wide.copy_from_slice(&h.finalize());
        let k = Scalar::from_bytes_mod_order_wide(&wide);
        let s = k * self.secret_scalar + nonce.r;
        let mut sig = [0u8; SIGNATURE_LEN];
        sig[..32].copy_from_slice(&nonce.big_r);
        sig[32..].copy_from_slice(s.as_bytes());
        // `nonce` is zeroized as it drops here.
        sig
    }
}

fn spawn_worker(pool: &Arc<NoncePool>) -> JoinHandle<()> {
    let pool = Arc::clone(pool);
    std::thread::Builder::new()
        .name("phantom-nonces".into())
        .spawn(move || pool.fill_loop())
        .unwrap_or_else(|e| {
            // Without the thread the pool stays empty and every signature falls back to
            // RFC 8032: slower, never unsafe. Report rather than fail.
            eprintln!("phantom-signer: nonce thread not started ({e}); signing per RFC 8032");
            std::thread::spawn(|| {})
        })
}

impl Drop for PrecomputedNonceSigner {
    fn drop(&mut self) {
        self.secret_scalar.zeroize();
        if std::process::id() != self.owner_pid {
            // Forked and never signed since: the parent's thread and lock are not ours.
            if let Some(handle) = self.worker.take() {
                std::mem::forget(handle);
            }
            return;
        }
        self.pool.shutdown_and_wipe();
        if let Some(handle) = self.worker.take() {
            let _ = handle.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signature, VerifyingKey};
    use std::collections::HashSet;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn verify(public: [u8; 32], msg: &[u8], sig: [u8; 64]) -> bool {
        let vk = VerifyingKey::from_bytes(&public).expect("public key");
        vk.verify_strict(msg, &Signature::from_bytes(&sig)).is_ok()
    }

    /// Waits (bounded) until the pool holds at least `n` nonces.
    fn wait_for_nonces(s: &Signer, n: usize) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while s.nonces_ready() < n {
            assert!(
                std::time::Instant::now() < deadline,
                "nonce pool never filled"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn rfc8032_matches_the_rfc_test_vectors() {
        // RFC 8032 §7.1, TEST 1 (empty message) and TEST 2 (one byte 0x72).
        let vectors = [
            (
                "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
                "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
                "",
                "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
            ),
            (
                "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
                "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
                "72",
                "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
            ),
        ];
        for (secret, public, msg, sig) in vectors {
            let secret: [u8; 32] = hex(secret).try_into().expect("32");
            let mut s = Signer::rfc8032(SigningKey::from_bytes(&secret));
            assert_eq!(s.public_key().to_vec(), hex(public));
            assert_eq!(s.sign(&hex(msg)).to_vec(), hex(sig));
        }
    }

    #[test]
    fn rfc8032_equals_ed25519_dalek() {
        let k = key(7);
        let mut s = Signer::rfc8032(k.clone());
        for len in [0usize, 1, 100, 1232] {
            let msg: Vec<u8> = (0..len).map(|i| i as u8).collect();
            assert_eq!(s.sign(&msg), k.sign(&msg).to_bytes());
        }
    }

    #[test]
    fn precomputed_signatures_verify_strictly() {
        let mut s = Signer::precomputed_nonce(key(9), 256);
        wait_for_nonces(&s, 200);
        for i in 0..200u32 {
            let msg = i.to_le_bytes().repeat(10);
            let sig = s.sign(&msg);
            assert!(verify(s.public_key(), &msg, sig), "signature {i}");
            // A tampered message must not verify: the check can fail.
            assert!(!verify(
                s.public_key(),
                &[msg.as_slice(), b"x"].concat(),
                sig
            ));
        }
        assert_eq!(s.stats().precomputed, 200);
        assert_eq!(s.stats().rfc8032, 0);
    }

    #[test]
    fn precomputed_signatures_are_randomized() {
        let mut s = Signer::precomputed_nonce(key(3), 8);
        wait_for_nonces(&s, 2);
        let a = s.sign(b"same message");
        wait_for_nonces(&s, 1);
        let b = s.sign(b"same message");
        assert_ne!(a, b);
        assert!(verify(s.public_key(), b"same message", a));
        assert!(verify(s.public_key(), b"same message", b));
    }

    fn no_repeated_r(count: usize, verify_every: usize) {
        let pool = 4096;
        let mut s = Signer::precomputed_nonce(key(11), pool);
        let public = s.public_key();
        let mut seen = HashSet::with_capacity(count);
        let mut msg = [0u8; 16];
        for i in 0..count {
            // Wait for the worker rather than fall back, so every signature uses a pool nonce.
            if s.nonces_ready() == 0 {
                wait_for_nonces(&s, pool / 2);
            }
            msg[..8].copy_from_slice(&(i as u64).to_le_bytes());
            let sig = s.sign(&msg);
            let r: [u8; 32] = sig[..32].try_into().expect("32");
            assert!(seen.insert(r), "R repeated at signature {i}");
            if i % verify_every == 0 {
                assert!(verify(public, &msg, sig), "signature {i}");
            }
        }
        assert_eq!(s.stats().precomputed, count as u64);
    }

    #[test]
    fn precomputed_100k_signatures_never_repeat_r() {
        no_repeated_r(100_000, 97);
    }

    #[test]
    #[ignore = "slow tier: 1M signatures, every one verified"]
    fn precomputed_1m_signatures_never_repeat_r_and_all_verify() {
        no_repeated_r(1_000_000, 1);
    }

    #[test]
    fn empty_pool_falls_back_to_rfc8032() {
        let k = key(5);
        let mut s = Signer::precomputed_nonce(k.clone(), 1);
        // Drain whatever is ready, then sign faster than the worker refills.
        let mut fell_back = false;
        for i in 0..1000u32 {
            let msg = i.to_le_bytes();
            let sig = s.sign(&msg);
            assert!(verify(s.public_key(), &msg, sig));
            if sig == k.sign(&msg).to_bytes() {
                fell_back = true;
            }
        }
        assert!(fell_back);
        assert!(s.stats().rfc8032 > 0);
        assert_eq!(s.stats().rfc8032 + s.stats().precomputed, 1000);
    }

    #[test]
    fn fork_discards_the_pool_and_starts_a_new_one() {
        let mut s = Signer::precomputed_nonce(key(13), 64);
        wait_for_nonces(&s, 64);
        s.pretend_forked();
        let sig = s.sign(b"after fork");
        assert!(verify(s.public_key(), b"after fork", sig));
        assert_eq!(s.stats().fork_restarts, 1);
        // The new pool refills from its own thread.
        wait_for_nonces(&s, 32);
        let sig = s.sign(b"again");
        assert!(verify(s.public_key(), b"again", sig));
        assert_eq!(s.stats().fork_restarts, 1);
    }

    #[test]
    fn debug_shows_no_secret() {
        let k = key(0xAB);
        let secret_hex: String = k.to_bytes().iter().map(|b| format!("{b:02x}")).collect();
        for s in [
            Signer::rfc8032(k.clone()),
            Signer::precomputed_nonce(k.clone(), 4),
        ] {
            let dbg = format!("{s:?}");
            assert!(!dbg.contains(&secret_hex), "{dbg}");
            assert!(!dbg.contains("171, 171"), "{dbg}");
            assert!(
                dbg.contains(&solana_address::Address::new_from_array(s.public_key()).to_string())
            );
        }
    }
}

//! The hot path (patch, sign, write the wire bytes) performs no heap allocation, with either
//! signer: a counting global allocator sees none while it runs.
//!
//! An integration test of its own because a `#[global_allocator]` is per binary. Counting is
//! armed per thread, so the test harness and the nonce thread (which allocate) do not count.

use ed25519_dalek::SigningKey;
use phantom_signer::config::Config;
use phantom_signer::signing::Signer;
use phantom_signer::template::{RouteTemplate, TradeFields, PACKET_DATA_SIZE};
use solana_address::Address;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    // const-initialized with no destructor: safe to touch from inside the allocator.
    static ARMED: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if ARMED.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above, for `dealloc`.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if ARMED.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: as above, for `realloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made on this thread while `f` runs.
fn allocations_during(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    ARMED.with(|a| a.set(true));
    f();
    ARMED.with(|a| a.set(false));
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

const CONFIG: &str = include_str!("data/three_leg_route.toml");

fn sign_many(signer: &mut Signer) {
    let config = Config::from_toml_str(CONFIG).expect("config");
    let payer = Address::new_from_array(signer.public_key());
    let mut templates: Vec<RouteTemplate> = config
        .routes
        .iter()
        .enumerate()
        .map(|(i, r)| RouteTemplate::build(i as u32, r, payer).expect("template"))
        .collect();
    let mut out = [0u8; PACKET_DATA_SIZE];
    let mut total = 0usize;

    // The counter must see allocations at all, or a zero below would prove nothing.
    assert!(allocations_during(|| drop(std::hint::black_box(vec![1u8; 10]))) >= 1);

    let allocs = allocations_during(|| {
        for i in 0..2_000u64 {
            let t = &mut templates[(i % 2) as usize];
            let fields = TradeFields {
                amount_in: [i + 1, i + 2, i + 3],
                min_out: [i, i, i],
                cu_price_micro_lamports: i,
                tip_lamports: if t.route_id() == 0 { i } else { 0 },
                variant: (i % t.variant_count() as u64) as u32,
            };
            let blockhash = [(i % 251) as u8; 32];
            match t.sign_into(&fields, &blockhash, signer, &mut out) {
                Ok(n) => total += n,
                Err(e) => panic!("sign_into failed: {e}"),
            }
        }
    });
    assert_eq!(allocs, 0, "the hot path allocated {allocs} times");
    assert!(total > 0);
}

#[test]
fn signing_a_trade_does_not_allocate() {
    let mut rfc = Signer::rfc8032(SigningKey::from_bytes(&[42; 32]));
    sign_many(&mut rfc);
    assert_eq!(rfc.stats().rfc8032, 2_000);
    let mut signer = Signer::precomputed_nonce(SigningKey::from_bytes(&[43; 32]), 4096);
    // Let the pool fill so the precomputed path, not only the fallback, is measured.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while signer.nonces_ready() < 2_000 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    sign_many(&mut signer);
    assert!(signer.stats().precomputed > 0, "{:?}", signer.stats());
}

//! The per-entry seqlock protocol of tables ([`crate::table`]), independent of where the memory
//! lives: the same code runs over a shared-memory segment and over loom's model atomics
//! (`tests/loom.rs`).
//!
//! An entry is `words[0]` (the sequence word) followed by its data words; every access to any
//! of them is atomic, so no access is a data race (Boehm, "Can seqlocks get along with
//! programming language memory models?"). Orderings:
//! * writer: `seq = s|1` (Relaxed), `fence(Release)`, data stores (Relaxed), `seq = (s|1)+1`
//!   (Release). The fence keeps the data stores after the odd mark; the final Release keeps
//!   them before the even mark.
//! * reader: `s1 = seq` (Acquire), data loads (Relaxed), `fence(Acquire)`, `s2 = seq`
//!   (Relaxed); the copy is good iff `s1 == s2` and even. The Acquire load pairs with the
//!   writer's final Release store (the data of that write is visible); the Acquire fence keeps
//!   the data loads before the `s2` load and pairs with the writer's Release fence (a data load
//!   that saw a newer write forces `s2` to see at least its odd mark).
//!
//! Single writer per entry. A writer that died mid-write leaves an odd word; the next write
//! carries on from it, and readers give up after their retries.

use crate::sync::{fence, spin_hint, AtomicU64, Ordering};

/// Replace the data of the entry `words` (`words[0]` is its sequence word) with `data`
/// (`data.len() == words.len() - 1`). Single writer only.
pub fn write(words: &[AtomicU64], data: &[u64]) {
    debug_assert_eq!(data.len() + 1, words.len());
    let seq = &words[0];
    let odd = seq.load(Ordering::Relaxed) | 1;
    seq.store(odd, Ordering::Relaxed);
    // Release fence: the data stores below stay after the odd mark (pairs with the reader's
    // Acquire fence).
    fence(Ordering::Release);
    for (w, v) in words[1..].iter().zip(data) {
        w.store(*v, Ordering::Relaxed);
    }
    // Release: pairs with the reader's Acquire load of the word; publishes the data.
    seq.store(odd.wrapping_add(1), Ordering::Release);
}

/// Copy the entry `words` into `out` (`out.len() == words.len() - 1`) consistently: returns
/// the even sequence word of the copy, or `None` when `retries` attempts all overlapped a
/// write (the writer seems to have died mid-write).
pub fn read(words: &[AtomicU64], out: &mut [u64], retries: u32) -> Option<u64> {
    debug_assert_eq!(out.len() + 1, words.len());
    let seq = &words[0];
    for _ in 0..retries {
        // Acquire: pairs with the writer's final Release store.
        let s1 = seq.load(Ordering::Acquire);
        if s1 & 1 == 1 {
            spin_hint();
            continue;
        }
        for (o, w) in out.iter_mut().zip(&words[1..]) {
            *o = w.load(Ordering::Relaxed);
        }
        // Acquire fence: the data loads stay before the re-check (pairs with the writer's
        // Release fence).
        fence(Ordering::Acquire);
        if seq.load(Ordering::Relaxed) == s1 {
            return Some(s1);
        }
    }
    None
}

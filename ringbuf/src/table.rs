//! Tables: `capacity` entries in a segment, each guarded by its own seqlock word (the first
//! u64 of the entry). One writer per table (the feeder for `pools`); any number of readers,
//! who never block the writer.
//!
//! Seqlock orderings (Boehm, "Can seqlocks get along with programming language memory
//! models?"), with every data word copied by a relaxed atomic access so no access races:
//! * writer: `seq = s+1` (Relaxed), `fence(Release)`, data stores (Relaxed),
//!   `seq = s+2` (Release). The fence keeps the data stores after the odd mark; the final
//!   Release keeps them before the even mark.
//! * reader: `s1 = seq` (Acquire), data loads (Relaxed), `fence(Acquire)`, `s2 = seq`
//!   (Relaxed); the copy is good iff `s1 == s2` and even. The Acquire load pairs with the
//!   writer's final Release store; the Acquire fence keeps the data loads before the `s2`
//!   load, pairing with the writer's Release fence.

use crate::records::HEADER_SIZE;
use crate::schema::{AtomicRecord, Container, Record};
use crate::segment::{CreateOptions, Layout, Result, Segment};
use std::marker::PhantomData;
use std::sync::atomic::{fence, AtomicU64, Ordering};

/// Retries before [`Table::read`] concludes the writer died mid-write.
pub const READ_RETRIES: u32 = 1 << 20;

/// A seqlock table of `T` over a segment. `T`'s first field must be the u64 seqlock word.
pub struct Table<T: Record> {
    seg: Segment,
    capacity: usize,
    _t: PhantomData<T>,
}

impl<T: Record> Table<T> {
    const WORDS: usize = T::SIZE / 8;

    /// Create a table segment of `capacity` zeroed entries.
    pub fn create(name: &str, capacity: u32, opts: &CreateOptions) -> Result<Self> {
        Self::check_seqlock_field();
        let seg = Segment::create(
            name,
            Container::Table,
            Layout::of::<T>(Container::Table),
            capacity,
            opts,
        )?;
        Ok(Self::new(seg))
    }

    /// Attach to table `name`, checking its capacity when given.
    pub fn attach(name: &str, capacity: Option<u32>) -> Result<Self> {
        Self::check_seqlock_field();
        let seg = Segment::attach(name, Layout::of::<T>(Container::Table), capacity)?;
        Ok(Self::new(seg))
    }

    fn check_seqlock_field() {
        debug_assert!(T::FIELDS[0].offset == 0 && T::FIELDS[0].dtype == "<u8");
    }

    fn new(seg: Segment) -> Self {
        let capacity = seg.header().capacity as usize;
        Table {
            seg,
            capacity,
            _t: PhantomData,
        }
    }

    /// The underlying segment.
    pub fn segment(&self) -> &Segment {
        &self.seg
    }

    /// Number of entries.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn word(&self, entry: usize, w: usize) -> &AtomicU64 {
        assert!(entry < self.capacity, "table entry {entry} out of range");
        // SAFETY: entry < capacity and w < WORDS, so the address is inside the validated
        // mapping; entries are 64-byte aligned; every access to table words is atomic.
        unsafe {
            AtomicU64::from_ptr(
                self.seg
                    .as_ptr()
                    .add(HEADER_SIZE + entry * T::SIZE + w * 8)
                    .cast::<u64>(),
            )
        }
    }

    /// Replace entry `i` with `value` (its seqlock word is ignored). Single writer only.
    pub fn write(&self, i: usize, value: &T) {
        let seq = self.word(i, 0);
        let s = seq.load(Ordering::Relaxed);
        // A writer that died mid-write left an odd word: carry on from it.
        let odd = s | 1;
        seq.store(odd, Ordering::Relaxed);
        // Release fence: the data stores below stay after the odd mark (pairs with the
        // reader's Acquire fence).
        fence(Ordering::Release);
        let src = value as *const T as *const u64;
        for w in 1..Self::WORDS {
            // SAFETY: w < WORDS = size_of::<T>() / 8 and T is plain data.
            let v = unsafe { src.add(w).read() };
            self.word(i, w).store(v, Ordering::Relaxed);
        }
        // Release: pairs with the reader's Acquire load of the word; publishes the data.
        seq.store(odd + 1, Ordering::Release);
    }

    /// A consistent copy of entry `i`, or `None` if the writer seems to have died mid-write.
    pub fn read(&self, i: usize) -> Option<T> {
        let mut out = T::zeroed();
        let dst = &mut out as *mut T as *mut u64;
        for _ in 0..READ_RETRIES {
            // Acquire: pairs with the writer's final Release store.
            let s1 = self.word(i, 0).load(Ordering::Acquire);
            if s1 & 1 == 1 {
                std::hint::spin_loop();
                continue;
            }
            for w in 1..Self::WORDS {
                let v = self.word(i, w).load(Ordering::Relaxed);
                // SAFETY: w < WORDS, inside `out`.
                unsafe { dst.add(w).write(v) };
            }
            // Acquire fence: the data loads stay before the re-check (pairs with the
            // writer's Release fence).
            fence(Ordering::Acquire);
            let s2 = self.word(i, 0).load(Ordering::Relaxed);
            if s1 == s2 {
                // SAFETY: word 0 of out is its seqlock field.
                unsafe { dst.write(s1) };
                return Some(out);
            }
        }
        None
    }

    /// Entry `i` of a table whose records are made only of atomics (the control block), for
    /// fields updated atomically rather than under the seqlock. Only such records can be
    /// reached through a shared reference while other processes write them.
    pub fn entry(&self, i: usize) -> &T
    where
        T: AtomicRecord,
    {
        assert!(i < self.capacity, "table entry {i} out of range");
        // SAFETY: in range and aligned as in `word`; T is valid for any bits; and T is an
        // AtomicRecord, so every access through the reference, by any process, is atomic.
        unsafe { &*(self.seg.as_ptr().add(HEADER_SIZE + i * T::SIZE) as *const T) }
    }
}

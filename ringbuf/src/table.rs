//! Tables: `capacity` entries in a segment, each guarded by its own seqlock word (the first
//! u64 of the entry). One writer per table (the feeder for `pools`); any number of readers,
//! who never block the writer.
//!
//! The seqlock protocol and its orderings are in [`crate::seqlock`] (model-checked with loom).

use crate::records::HEADER_SIZE;
use crate::schema::{AtomicRecord, Container, Record};
use crate::segment::{CreateOptions, Layout, Result, Segment};
use crate::seqlock;
use crate::shm::Access;
use std::marker::PhantomData;
use std::sync::atomic::AtomicU64;

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
        Self::attach_as(name, capacity, Access::ReadWrite)
    }

    /// Attach to table `name` mapped with `access` (read-only: every write faults).
    pub fn attach_as(name: &str, capacity: Option<u32>, access: Access) -> Result<Self> {
        Self::check_seqlock_field();
        let seg = Segment::attach_as(name, Layout::of::<T>(Container::Table), capacity, access)?;
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

    /// The words of entry `entry` (word 0 is its seqlock word).
    fn words(&self, entry: usize) -> &[AtomicU64] {
        assert!(entry < self.capacity, "table entry {entry} out of range");
        // SAFETY: entry < capacity, so the entry's WORDS u64s lie inside the validated
        // mapping; entries are 64-byte aligned; every access to table words is atomic (through
        // this slice), so sharing them with other processes is sound.
        unsafe {
            std::slice::from_raw_parts(
                self.seg
                    .as_ptr()
                    .add(HEADER_SIZE + entry * T::SIZE)
                    .cast::<AtomicU64>(),
                Self::WORDS,
            )
        }
    }

    /// Replace entry `i` with `value` (its seqlock word is ignored). Single writer only.
    pub fn write(&self, i: usize, value: &T) {
        let src = value as *const T as *const u64;
        // SAFETY: T is plain data of WORDS u64s (size a multiple of 64, 64-aligned), valid
        // for reads as u64s for the duration of the borrow.
        let data = unsafe { std::slice::from_raw_parts(src.add(1), Self::WORDS - 1) };
        seqlock::write(self.words(i), data);
    }

    /// A consistent copy of entry `i`, or `None` if the writer seems to have died mid-write.
    pub fn read(&self, i: usize) -> Option<T> {
        let mut out = T::zeroed();
        let dst = &mut out as *mut T as *mut u64;
        // SAFETY: as in `write`, and `out` is ours: any u64 pattern is a valid T.
        let data = unsafe { std::slice::from_raw_parts_mut(dst.add(1), Self::WORDS - 1) };
        let seq = seqlock::read(self.words(i), data, READ_RETRIES)?;
        // SAFETY: word 0 of out is its seqlock field.
        unsafe { dst.write(seq) };
        Some(out)
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

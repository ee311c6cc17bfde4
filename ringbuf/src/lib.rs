//! phantom-ringbuf: the foundation of phantom-pipeline.
//!
//! * [`schema`] and [`records`]: the fixed-layout records that cross the process seam, each
//!   declared once; field tables and layout hashes are derived from the declarations.
//! * [`shm`]: the one module over the OS shared-memory API.
//! * [`segment`]: named segments with the DESIGN §3.1 header, attach validation and stale
//!   detection.
//! * [`protocol`] and [`ring`]: the lock-free SPSC ring (DESIGN §3.2).
//! * [`seqlock`] and [`table`]: per-entry seqlock tables (the `pools` table, the control block).
//! * [`control`]: the control block and each writer's view of it.
//! * [`programs`]: the Solana program ids the engine knows, defined once.
//! * [`process`]: the death signal every child of the supervisor sets first.
//!
//! ```no_run
//! use phantom_ringbuf::{records::ProbeRecord, ring, segment::{self, CreateOptions}};
//! let seg = ring::create::<ProbeRecord>("phantom-doc-example", 1024, &CreateOptions::default())?;
//! let mut tx = ring::Producer::<ProbeRecord>::new(seg);
//! let mut rx = ring::Consumer::<ProbeRecord>::attach("phantom-doc-example", Some(1024))?;
//! assert!(tx.try_push(&ProbeRecord::for_seq(0, 0)));
//! assert_eq!(rx.try_pop().map(|r| r.seq), Some(0));
//! segment::remove("phantom-doc-example")?;
//! # Ok::<(), phantom_ringbuf::segment::SegmentError>(())
//! ```
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks, missing_docs)]

pub mod programs;
pub mod protocol;
pub mod schema;
pub mod seqlock;
pub mod sync;

#[cfg(not(loom))]
pub mod clock;
#[cfg(not(loom))]
pub mod control;
#[cfg(not(loom))]
pub mod learn;
#[cfg(not(loom))]
pub mod names;
#[cfg(not(loom))]
pub mod process;
#[cfg(not(loom))]
pub mod records;
#[cfg(not(loom))]
pub mod ring;
#[cfg(not(loom))]
pub mod segment;
#[cfg(not(loom))]
pub mod shm;
#[cfg(not(loom))]
pub mod table;

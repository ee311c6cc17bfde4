//! Segments: a named shared-memory object with the 4096-byte header of DESIGN §3.1 followed
//! by `capacity` slots of `record_size` bytes.
//!
//! Creation writes the whole header and publishes `magic` last (Release), so an attacher
//! either sees a complete header or no magic. Attaching validates magic, abi_version,
//! record_kind, layout_hash, record_size, capacity and the object's size against what the
//! caller compiled in, and refuses any mismatch with a [`SegmentError::Mismatch`] naming the
//! segment, the field and both values.

use crate::clock::{monotonic_ns, process_alive, process_start_time, unix_ns};
use crate::records::{SegmentHeader, ABI_VERSION, HEADER_SIZE, MAGIC};
use crate::schema::{describe_record_kind, record_kind, Container, Record};
use crate::shm::{self, Mapping};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

/// Every way creating, attaching or removing a segment can fail.
#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    /// A header field differs from what this process was built or told to expect.
    #[error("segment {segment}: {field} mismatch: found {found}, expected {expected}")]
    Mismatch {
        /// Segment name.
        segment: String,
        /// Header field name (`magic`, `abi_version`, `layout_hash`, ...).
        field: &'static str,
        /// Value in the segment.
        found: String,
        /// Value this process expects.
        expected: String,
    },
    /// The object is smaller than its header says (or than a header).
    #[error("segment {segment}: truncated: {found} bytes, expected at least {expected}")]
    Truncated {
        /// Segment name.
        segment: String,
        /// Actual size.
        found: u64,
        /// Size required.
        expected: u64,
    },
    /// No such segment.
    #[error(
        "segment {segment} does not exist (is the instance running? `phantom-pipeline status`)"
    )]
    NotFound {
        /// Segment name.
        segment: String,
    },
    /// Creating a segment whose name is taken.
    #[error("segment {segment} already exists (another instance with this name, or a stale one: `phantom-pipeline clean`)")]
    AlreadyExists {
        /// Segment name.
        segment: String,
    },
    /// Removal refused: the segment's creator is alive or a heartbeat is fresh.
    #[error("segment {segment} is live ({why}); refusing to remove it")]
    Live {
        /// Segment name.
        segment: String,
        /// What makes it live.
        why: String,
    },
    /// An invalid name, capacity or size was asked for.
    #[error("segment {segment}: invalid {what}: {why}")]
    Invalid {
        /// Segment name.
        segment: String,
        /// What was invalid.
        what: &'static str,
        /// Why.
        why: String,
    },
    /// The object is another user's, or its mode is not 0600: never mapped.
    #[error("segment {segment}: owned by uid {owner} with mode {mode:04o}; segments must be owned by this user (uid {me}) with mode 0600: refusing to attach")]
    Foreign {
        /// Segment name.
        segment: String,
        /// Its owner's uid.
        owner: u32,
        /// Its permission bits.
        mode: u32,
        /// This process's effective uid.
        me: u32,
    },
    /// An OS call failed.
    #[error("segment {segment}: {source}")]
    Os {
        /// Segment name.
        segment: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

impl SegmentError {
    fn shm(segment: &str, e: shm::ShmError) -> Self {
        match e {
            shm::ShmError::Foreign {
                owner, mode, me, ..
            } => SegmentError::Foreign {
                segment: segment.to_owned(),
                owner,
                mode,
                me,
            },
            shm::ShmError::Os { source, op, .. } => {
                let kind = source.kind();
                let source = io::Error::new(kind, format!("{op}: {source}"));
                SegmentError::os(segment, source)
            }
        }
    }

    fn os(segment: &str, source: io::Error) -> Self {
        match source.kind() {
            io::ErrorKind::NotFound => SegmentError::NotFound {
                segment: segment.to_owned(),
            },
            io::ErrorKind::AlreadyExists => SegmentError::AlreadyExists {
                segment: segment.to_owned(),
            },
            _ => SegmentError::Os {
                segment: segment.to_owned(),
                source,
            },
        }
    }
}

/// Result alias for segment operations.
pub type Result<T> = std::result::Result<T, SegmentError>;

/// What an attacher expects a segment to hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// `record_kind` (container + record id).
    pub record_kind: u32,
    /// Layout hash of the record.
    pub layout_hash: u64,
    /// Bytes per slot.
    pub record_size: u32,
}

impl Layout {
    /// The layout of `container` of `R`.
    pub fn of<R: Record>(container: Container) -> Self {
        Layout {
            record_kind: record_kind(container, R::ID),
            layout_hash: R::LAYOUT_HASH,
            record_size: R::SIZE as u32,
        }
    }
}

/// Options for creating a segment.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// Instance name written into the header (informational).
    pub instance: String,
    /// Role within the instance (`market`, `pools`, ...), informational.
    pub role: String,
    /// Rings: the first index (tests start near 2^62 to prove indices never wrap).
    pub initial_index: u64,
    /// Attempt `mlock`; its failure is reported in [`Segment::mlock_error`], not fatal.
    pub mlock: bool,
}

/// Default age after which a heartbeat no longer keeps a segment alive.
pub const DEFAULT_STALE_AFTER_NS: u64 = 5_000_000_000;

/// Valid segment names: what `shm_open` accepts, kept to a portable subset.
pub fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(SegmentError::Invalid {
            segment: name.to_owned(),
            what: "name",
            why: "use 1-200 characters of [A-Za-z0-9._-], not starting with '.'".into(),
        })
    }
}

/// A mapped segment. Dropping it unmaps; it never removes the segment.
pub struct Segment {
    name: String,
    map: Mapping,
    mlock_error: Option<String>,
}

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segment")
            .field("name", &self.name)
            .field("len", &self.map.len())
            .finish()
    }
}

impl Segment {
    /// Create `name` holding `capacity` records of `layout` (rings: capacity a power of two).
    pub fn create(
        name: &str,
        container: Container,
        layout: Layout,
        capacity: u32,
        opts: &CreateOptions,
    ) -> Result<Segment> {
        validate_name(name)?;
        let invalid = |what, why: String| SegmentError::Invalid {
            segment: name.to_owned(),
            what,
            why,
        };
        if capacity == 0 || (container == Container::Ring && !capacity.is_power_of_two()) {
            return Err(invalid(
                "capacity",
                format!("{capacity}: a ring needs a power of two, a table at least 1"),
            ));
        }
        if layout.record_size == 0 || !layout.record_size.is_multiple_of(64) {
            return Err(invalid(
                "record_size",
                format!("{}: must be a non-zero multiple of 64", layout.record_size),
            ));
        }
        if opts.instance.len() > 47 || opts.role.len() > 15 {
            return Err(invalid(
                "name",
                "instance names are at most 47 bytes, roles 15".into(),
            ));
        }
        let total = HEADER_SIZE as u64 + capacity as u64 * layout.record_size as u64;
        let map = shm::create(name, total as usize).map_err(|e| SegmentError::shm(name, e))?;
        shm::prefault(&map);
        let mlock_error = if opts.mlock {
            shm::mlock(&map).err().map(|e| e.to_string())
        } else {
            None
        };
        let seg = Segment {
            name: name.to_owned(),
            map,
            mlock_error,
        };
        let me = std::process::id();
        let hdr = seg.header_mut_for_init();
        hdr.abi_version = ABI_VERSION;
        hdr.record_kind = layout.record_kind;
        hdr.layout_hash = layout.layout_hash;
        hdr.record_size = layout.record_size;
        hdr.capacity = capacity;
        hdr.header_size = HEADER_SIZE as u32;
        hdr.creator_pid = me;
        hdr.creator_start_time = process_start_time(me).unwrap_or(0);
        hdr.created_unix_ns = unix_ns();
        hdr.segment_bytes = total;
        hdr.mlocked = u32::from(opts.mlock && seg.mlock_error.is_none());
        copy_name(&mut hdr.instance, &opts.instance);
        copy_name(&mut hdr.role, &opts.role);
        *hdr.tail.get_mut() = opts.initial_index;
        *hdr.head.get_mut() = opts.initial_index;
        *hdr.creator_heartbeat_ns.get_mut() = monotonic_ns();
        // Release: pairs with the Acquire load of magic in `attach`; an attacher that sees
        // the magic sees every header field above.
        seg.magic_word().store(MAGIC, Ordering::Release);
        Ok(seg)
    }

    /// Map `name` without validating anything but its size (for `inspect` and `clean`).
    pub fn open_unchecked(name: &str) -> Result<Segment> {
        Segment::open_unchecked_as(name, shm::Access::ReadWrite)
    }

    /// Like [`Segment::open_unchecked`], mapped with `access`: a read-only mapping comes
    /// from an `O_RDONLY` descriptor, so it can never be made writable (`mprotect` refuses).
    pub fn open_unchecked_as(name: &str, access: shm::Access) -> Result<Segment> {
        Segment::open_sized(name, || shm::open(name, access))
    }

    /// Like [`Segment::open_unchecked`], without taking the shared lock: the remover takes
    /// the exclusive one directly.
    fn open_for_removal(name: &str) -> Result<Segment> {
        Segment::open_sized(name, || shm::open_unlocked(name))
    }

    /// Check `name` and that the object holds at least a header, then map it with `open`.
    fn open_sized(
        name: &str,
        open: impl FnOnce() -> std::result::Result<shm::Mapping, shm::ShmError>,
    ) -> Result<Segment> {
        validate_name(name)?;
        let size = shm::size_of(name).map_err(|e| SegmentError::os(name, e))?;
        if size < HEADER_SIZE as u64 {
            return Err(SegmentError::Truncated {
                segment: name.to_owned(),
                found: size,
                expected: HEADER_SIZE as u64,
            });
        }
        let map = open().map_err(|e| SegmentError::shm(name, e))?;
        Ok(Segment {
            name: name.to_owned(),
            map,
            mlock_error: None,
        })
    }

    /// Map `name` and check it holds `layout` (and `capacity`, when given).
    pub fn attach(name: &str, layout: Layout, capacity: Option<u32>) -> Result<Segment> {
        Segment::attach_as(name, layout, capacity, shm::Access::ReadWrite)
    }

    /// Like [`Segment::attach`], mapped with `access`.
    pub fn attach_as(
        name: &str,
        layout: Layout,
        capacity: Option<u32>,
        access: shm::Access,
    ) -> Result<Segment> {
        let seg = Segment::open_unchecked_as(name, access)?;
        seg.validate(layout, capacity)?;
        shm::prefault(&seg.map);
        Ok(seg)
    }

    /// Check the header against `layout` and `capacity`; the first mismatch is the error.
    pub fn validate(&self, layout: Layout, capacity: Option<u32>) -> Result<()> {
        let h = self.header();
        let mismatch = |field, found: String, expected: String| SegmentError::Mismatch {
            segment: self.name.clone(),
            field,
            found,
            expected,
        };
        // Acquire: pairs with the Release store of magic in `create`.
        let magic = self.magic_word().load(Ordering::Acquire);
        if magic != MAGIC {
            return Err(mismatch(
                "magic",
                describe_magic(magic),
                describe_magic(MAGIC),
            ));
        }
        if h.abi_version != ABI_VERSION {
            return Err(mismatch(
                "abi_version",
                h.abi_version.to_string(),
                ABI_VERSION.to_string(),
            ));
        }
        if h.record_kind != layout.record_kind {
            return Err(mismatch(
                "record_kind",
                describe_record_kind(h.record_kind),
                describe_record_kind(layout.record_kind),
            ));
        }
        if h.layout_hash != layout.layout_hash {
            return Err(mismatch(
                "layout_hash",
                format!("{:#018x}", h.layout_hash),
                format!("{:#018x}", layout.layout_hash),
            ));
        }
        if h.record_size != layout.record_size {
            return Err(mismatch(
                "record_size",
                h.record_size.to_string(),
                layout.record_size.to_string(),
            ));
        }
        if let Some(cap) = capacity {
            if h.capacity != cap {
                return Err(mismatch(
                    "capacity",
                    h.capacity.to_string(),
                    cap.to_string(),
                ));
            }
        }
        let need = HEADER_SIZE as u64 + h.capacity as u64 * h.record_size as u64;
        if (self.map.len() as u64) < need || h.segment_bytes != need {
            return Err(SegmentError::Truncated {
                segment: self.name.clone(),
                found: self.map.len() as u64,
                expected: need,
            });
        }
        if layout.record_kind >> 16 == Container::Ring as u32 && !h.capacity.is_power_of_two() {
            return Err(mismatch(
                "capacity",
                h.capacity.to_string(),
                "a power of two".into(),
            ));
        }
        Ok(())
    }

    /// The segment's name (without `/dev/shm/`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Bytes mapped.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Never true: a segment has at least its header.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Whether this process may write the mapping.
    pub fn writable(&self) -> bool {
        self.map.access() == shm::Access::ReadWrite
    }

    /// Start of the mapping.
    pub fn as_ptr(&self) -> *mut u8 {
        self.map.as_ptr()
    }

    /// Why `mlock` failed at creation, if it was asked for and failed.
    pub fn mlock_error(&self) -> Option<&str> {
        self.mlock_error.as_deref()
    }

    /// The header. Non-atomic fields are written once, before `magic` is published.
    pub fn header(&self) -> &SegmentHeader {
        // SAFETY: every Segment maps at least HEADER_SIZE bytes (checked in
        // open_unchecked/create), the mapping is page aligned (>= 64), and SegmentHeader is a
        // Record: every bit pattern is valid.
        unsafe { &*(self.map.as_ptr() as *const SegmentHeader) }
    }

    #[allow(clippy::mut_from_ref)]
    fn header_mut_for_init(&self) -> &mut SegmentHeader {
        // SAFETY: only called by `create` on a segment no other process can validate yet
        // (magic is still 0), before any other reference to the header exists.
        unsafe { &mut *(self.map.as_ptr() as *mut SegmentHeader) }
    }

    fn magic_word(&self) -> &AtomicU64 {
        // SAFETY: offset 0 is 8-aligned and inside the mapping; all access to it is atomic.
        unsafe { AtomicU64::from_ptr(self.map.as_ptr() as *mut u64) }
    }

    /// Pointer to slot/entry `i`; panics when `i` is not below the capacity. Reading or
    /// writing through it is the caller's `unsafe`, under the ring or table protocol.
    #[inline]
    pub fn slot_ptr(&self, i: usize) -> *mut u8 {
        let h = self.header();
        assert!(i < h.capacity as usize, "slot {i} out of range");
        // SAFETY: i < capacity, and validate/create ensured the mapping holds
        // HEADER_SIZE + capacity * record_size bytes.
        unsafe {
            self.map
                .as_ptr()
                .add(HEADER_SIZE + i * h.record_size as usize)
        }
    }

    /// Record the creator's heartbeat (the supervisor calls it periodically).
    pub fn creator_heartbeat(&self) {
        self.header()
            .creator_heartbeat_ns
            .store(monotonic_ns(), Ordering::Relaxed);
    }

    /// Whether another process maps this segment (holds its `flock`; every mapping does,
    /// for its whole life), from `/proc/locks`. An error deciding counts as held.
    pub fn held_by_others(&self) -> bool {
        self.map.held_by_others().unwrap_or(true)
    }

    /// Whether this segment is live or stale, and why (DESIGN §3). Live when another
    /// process maps it (its `flock` is held), when its creator runs, or when a heartbeat
    /// is fresher than `stale_after_ns`: each alone keeps it.
    pub fn liveness(&self, stale_after_ns: u64) -> Liveness {
        if self.held_by_others() {
            return Liveness::Live("mapped by a running process (its lock is held)".into());
        }
        self.liveness_unlocked(stale_after_ns)
    }

    /// The second signal alone: the creator (pid + start time) and the heartbeats.
    fn liveness_unlocked(&self, stale_after_ns: u64) -> Liveness {
        let h = self.header();
        if process_alive(h.creator_pid, h.creator_start_time) {
            return Liveness::Live(format!("creator pid {} is running", h.creator_pid));
        }
        let now = monotonic_ns();
        for (who, hb) in [
            ("creator", &h.creator_heartbeat_ns),
            ("producer", &h.producer_heartbeat_ns),
            ("consumer", &h.consumer_heartbeat_ns),
        ] {
            let t = hb.load(Ordering::Relaxed);
            // A heartbeat from the future (clock reset is impossible for MONOTONIC within a
            // boot, but be conservative) counts as fresh.
            if t != 0 && (t > now || now - t < stale_after_ns) {
                return Liveness::Live(format!(
                    "{who} heartbeat {} ms ago",
                    now.saturating_sub(t) / 1_000_000
                ));
            }
        }
        Liveness::Stale(format!(
            "creator pid {} is gone and no heartbeat in the last {} ms",
            h.creator_pid,
            stale_after_ns / 1_000_000
        ))
    }
}

/// The verdict of [`Segment::liveness`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Liveness {
    /// In use; must not be removed.
    Live(String),
    /// Left behind by a dead instance; may be removed.
    Stale(String),
}

fn copy_name(dst: &mut [u8], src: &str) {
    let n = src.len().min(dst.len() - 1);
    dst[..n].copy_from_slice(&src.as_bytes()[..n]);
}

fn describe_magic(m: u64) -> String {
    let bytes = m.to_le_bytes();
    if bytes.iter().all(|b| b.is_ascii_graphic()) {
        format!("{m:#018x} ({:?})", String::from_utf8_lossy(&bytes))
    } else {
        format!("{m:#018x}")
    }
}

/// Remove segment `name` if it is stale; a live one is refused with [`SegmentError::Live`].
/// A file too short to hold a header, or without our magic, is not ours and is refused too.
pub fn remove_if_stale(name: &str, stale_after_ns: u64) -> Result<String> {
    let seg = Segment::open_for_removal(name)?;
    if seg.magic_word().load(Ordering::Acquire) != MAGIC {
        return Err(SegmentError::Mismatch {
            segment: name.to_owned(),
            field: "magic",
            found: describe_magic(seg.magic_word().load(Ordering::Relaxed)),
            expected: describe_magic(MAGIC),
        });
    }
    // Exclusive, without blocking: nobody else maps it, and nobody can attach while we
    // decide and unlink (an attacher waits for our lock, then finds the name gone).
    let live = |why: String| SegmentError::Live {
        segment: name.to_owned(),
        why,
    };
    match seg.map.try_exclusive() {
        Ok(true) => {}
        Ok(false) => {
            return Err(live(
                "mapped by a running process (its lock is held)".into(),
            ))
        }
        Err(e) => return Err(SegmentError::os(name, e)),
    }
    match seg.liveness_unlocked(stale_after_ns) {
        Liveness::Live(why) => Err(live(why)),
        Liveness::Stale(why) => {
            shm::unlink(name).map_err(|e| SegmentError::os(name, e))?;
            drop(seg);
            Ok(why)
        }
    }
}

/// Remove segment `name` unconditionally (the supervisor's `stop`, test cleanup).
pub fn remove(name: &str) -> Result<()> {
    validate_name(name)?;
    shm::unlink(name).map_err(|e| SegmentError::os(name, e))
}

/// Names of the segments in /dev/shm that start with `prefix`.
pub fn list(prefix: &str) -> Result<Vec<String>> {
    shm::list(prefix).map_err(|e| SegmentError::os(shm::SHM_DIR, e))
}

/// Names of the segments of instance `instance`, matched exactly
/// ([`crate::names::belongs_to`]): `a`'s list never holds `a-b`'s segments.
pub fn list_instance(instance: &str) -> Result<Vec<String>> {
    Ok(list(crate::names::PREFIX)?
        .into_iter()
        .filter(|n| crate::names::belongs_to(n, instance))
        .collect())
}

/// What [`clean_stale`] did: the segments removed, and those kept with the reason.
pub type CleanReport = (Vec<String>, Vec<(String, String)>);

/// Remove every stale segment whose name starts with `prefix`; live and foreign ones are
/// left alone. Returns (removed, kept-with-reason).
pub fn clean_stale(prefix: &str, stale_after_ns: u64) -> Result<CleanReport> {
    clean_stale_of(list(prefix)?, stale_after_ns)
}

/// [`clean_stale`] over the segments of instance `instance` (matched exactly), or of every
/// instance when `None`.
pub fn clean_stale_instance(instance: Option<&str>, stale_after_ns: u64) -> Result<CleanReport> {
    let names = match instance {
        Some(i) => list_instance(i)?,
        None => list(crate::names::PREFIX)?,
    };
    clean_stale_of(names, stale_after_ns)
}

fn clean_stale_of(names: Vec<String>, stale_after_ns: u64) -> Result<CleanReport> {
    let mut removed = Vec::new();
    let mut kept = Vec::new();
    for name in names {
        match remove_if_stale(&name, stale_after_ns) {
            Ok(_) => removed.push(name),
            Err(e) => kept.push((name, e.to_string())),
        }
    }
    Ok((removed, kept))
}

//! The one module that touches the OS shared-memory API (DESIGN §3): named POSIX shared
//! memory objects (`/dev/shm/NAME`) through `shm_open`/`mmap` (libc), plus prefaulting,
//! mlock, and the per-mapping `flock` that says a segment is in use. Everything above it
//! deals in [`Mapping`]s.
//!
//! * Every [`Mapping`] keeps its descriptor open and holds a shared `flock` on it for its
//!   whole life, so "is anyone mapping this segment?" is one `LOCK_EX|LOCK_NB` away for a
//!   remover ([`open_unlocked`], [`Mapping::try_exclusive`]), and one look at `/proc/locks`
//!   for a process that maps it itself ([`Mapping::held_by_others`]); the lock goes with
//!   the descriptor when the process dies, however it dies.
//! * [`open`] maps an object only if it belongs to this user and has mode 0600 (checked
//!   with `fstat` on the descriptor it maps, not on the name), and never through a symlink.
//! * [`Access`] says how an object is mapped; a read-only mapping comes from an `O_RDONLY`
//!   descriptor with `PROT_READ`.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;

/// Where Linux exposes POSIX shared memory objects.
pub const SHM_DIR: &str = "/dev/shm";

/// The only mode a segment may have.
pub const SEGMENT_MODE: u32 = 0o600;

/// How a mapping may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `O_RDWR` descriptor, `PROT_READ | PROT_WRITE`.
    ReadWrite,
    /// `O_RDONLY` descriptor, `PROT_READ`: a write through it faults.
    ReadOnly,
}

/// Why [`open`] refused an object that exists.
#[derive(Debug, thiserror::Error)]
pub enum ShmError {
    /// The object is not this user's, or its mode is not 0600.
    #[error(
        "/dev/shm/{name} is owned by uid {owner} with mode {mode:04o}; a segment must be \
         owned by this user (uid {me}) with mode 0600: refusing to map it"
    )]
    Foreign {
        /// Object name.
        name: String,
        /// Its owner.
        owner: u32,
        /// Its permission bits.
        mode: u32,
        /// This process's effective uid.
        me: u32,
    },
    /// An OS call failed.
    #[error("{op} /dev/shm/{name}: {source}")]
    Os {
        /// Object name.
        name: String,
        /// What was being done.
        op: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

impl ShmError {
    fn os(name: &str, op: &'static str, source: io::Error) -> Self {
        ShmError::Os {
            name: name.to_owned(),
            op,
            source,
        }
    }

    /// The OS error kind (`Other` for a foreign object).
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            ShmError::Os { source, .. } => source.kind(),
            ShmError::Foreign { .. } => io::ErrorKind::PermissionDenied,
        }
    }
}

/// A mapped shared memory object with its descriptor (holding a shared `flock`). Unmapped and
/// unlocked on drop; never unlinked on drop (segments outlive the processes that map them;
/// removal is explicit, through [`unlink`]).
pub struct Mapping {
    ptr: *mut u8,
    len: usize,
    fd: OwnedFd,
    access: Access,
}

// SAFETY: the mapping is plain process-wide memory; the raw pointer is the only reason the
// type is not Send automatically. All concurrent access to the bytes goes through the
// ring/table protocols.
unsafe impl Send for Mapping {}
// SAFETY: as above; `&Mapping` only hands out the pointer and length, and the flock calls
// on the descriptor are thread-safe system calls.
unsafe impl Sync for Mapping {}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: ptr/len are exactly what mmap returned; nothing refers to the mapping once
        // its owner is dropped. Closing the descriptor (OwnedFd) releases the flock.
        unsafe {
            libc::munmap(self.ptr.cast(), self.len);
        }
    }
}

impl Mapping {
    /// Start of the mapping (page aligned).
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr
    }

    /// Length in bytes (the object's size when it was mapped).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a zero-length object cannot be mapped.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How it is mapped.
    pub fn access(&self) -> Access {
        self.access
    }

    /// Whether another process holds a lock on the object (maps it), from `/proc/locks`
    /// (flock entries name the locking pid and the object's device and inode). Our own
    /// locks are not counted, and nothing is taken or converted: on Linux a failed
    /// conversion of a shared lock to an exclusive one drops the shared lock.
    pub fn held_by_others(&self) -> io::Result<bool> {
        let st = fstat(&self.fd)?;
        let me = std::process::id();
        let (major, minor) = (libc::major(st.st_dev), libc::minor(st.st_dev));
        let locks = std::fs::read_to_string("/proc/locks")?;
        Ok(locks.lines().any(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            // "N: FLOCK ADVISORY READ PID MAJ:MIN:INODE 0 EOF"; "N: -> ..." are waiters.
            if f.len() < 6 || f[1] != "FLOCK" {
                return false;
            }
            let pid: u32 = f[4].parse().unwrap_or(0);
            let mut id = f[5].split(':');
            let (Some(ma), Some(mi), Some(ino)) = (id.next(), id.next(), id.next()) else {
                return false;
            };
            pid != me
                && u32::from_str_radix(ma, 16).ok() == Some(major)
                && u32::from_str_radix(mi, 16).ok() == Some(minor)
                && ino.parse::<u64>().ok() == Some(st.st_ino)
        }))
    }

    /// Take an exclusive lock if nobody else holds one (true), without blocking. Only for a
    /// descriptor opened with [`open_unlocked`] (converting a shared lock that fails would
    /// drop it). The caller is then the object's only user while it holds it.
    pub fn try_exclusive(&self) -> io::Result<bool> {
        // SAFETY: flock on a descriptor we own; no memory is passed.
        if unsafe { libc::flock(self.fd.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(true);
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
            Ok(false)
        } else {
            Err(e)
        }
    }
}

fn c_name(name: &str) -> io::Result<CString> {
    CString::new(format!("/{name}"))
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in a segment name"))
}

/// This process's effective uid.
pub fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() }
}

fn fstat(fd: &OwnedFd) -> io::Result<libc::stat> {
    // SAFETY: a zeroed stat is a valid out-buffer; fstat writes it during the call only.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fd is open; &mut st is valid for writes.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(st)
}

/// Take the shared lock every mapping holds. An exclusive holder is a cleaner deciding
/// whether to remove the object, which takes microseconds: retry for up to a second.
fn lock_shared(name: &str, fd: &OwnedFd) -> Result<(), ShmError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    loop {
        // SAFETY: flock on a descriptor we own; no memory is passed.
        if unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) } == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EWOULDBLOCK) || std::time::Instant::now() > deadline {
            return Err(ShmError::os(name, "lock (shared)", e));
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

fn map(name: &str, fd: OwnedFd, len: usize, access: Access) -> Result<Mapping, ShmError> {
    let prot = match access {
        Access::ReadWrite => libc::PROT_READ | libc::PROT_WRITE,
        Access::ReadOnly => libc::PROT_READ,
    };
    // SAFETY: a fresh shared mapping of `len` bytes of an open descriptor at no fixed
    // address; the kernel validates everything and reports failure as MAP_FAILED.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            prot,
            libc::MAP_SHARED,
            fd.as_raw_fd(),
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(ShmError::os(name, "map", io::Error::last_os_error()));
    }
    Ok(Mapping {
        ptr: p.cast(),
        len,
        fd,
        access,
    })
}

fn shm_open(name: &str, flags: libc::c_int, op: &'static str) -> Result<OwnedFd, ShmError> {
    let c = c_name(name).map_err(|e| ShmError::os(name, op, e))?;
    // SAFETY: c is a valid NUL-terminated string for the call's duration.
    let fd = unsafe {
        libc::shm_open(
            c.as_ptr(),
            flags | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            SEGMENT_MODE as libc::mode_t,
        )
    };
    if fd < 0 {
        return Err(ShmError::os(name, op, io::Error::last_os_error()));
    }
    // SAFETY: fd was just returned by shm_open and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Create `name` exclusively (fails if it exists) with mode 0600 (whatever the umask) and
/// `size` zeroed bytes, mapped read-write and locked shared.
pub fn create(name: &str, size: usize) -> Result<Mapping, ShmError> {
    let fd = shm_open(name, libc::O_CREAT | libc::O_EXCL | libc::O_RDWR, "create")?;
    let fail = |op, e| {
        let _ = unlink(name);
        ShmError::os(name, op, e)
    };
    // SAFETY: plain integer arguments on a descriptor we own.
    if unsafe { libc::fchmod(fd.as_raw_fd(), SEGMENT_MODE as libc::mode_t) } != 0 {
        return Err(fail("chmod", io::Error::last_os_error()));
    }
    // SAFETY: plain integer arguments on a descriptor we own.
    if unsafe { libc::ftruncate(fd.as_raw_fd(), size as libc::off_t) } != 0 {
        return Err(fail("size", io::Error::last_os_error()));
    }
    if let Err(e) = lock_shared(name, &fd) {
        let _ = unlink(name);
        return Err(e);
    }
    map(name, fd, size, Access::ReadWrite).inspect_err(|_| {
        let _ = unlink(name);
    })
}

/// Map an existing object at its current size, after checking that it is this user's with
/// mode 0600 ([`ShmError::Foreign`] otherwise), and lock it shared. An object removed
/// between the open and the lock is reported as not found.
pub fn open(name: &str, access: Access) -> Result<Mapping, ShmError> {
    open_with(name, access, true)
}

/// [`open`] without the shared lock: for a remover, which then takes
/// [`Mapping::try_exclusive`] directly.
pub fn open_unlocked(name: &str) -> Result<Mapping, ShmError> {
    open_with(name, Access::ReadWrite, false)
}

fn open_with(name: &str, access: Access, lock: bool) -> Result<Mapping, ShmError> {
    let flags = match access {
        Access::ReadWrite => libc::O_RDWR,
        Access::ReadOnly => libc::O_RDONLY,
    };
    let fd = shm_open(name, flags, "open")?;
    let st = fstat(&fd).map_err(|e| ShmError::os(name, "stat", e))?;
    let mode = st.st_mode & 0o7777;
    if st.st_uid != euid() || mode != SEGMENT_MODE {
        return Err(ShmError::Foreign {
            name: name.to_owned(),
            owner: st.st_uid,
            mode,
            me: euid(),
        });
    }
    if lock {
        lock_shared(name, &fd)?;
    }
    // A cleaner may have removed the name while we waited for the lock.
    let st = fstat(&fd).map_err(|e| ShmError::os(name, "stat", e))?;
    if st.st_nlink == 0 {
        return Err(ShmError::os(
            name,
            "open",
            io::Error::from(io::ErrorKind::NotFound),
        ));
    }
    map(name, fd, st.st_size as usize, access)
}

/// Remove the object's name; processes that have it mapped keep their mapping.
pub fn unlink(name: &str) -> io::Result<()> {
    let c = c_name(name)?;
    // SAFETY: c is a valid NUL-terminated string for the call's duration.
    if unsafe { libc::shm_unlink(c.as_ptr()) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `/dev/shm/NAME`.
pub fn path_of(name: &str) -> PathBuf {
    PathBuf::from(SHM_DIR).join(name)
}

/// Size in bytes of the object, without mapping it (a symlink is not followed).
pub fn size_of(name: &str) -> io::Result<u64> {
    Ok(std::fs::symlink_metadata(path_of(name))?.len())
}

/// Names of the objects whose name starts with `prefix`, sorted.
pub fn list(prefix: &str) -> io::Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(SHM_DIR)?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(prefix))
        .collect();
    names.sort();
    Ok(names)
}

/// Touch every page so no page fault lands on the hot path. Uses MADV_POPULATE_WRITE
/// (MADV_POPULATE_READ for a read-only mapping) where the kernel has it (5.14+), else touches
/// each page's first byte.
pub fn prefault(m: &Mapping) {
    const MADV_POPULATE_READ: libc::c_int = 22;
    const MADV_POPULATE_WRITE: libc::c_int = 23;
    let advice = match m.access {
        Access::ReadWrite => MADV_POPULATE_WRITE,
        Access::ReadOnly => MADV_POPULATE_READ,
    };
    // SAFETY: the range is exactly our mapping; POPULATE_* faults pages in without changing
    // their contents.
    let rc = unsafe { libc::madvise(m.as_ptr().cast(), m.len(), advice) };
    if rc == 0 {
        return;
    }
    let page = page_size();
    let mut off = 0;
    while off < m.len() {
        // SAFETY: off < len, inside the mapping. A byte-sized atomic fetch_add of 0 touches
        // the page for writing without a racy plain write; a read-only mapping is only read.
        unsafe {
            let a = std::sync::atomic::AtomicU8::from_ptr(m.as_ptr().add(off));
            match m.access {
                Access::ReadWrite => {
                    a.fetch_add(0, std::sync::atomic::Ordering::Relaxed);
                }
                Access::ReadOnly => {
                    a.load(std::sync::atomic::Ordering::Relaxed);
                }
            }
        }
        off += page;
    }
}

/// Lock the mapping in RAM. Failure (e.g. RLIMIT_MEMLOCK) is for the caller to report.
pub fn mlock(m: &Mapping) -> io::Result<()> {
    // SAFETY: the range is exactly our mapping.
    let rc = unsafe { libc::mlock(m.as_ptr().cast(), m.len()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The system page size.
pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as usize
    } else {
        4096
    }
}

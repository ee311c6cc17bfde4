//! The one module that touches the OS shared-memory API (DESIGN §3): named POSIX shared
//! memory objects (`/dev/shm/NAME`) through the `shared_memory` crate, plus prefaulting and
//! mlock. Everything above it deals in [`Mapping`]s. If the crate ever blocks a requirement,
//! only this module changes.

use std::io;
use std::path::PathBuf;

/// Where Linux exposes POSIX shared memory objects.
pub const SHM_DIR: &str = "/dev/shm";

/// A mapped shared memory object. Unmapped on drop; never unlinked on drop (segments outlive
/// the processes that map them; removal is explicit, through [`unlink`]).
pub struct Mapping {
    shmem: shared_memory::Shmem,
}

// SAFETY: the mapping is plain process-wide memory; `Shmem` is only !Send because it holds
// a raw pointer. All concurrent access to the bytes goes through the ring/table protocols.
unsafe impl Send for Mapping {}
// SAFETY: as above; `&Mapping` only hands out the pointer and length.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Start of the mapping (page aligned).
    pub fn as_ptr(&self) -> *mut u8 {
        self.shmem.as_ptr()
    }

    /// Length in bytes (the object's size when it was mapped).
    pub fn len(&self) -> usize {
        self.shmem.len()
    }

    /// Always false: a zero-length object cannot be mapped.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn os_id(name: &str) -> String {
    format!("/{name}")
}

fn to_io(name: &str, op: &str, e: shared_memory::ShmemError) -> io::Error {
    use shared_memory::ShmemError as E;
    let kind = match e {
        E::MappingIdExists | E::LinkExists => io::ErrorKind::AlreadyExists,
        E::MapOpenFailed(code) if code == libc::ENOENT as u32 => io::ErrorKind::NotFound,
        E::MapOpenFailed(code) if code == libc::EACCES as u32 => io::ErrorKind::PermissionDenied,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, format!("{op} /dev/shm/{name}: {e}"))
}

/// Create `name` exclusively (fails if it exists) with mode 0600 and `size` zeroed bytes.
pub fn create(name: &str, size: usize) -> io::Result<Mapping> {
    let mut shmem = shared_memory::ShmemConf::new()
        .os_id(os_id(name))
        .size(size)
        .create()
        .map_err(|e| to_io(name, "create", e))?;
    // The crate would unlink on drop; segments must outlive their creator's handle.
    shmem.set_owner(false);
    Ok(Mapping { shmem })
}

/// Map an existing object read-write, at its current size.
pub fn open(name: &str) -> io::Result<Mapping> {
    let mut shmem = shared_memory::ShmemConf::new()
        .os_id(os_id(name))
        .open()
        .map_err(|e| to_io(name, "open", e))?;
    shmem.set_owner(false);
    Ok(Mapping { shmem })
}

/// Remove the object's name; processes that have it mapped keep their mapping.
pub fn unlink(name: &str) -> io::Result<()> {
    std::fs::remove_file(path_of(name))
}

/// `/dev/shm/NAME`.
pub fn path_of(name: &str) -> PathBuf {
    PathBuf::from(SHM_DIR).join(name)
}

/// Size in bytes of the object, without mapping it.
pub fn size_of(name: &str) -> io::Result<u64> {
    Ok(std::fs::metadata(path_of(name))?.len())
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

/// Touch every page so no page fault lands on the hot path. Uses MADV_POPULATE_WRITE where
/// the kernel has it (5.14+), else writes each page's first byte back to itself.
pub fn prefault(m: &Mapping) {
    const MADV_POPULATE_WRITE: libc::c_int = 23;
    // SAFETY: the range is exactly our mapping; POPULATE_WRITE faults pages in without
    // changing their contents.
    let rc = unsafe { libc::madvise(m.as_ptr().cast(), m.len(), MADV_POPULATE_WRITE) };
    if rc == 0 {
        return;
    }
    let page = page_size();
    let mut off = 0;
    while off < m.len() {
        // SAFETY: off < len, inside the mapping. A byte-sized atomic fetch_add of 0 touches
        // the page for writing without a racy plain write.
        unsafe {
            let p = m.as_ptr().add(off);
            std::sync::atomic::AtomicU8::from_ptr(p)
                .fetch_add(0, std::sync::atomic::Ordering::Relaxed);
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

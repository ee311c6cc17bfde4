//! The strategy's sandbox, applied by the strategy process to itself once it has mapped its
//! segments and before it imports any user code (`phantom_pipeline.sandbox` drives it):
//!
//! * **Landlock** ([`restrict_filesystem`]): file access only beneath the paths granted
//!   (read-only, or read-write), no TCP bind or connect, no signal to a process outside the
//!   sandbox (the signer, the supervisor, the feeder), no abstract UNIX socket outside it.
//!   It needs Landlock ABI [`MIN_ABI`] (Linux 6.12): ABI 6 brought the signal and
//!   abstract-socket scopes, 4 TCP, 3 truncate, 2 rename across directories.
//! * **seccomp** ([`deny_syscalls`]), on every thread at once (TSYNC): no `socket()` or
//!   `socketpair()` of any family (Landlock does not cover pathname UNIX sockets, such as the
//!   supervisor's control socket), no io_uring, no ptrace, no `process_vm_*`, and no
//!   x32/ia32 system calls, which could name the same operations by other numbers.
//!
//! Both set `no_new_privs`. Neither can be undone by the process.

use landlock::{
    path_beneath_rules, Access, AccessFs, AccessNet, CompatLevel, Compatible, Ruleset, RulesetAttr,
    RulesetCreatedAttr, RulesetStatus, Scope, ABI,
};
use seccompiler::{apply_filter_all_threads, BpfProgram, SeccompAction, SeccompFilter, TargetArch};
use std::collections::BTreeMap;
use std::path::Path;

/// The lowest Landlock ABI the sandbox accepts: 6 (scoped signals and abstract sockets).
pub const MIN_ABI: i32 = 6;

/// The Landlock ABI this kernel offers (0 when Landlock is absent or disabled).
pub fn abi() -> i32 {
    // The landlock crate keeps its probe private (it wants callers to name the ABI they were
    // tested with), so ask the kernel directly: landlock_create_ruleset(NULL, 0, VERSION) only
    // returns the ABI version and creates nothing.
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: the version query takes no attribute (NULL, size 0) and has no side effect.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    i32::try_from(v.max(0)).unwrap_or(0)
}

/// Restrict this process's file access to `read` (read, execute) and `read_write` (every
/// file right) paths, forbid TCP and scope signals and abstract UNIX sockets. Refuses unless
/// every restriction is enforced. Returns the kernel's ABI.
pub fn restrict_filesystem(read: &[&Path], read_write: &[&Path]) -> Result<i32, String> {
    let kernel = abi();
    if kernel < MIN_ABI {
        return Err(format!(
            "Landlock ABI {kernel} is below the {MIN_ABI} the sandbox needs (Linux 6.12)"
        ));
    }
    let target = ABI::V6;
    let status = Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(AccessFs::from_all(target))
        .and_then(|r| r.handle_access(AccessNet::from_all(target)))
        .and_then(|r| r.scope(Scope::from_all(target)))
        .and_then(|r| r.create())
        .and_then(|r| r.add_rules(path_beneath_rules(read, AccessFs::from_read(target))))
        .and_then(|r| r.add_rules(path_beneath_rules(read_write, AccessFs::from_all(target))))
        .and_then(|r| r.restrict_self())
        .map_err(|e| format!("Landlock: {e}"))?;
    if status.ruleset != RulesetStatus::FullyEnforced || !status.no_new_privs {
        return Err(format!(
            "Landlock: the ruleset is {:?} (no_new_privs {}), not fully enforced",
            status.ruleset, status.no_new_privs
        ));
    }
    Ok(kernel)
}

/// The system calls the sandbox refuses (with `EPERM`).
const DENIED: [(&str, i64); 8] = [
    ("socket", libc::SYS_socket),
    ("socketpair", libc::SYS_socketpair),
    ("io_uring_setup", libc::SYS_io_uring_setup),
    ("io_uring_enter", libc::SYS_io_uring_enter),
    ("io_uring_register", libc::SYS_io_uring_register),
    ("ptrace", libc::SYS_ptrace),
    ("process_vm_readv", libc::SYS_process_vm_readv),
    ("process_vm_writev", libc::SYS_process_vm_writev),
];

/// Names of the system calls [`deny_syscalls`] refuses.
pub fn denied_names() -> Vec<&'static str> {
    DENIED.iter().map(|(n, _)| *n).collect()
}

/// Install the seccomp filters on every thread of the process (TSYNC): the calls of
/// [`DENIED`] fail with `EPERM`; a system call of another architecture (ia32 through
/// `int 0x80`) kills the process; an x32 system call (number with bit 30 set) fails.
pub fn deny_syscalls() -> Result<(), String> {
    let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(|e| format!("seccomp: {e}"))?;
    let rules: BTreeMap<i64, Vec<seccompiler::SeccompRule>> =
        DENIED.iter().map(|(_, nr)| (*nr, Vec::new())).collect();
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )
    .map_err(|e| format!("seccomp: {e}"))?;
    let program: BpfProgram = filter.try_into().map_err(|e| format!("seccomp: {e}"))?;
    apply_filter_all_threads(&program).map_err(|e| format!("seccomp: {e}"))?;
    if cfg!(target_arch = "x86_64") {
        apply_filter_all_threads(&x32_filter()).map_err(|e| format!("seccomp (x32): {e}"))?;
    }
    Ok(())
}

/// `EPERM` for every x32 system call: seccompiler matches system-call numbers one by one,
/// and x32 numbers are the x86-64 ones with bit 30 (`__X32_SYSCALL_BIT`) set. Four BPF
/// instructions: load the number, test the bit, refuse or allow. (The first filter has
/// already checked the architecture.)
fn x32_filter() -> BpfProgram {
    use seccompiler::sock_filter;
    const X32_SYSCALL_BIT: u32 = 0x4000_0000;
    let stmt = |code: u32, k: u32| sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    };
    vec![
        // A = seccomp_data.nr (offset 0)
        stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0),
        // if (A & X32_SYSCALL_BIT) goto refuse else goto allow
        sock_filter {
            code: (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16,
            jt: 0,
            jf: 1,
            k: X32_SYSCALL_BIT,
        },
        stmt(
            libc::BPF_RET | libc::BPF_K,
            libc::SECCOMP_RET_ERRNO | libc::EPERM as u32,
        ),
        stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW),
    ]
}

//! What every child process of the supervisor does first: die with it.
//!
//! [`die_with_supervisor`] asks the kernel for SIGTERM when the parent goes away
//! (`PR_SET_PDEATHSIG`; it fires when the *thread* that forked exits, which is why the
//! supervisor forks from one long-lived thread) and then compares `getppid()` with the pid
//! the supervisor passed (`--supervisor-pid`): a supervisor that died before the request was
//! made has already re-parented the child, and the signal would never come. Feeder, signer,
//! simulator and (through the extension) the strategy runtime share this one implementation.

use std::io;

/// Why a child refuses to run.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// `prctl(PR_SET_PDEATHSIG)` failed.
    #[error("cannot ask for a death signal (prctl PR_SET_PDEATHSIG): {0}")]
    DeathSignal(#[source] io::Error),
    /// The parent is not the supervisor that started this process: it died already.
    #[error("the supervisor (pid {expected}) is gone (parent is now pid {actual}): exiting")]
    SupervisorGone {
        /// The `--supervisor-pid` given.
        expected: u32,
        /// `getppid()` now.
        actual: u32,
    },
}

/// Set SIGTERM as this process's death signal, then check that the parent is still
/// `supervisor_pid`. Call it first thing in `main`, before any work; on error, exit.
pub fn die_with_supervisor(supervisor_pid: u32) -> Result<(), ProcessError> {
    // SAFETY: prctl(PR_SET_PDEATHSIG, sig) takes plain integers and touches no memory of ours.
    let rc = unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGTERM as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    if rc != 0 {
        return Err(ProcessError::DeathSignal(io::Error::last_os_error()));
    }
    check_parent(supervisor_pid)
}

/// Whether the parent is still `supervisor_pid` (the check after the death signal is set,
/// and what a long-running loop may re-check).
pub fn check_parent(supervisor_pid: u32) -> Result<(), ProcessError> {
    // SAFETY: getppid has no preconditions.
    let actual = unsafe { libc::getppid() } as u32;
    if actual == supervisor_pid {
        Ok(())
    } else {
        Err(ProcessError::SupervisorGone {
            expected: supervisor_pid,
            actual,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_check_accepts_the_parent_and_refuses_any_other_pid() {
        // SAFETY: getppid has no preconditions.
        let parent = unsafe { libc::getppid() } as u32;
        assert!(check_parent(parent).is_ok());
        let err = check_parent(parent.wrapping_add(1)).expect_err("not the parent");
        assert!(err.to_string().contains("is gone"), "{err}");
    }
}

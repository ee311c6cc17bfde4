//! The one clock of the project (CLOCK_MONOTONIC ns, identical in every process) and facts
//! about processes that the stale-segment check needs.

/// CLOCK_MONOTONIC in nanoseconds: every record timestamp uses it.
#[inline]
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Wall-clock time in ns since the Unix epoch (for humans only; never for latency).
pub fn unix_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Start time of process `pid` in clock ticks since boot (/proc/PID/stat field 22), or
/// `None` if there is no such process. With the pid it identifies a process across pid reuse.
pub fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses: fields after it are
    // counted from the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    // rest starts with " S ..." where S is field 3; field 22 is the 20th after ')'.
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether the process identified by (pid, start time) is still running (a zombie counts as
/// gone).
pub fn process_alive(pid: u32, start_time: u64) -> bool {
    if pid == 0 {
        return false;
    }
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let Some(close) = stat.rfind(')') else {
        return false;
    };
    let mut fields = stat[close + 1..].split_whitespace();
    let state = fields.next().unwrap_or("X");
    if state == "Z" || state == "X" {
        return false;
    }
    fields.nth(18).and_then(|s| s.parse::<u64>().ok()) == Some(start_time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_and_a_different_start_time_is_not() {
        let pid = std::process::id();
        let st = process_start_time(pid).expect("own /proc/self/stat");
        assert!(process_alive(pid, st));
        assert!(!process_alive(pid, st + 1));
        assert!(!process_alive(0, st));
    }

    #[test]
    fn monotonic_clock_advances() {
        let a = monotonic_ns();
        let b = monotonic_ns();
        assert!(b >= a && a > 0);
    }
}

//! The synchronisation primitives the ring protocol is written against.
//!
//! In a normal build these are `std` atomics and the Linux futex syscall on a *shared*
//! (not `FUTEX_PRIVATE_FLAG`) word, because the waiter and the waker live in different
//! processes. Under `--cfg loom` they are loom's atomics and a faithful futex model
//! (a mutex + condvar: the value check and the enqueue are atomic with respect to a wake),
//! so `tests/loom.rs` checks the very code the rings run.

#[cfg(loom)]
pub use loom::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
#[cfg(not(loom))]
pub use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

/// One iteration of a busy-wait: the CPU's pause/yield hint (or a loom yield under loom).
#[inline(always)]
pub fn spin_hint() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::hint::spin_loop();
}

/// Give the core to another runnable thread (the middle stage of the adaptive wait).
#[inline]
pub fn yield_now() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::thread::yield_now();
}

#[cfg(not(loom))]
mod futex_impl {
    use super::AtomicU32;

    /// Sleep while `*word == expected`, for at most `timeout_ns` (0 = no timeout).
    ///
    /// Returns on a wake, on a value change (EAGAIN), on a signal or on the timeout: callers
    /// always re-check their condition.
    pub fn futex_wait(word: &AtomicU32, expected: u32, timeout_ns: u64) {
        let ts = libc::timespec {
            tv_sec: (timeout_ns / 1_000_000_000) as libc::time_t,
            tv_nsec: (timeout_ns % 1_000_000_000) as libc::c_long,
        };
        let ts_ptr = if timeout_ns == 0 {
            std::ptr::null()
        } else {
            &ts as *const libc::timespec
        };
        // SAFETY: `word` is a valid, aligned u32 for the duration of the call; FUTEX_WAIT
        // (shared, not private: the waker is another process) only reads it.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAIT,
                expected,
                ts_ptr,
                std::ptr::null::<u32>(),
                0u32,
            );
        }
    }

    /// Wake every process sleeping on `word`.
    pub fn futex_wake(word: &AtomicU32) {
        // SAFETY: `word` is a valid, aligned u32; FUTEX_WAKE does not dereference it beyond
        // hashing its physical address.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAKE,
                i32::MAX,
                std::ptr::null::<libc::timespec>(),
                std::ptr::null::<u32>(),
                0u32,
            );
        }
    }
}

#[cfg(loom)]
mod futex_impl {
    //! A futex model: one global wait queue. `futex_wait` checks the value and starts waiting
    //! atomically with respect to `futex_wake` (both hold the mutex), exactly the guarantee the
    //! kernel gives. There is no timeout in the model, so a lost wake-up is a deadlock and loom
    //! reports it.
    use super::{AtomicU32, Ordering};
    use loom::sync::{Condvar, Mutex};

    loom::lazy_static! {
        static ref QUEUE: (Mutex<()>, Condvar) = (Mutex::new(()), Condvar::new());
    }

    /// Model of `FUTEX_WAIT`: block until woken if `*word == expected` (no timeout).
    pub fn futex_wait(word: &AtomicU32, expected: u32, _timeout_ns: u64) {
        let guard = QUEUE.0.lock().unwrap();
        if word.load(Ordering::SeqCst) == expected {
            drop(QUEUE.1.wait(guard).unwrap());
        }
    }

    /// Model of `FUTEX_WAKE`: wake every waiter.
    pub fn futex_wake(_word: &AtomicU32) {
        let _guard = QUEUE.0.lock().unwrap();
        QUEUE.1.notify_all();
    }
}

pub use futex_impl::{futex_wait, futex_wake};

//! A wake-up for threads that wait on a condition guarded by a `parking_lot` lock.
//!
//! Why not `parking_lot::Condvar`: a thread parked there is recorded in `parking_lot`'s global
//! hash table, by a pointer into its own stack. After `fork()` the child inherits the table, but
//! not the thread, and glibc gives the dead threads' stacks to the child's new threads: the first
//! park or notify in the child that walks that bucket follows garbage (a crash observed in the
//! fork tests: "misaligned pointer dereference" in `unpark_requeue`). Our export threads and flush
//! callers wait for long stretches, so they are parked at almost every fork. This type waits on
//! std's futex-based `Mutex` and `Condvar`, whose state lives in the object itself: a dead parent
//! thread leaves nothing behind in the child.
//!
//! Use: read [`Wakeup::generation`] *before* checking the condition under its lock, then
//! [`Wakeup::wait_until`] with that generation (a change made after the read is never missed);
//! the side that changes the condition calls [`Wakeup::notify_all`] while still holding the
//! condition's lock (so that the fork handler, which holds those locks, never forks in the middle
//! of a notify).

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

/// A generation counter with a condition variable.
#[derive(Debug, Default)]
pub struct Wakeup {
    generation: Mutex<u64>,
    cv: Condvar,
}

impl Wakeup {
    /// A new signal.
    pub fn new() -> Wakeup {
        Wakeup::default()
    }

    fn lock(&self) -> MutexGuard<'_, u64> {
        // Nothing panics while holding it, but a poisoned counter is still a valid counter.
        self.generation
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The current generation (read before checking the condition).
    pub fn generation(&self) -> u64 {
        *self.lock()
    }

    /// Wakes every waiter.
    pub fn notify_all(&self) {
        let mut g = self.lock();
        *g = g.wrapping_add(1);
        drop(g);
        self.cv.notify_all();
    }

    /// Waits until the generation differs from `seen` (returns true) or `deadline` passes (false).
    pub fn wait_until(&self, seen: u64, deadline: Instant) -> bool {
        let mut g = self.lock();
        while *g == seen {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            g = match self.cv.wait_timeout(g, deadline - now) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn a_notify_after_the_read_is_never_missed() {
        let s = Arc::new(Wakeup::new());
        let seen = s.generation();
        let t = {
            let s = s.clone();
            std::thread::spawn(move || s.notify_all())
        };
        assert!(s.wait_until(seen, Instant::now() + Duration::from_secs(10)));
        t.join().unwrap();
        let seen = s.generation();
        assert!(!s.wait_until(seen, Instant::now() + Duration::from_millis(20)));
    }
}

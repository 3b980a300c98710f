//! The fork protocol.
//!
//! `fork()` copies only the calling thread. Any lock another thread held stays locked forever in
//! the child, and the child's copies of our threads, HTTP connections and SQLite state are dead
//! or unsafe. The protocol, registered once with `pthread_atfork` (so it also covers forks made
//! by C code, not only `os.fork()`):
//!
//! 1. **before** (prepare): take the state locks, in the pipeline's lock order, so that no lock
//!    is mid-update at the fork. Nothing waits for an export: export threads never hold these
//!    locks across I/O. Each store writer's connection is closed (its lock is taken with a
//!    short bound, since a batch write takes milliseconds), so that no SQLite state for the file
//!    reaches the child; if a write is still running, the child is told not to use the store.
//! 2. **after, in the parent**: release them.
//! 3. **after, in the child**: release them, drop the copy of the parent's queues (the parent
//!    sends those spans), and bump the fork generation. The child's pipeline is rebuilt lazily on
//!    its first span: new threads, new HTTP clients, new SQLite connections.
//!
//! Only async-signal-safe work happens in the child handler (atomics and unlocking); the rebuild
//! happens later, on an ordinary call.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Once;
use std::time::Duration;

static GENERATION: AtomicU64 = AtomicU64::new(0);
static CHILD_STORE_UNSAFE: AtomicBool = AtomicBool::new(false);
static STORE_BUSY_AT_FORK: AtomicBool = AtomicBool::new(false);
/// Store slots locked by `before_fork` (their guards forgotten), released after the fork.
static HELD_SLOTS: parking_lot::Mutex<Vec<std::sync::Arc<crate::store::Slot>>> =
    parking_lot::Mutex::new(Vec::new());
static REGISTER: Once = Once::new();

/// How long the prepare handler waits for a store write in progress.
const STORE_GATE_WAIT: Duration = Duration::from_millis(100);

/// The number of forks this process descends from (0 in the original process).
pub fn generation() -> u64 {
    GENERATION.load(Ordering::Acquire)
}

/// Whether this (forked) process must not open the local store: the fork happened while a store
/// write held a connection open.
pub fn child_store_unsafe() -> bool {
    CHILD_STORE_UNSAFE.load(Ordering::Relaxed)
}

/// Registers the handlers with `pthread_atfork` (once per process).
pub fn register() {
    REGISTER.call_once(|| {
        #[cfg(unix)]
        // SAFETY: the three handlers are `extern "C"` functions with no arguments that never
        // unwind (they only lock, unlock and touch atomics).
        unsafe {
            libc::pthread_atfork(Some(prepare), Some(parent), Some(child));
        }
    });
}

/// Step 1 of the protocol; public so that a binding can run it from its own hooks when a host
/// forks without `pthread_atfork` running (never needed on Linux and macOS).
pub fn before_fork() {
    crate::global::lock_for_fork();
    // Close every store connection (waiting, boundedly, for a write in progress), so that no
    // SQLite state for the file is copied into the child; writers reopen on their next batch.
    let mut busy = false;
    {
        let mut held = HELD_SLOTS.lock();
        held.clear();
        let slots: Vec<std::sync::Arc<crate::store::Slot>> = crate::store::SLOTS
            .lock()
            .iter()
            .filter_map(|w| w.upgrade())
            .collect();
        for slot in slots {
            let locked = match slot.try_lock_for(STORE_GATE_WAIT) {
                Some(mut guard) => {
                    drop(guard.take());
                    std::mem::forget(guard);
                    true
                }
                None => false,
            };
            if locked {
                held.push(slot);
            } else {
                busy = true;
            }
        }
    }
    STORE_BUSY_AT_FORK.store(busy, Ordering::Relaxed);
    std::mem::forget(HELD_SLOTS.lock());
    crate::key::interner_lock_for_fork();
    crate::scope::lock_for_fork();
    crate::diag::lock_for_fork();
}

/// Step 2.
pub fn after_fork_parent() {
    release(false);
}

/// Step 3.
pub fn after_fork_child() {
    if STORE_BUSY_AT_FORK.load(Ordering::Relaxed) {
        CHILD_STORE_UNSAFE.store(true, Ordering::Relaxed);
    }
    GENERATION.fetch_add(1, Ordering::AcqRel);
    release(true);
}

fn release(in_child: bool) {
    crate::diag::unlock_after_fork();
    crate::scope::unlock_after_fork();
    crate::key::interner_unlock_after_fork();
    // SAFETY: HELD_SLOTS and each slot in it were locked by `before_fork` of this same fork,
    // their guards forgotten.
    unsafe {
        HELD_SLOTS.force_unlock();
        for slot in HELD_SLOTS.lock().drain(..) {
            slot.force_unlock();
        }
    }
    crate::global::unlock_after_fork(in_child);
}

extern "C" fn prepare() {
    before_fork();
}
extern "C" fn parent() {
    after_fork_parent();
}
extern "C" fn child() {
    after_fork_child();
}

//! fivelens's own diagnostics: one line on stderr per distinct problem, rate-limited, never
//! raised into the host. The last messages are kept for `status()`.
//!
//! A collector that is down must not flood the app's logs: each message kind is printed the first
//! time, then at most once a minute with the count of repeats in between.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rustc_hash::FxHashMap;

/// Severity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    /// Errors.
    Error = 1,
    /// Warnings (default threshold).
    Warn = 2,
    /// Information.
    Info = 3,
    /// Debugging detail.
    Debug = 4,
}

static THRESHOLD: AtomicU8 = AtomicU8::new(Level::Warn as u8);
const REPEAT_INTERVAL: Duration = Duration::from_secs(60);
const KEEP: usize = 32;

struct Seen {
    last_print: Instant,
    suppressed: u64,
}

struct State {
    seen: FxHashMap<&'static str, Seen>,
    recent: VecDeque<String>,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);

/// Sets the threshold from a config string (`off`, `error`, `warn`, `info`, `debug`).
pub fn set_level(level: &str) {
    let v = match level {
        "off" => 0,
        "error" => Level::Error as u8,
        "info" => Level::Info as u8,
        "debug" => Level::Debug as u8,
        _ => Level::Warn as u8,
    };
    THRESHOLD.store(v, Ordering::Relaxed);
}

/// Reports a problem of kind `kind` (a static tag that groups repeats).
pub fn report(level: Level, kind: &'static str, message: &str) {
    report_with(level, kind, || message.to_string());
}

/// Reports a message the caller already shows only once per distinct subject (an unknown model
/// per model): not rate-limited by kind, so each subject's one line appears.
pub fn report_distinct(level: Level, message: String) {
    {
        let mut guard = STATE.lock();
        let state = guard.get_or_insert_with(|| State {
            seen: FxHashMap::default(),
            recent: VecDeque::new(),
        });
        if state.recent.len() >= KEEP {
            state.recent.pop_front();
        }
        state
            .recent
            .push_back(format!("{}: {message}", level_name(level)));
    }
    if (level as u8) <= THRESHOLD.load(Ordering::Relaxed) {
        eprintln!("fivelens {}: {message}", level_name(level));
    }
}

/// Like [`report`], building the message only when it will be shown (for hot failure paths:
/// a full queue drops many spans, and repeats are suppressed).
pub fn report_with(level: Level, kind: &'static str, message: impl FnOnce() -> String) {
    let now = Instant::now();
    let line = {
        let mut guard = STATE.lock();
        let state = guard.get_or_insert_with(|| State {
            seen: FxHashMap::default(),
            recent: VecDeque::new(),
        });
        let line = match state.seen.get_mut(kind) {
            None => {
                state.seen.insert(
                    kind,
                    Seen {
                        last_print: now,
                        suppressed: 0,
                    },
                );
                Some(message())
            }
            Some(seen) if now.duration_since(seen.last_print) >= REPEAT_INTERVAL => {
                let n = seen.suppressed;
                seen.last_print = now;
                seen.suppressed = 0;
                let message = message();
                Some(if n > 0 {
                    format!("{message} (repeated {n} times since the last report)")
                } else {
                    message
                })
            }
            Some(seen) => {
                seen.suppressed += 1;
                None
            }
        };
        if let Some(l) = &line {
            if state.recent.len() >= KEEP {
                state.recent.pop_front();
            }
            state
                .recent
                .push_back(format!("{}: {l}", level_name(level)));
        }
        line
    };
    if let Some(line) = line {
        if (level as u8) <= THRESHOLD.load(Ordering::Relaxed) {
            eprintln!("fivelens {}: {line}", level_name(level));
        }
    }
}

/// The most recent distinct messages (oldest first).
pub fn recent() -> Vec<String> {
    STATE
        .lock()
        .as_ref()
        .map(|s| s.recent.iter().cloned().collect())
        .unwrap_or_default()
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Error => "error",
        Level::Warn => "warning",
        Level::Info => "info",
        Level::Debug => "debug",
    }
}

/// After a fork the child must not wait on a lock another thread held.
pub(crate) fn lock_for_fork() {
    std::mem::forget(STATE.lock());
}

/// Releases the lock taken by [`lock_for_fork`].
pub(crate) fn unlock_after_fork() {
    // SAFETY: called only in the atfork parent/child handlers, after `lock_for_fork` locked it
    // in the prepare handler of the same fork and forgot the guard.
    unsafe { STATE.force_unlock() };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_suppressed() {
        set_level("off");
        report(Level::Warn, "test.repeat", "first");
        report(Level::Warn, "test.repeat", "second");
        let recent = recent();
        assert!(recent.iter().any(|l| l.ends_with("first")));
        assert!(!recent.iter().any(|l| l.ends_with("second")));
    }
}

//! Interned attribute keys.
//!
//! Attribute keys repeat endlessly (`gen_ai.request.model` on every model call), so each distinct
//! key is stored once, leaked to `'static`, and a [`Key`] is a pointer to it: cloning is a copy
//! and reading it needs no lock. The table is bounded: an application that invents keys
//! dynamically (`"user-" + id`) must not grow it forever, so past [`MAX_INTERNED_KEYS`] new keys
//! are kept as owned strings on their record instead.
//!
//! Lock order: the interner lock is a leaf; nothing is locked while it is held. It is one of the
//! state locks taken by [`crate::fork::before_fork`].

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::LazyLock;

use parking_lot::RwLock;
use rustc_hash::FxHashMap;

/// Upper bound on distinct interned keys (about 4,096 keys of 30 bytes: ~200 KB at most).
pub const MAX_INTERNED_KEYS: usize = 4096;

/// An attribute key: interned when the table has room, owned otherwise.
#[derive(Clone)]
pub enum Key {
    /// A key in the process-wide table.
    Interned(&'static str),
    /// A key that arrived after the table was full.
    Owned(Box<str>),
}

impl Key {
    /// Interns `name` (or returns the existing entry).
    pub fn new(name: &str) -> Key {
        if let Some(existing) = INTERNER.read().get(name) {
            return Key::Interned(existing);
        }
        let mut table = INTERNER.write();
        if let Some(existing) = table.get(name) {
            return Key::Interned(existing);
        }
        if table.len() >= MAX_INTERNED_KEYS {
            return Key::Owned(name.into());
        }
        let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
        table.insert(leaked, leaked);
        Key::Interned(leaked)
    }

    /// The key's text.
    pub fn as_str(&self) -> &str {
        match self {
            Key::Interned(s) => s,
            Key::Owned(s) => s,
        }
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            // Interned keys are unique per content, so the pointer decides.
            (Key::Interned(a), Key::Interned(b)) => std::ptr::eq(*a, *b),
            _ => self.as_str() == other.as_str(),
        }
    }
}
impl Eq for Key {}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl From<&str> for Key {
    fn from(value: &str) -> Self {
        Key::new(value)
    }
}

pub(crate) static INTERNER: LazyLock<RwLock<FxHashMap<&'static str, &'static str>>> =
    LazyLock::new(|| {
        let mut map = FxHashMap::default();
        for name in crate::semconv::ATTRIBUTE_KEYS {
            map.insert(*name, *name);
        }
        RwLock::new(map)
    });

/// Fork protocol: hold the interner lock across `fork()`.
pub(crate) fn interner_lock_for_fork() {
    std::mem::forget(INTERNER.write());
}

/// Fork protocol: release the lock taken by [`interner_lock_for_fork`].
pub(crate) fn interner_unlock_after_fork() {
    // SAFETY: paired with `interner_lock_for_fork` in the same fork's prepare handler.
    unsafe { INTERNER.force_unlock_write() };
}

/// Number of keys currently interned (for `status()`).
pub fn interned_count() -> usize {
    INTERNER.read().len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_text_same_pointer() {
        let a = Key::new("test.key.same");
        let b = Key::new(&String::from("test.key.same"));
        assert_eq!(a, b);
        match (a, b) {
            (Key::Interned(x), Key::Interned(y)) => assert!(std::ptr::eq(x, y)),
            _ => panic!("expected interned keys"),
        }
    }

    #[test]
    fn semconv_keys_are_preinterned() {
        let k = Key::new(crate::semconv::GEN_AI_REQUEST_MODEL);
        assert!(matches!(k, Key::Interned(_)));
    }

    #[test]
    fn owned_equals_interned_by_text() {
        let a = Key::new("test.key.mixed");
        let b = Key::Owned("test.key.mixed".into());
        assert_eq!(a, b);
    }
}

//! Trace-scoped attributes: session, hashed user, tenant, tags and whatever else the app sets
//! with `fivelens.context(...)`. They are stamped on every span started inside the scope, and
//! travel to downstream fivelens processes in the `fivelens-context` header / `_meta` key.
//!
//! User ids never leave the process in clear: they are replaced by an HMAC-SHA256 of the id under
//! a configured key (`user_hash_key`). Without one, a random key is generated once and kept beside
//! the local store (owner-only), which keeps hashes stable across restarts on one machine; for
//! hashes that agree across services, every service needs the same configured key.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hmac::{Hmac, KeyInit, Mac};
use parking_lot::{Mutex, RwLock};
use sha2::Sha256;

use crate::key::Key;
use crate::semconv;
use crate::value::{KeyValue, Value};

/// Most bytes of a `fivelens-context` value we write or accept.
pub const MAX_WIRE_BYTES: usize = 4096;

/// A set of trace-scoped attributes; nested scopes are merged when created, so a span holds one
/// `Arc` and stamping needs no walk up a chain.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct TraceScope {
    /// The merged attributes (inner scope's values win), stamped on every span.
    pub attributes: Vec<KeyValue>,
    /// Attributes stamped on model-call spans only: the pipeline stage and the declared prompt
    /// name and version. They stay in this process (not sent downstream).
    pub llm_attributes: Vec<KeyValue>,
}

fn merge(base: &[KeyValue], over: Vec<KeyValue>) -> Vec<KeyValue> {
    let mut merged: Vec<KeyValue> = base.to_vec();
    for (k, v) in over {
        match merged.iter_mut().find(|(mk, _)| *mk == k) {
            Some(slot) => slot.1 = v,
            None => merged.push((k, v)),
        }
    }
    merged
}

impl TraceScope {
    /// A scope with `attributes` on top of `parent`'s.
    pub fn child_of(parent: Option<&TraceScope>, attributes: Vec<KeyValue>) -> TraceScope {
        TraceScope {
            attributes: merge(
                parent.map(|p| p.attributes.as_slice()).unwrap_or(&[]),
                attributes,
            ),
            llm_attributes: parent.map(|p| p.llm_attributes.clone()).unwrap_or_default(),
        }
    }

    /// A scope adding model-call-only attributes (stage, prompt) on top of `parent`'s.
    pub fn child_for_model_calls(
        parent: Option<&TraceScope>,
        llm_attributes: Vec<KeyValue>,
    ) -> TraceScope {
        TraceScope {
            attributes: parent.map(|p| p.attributes.clone()).unwrap_or_default(),
            llm_attributes: merge(
                parent.map(|p| p.llm_attributes.as_slice()).unwrap_or(&[]),
                llm_attributes,
            ),
        }
    }

    /// The value of one attribute.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.attributes
            .iter()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v)
    }

    /// Encodes the scope for the `fivelens-context` header: `key=value` members separated by
    /// commas, each value percent-encoded JSON (so types survive), bounded by [`MAX_WIRE_BYTES`];
    /// members that do not fit are left out.
    pub fn to_wire(&self) -> String {
        let mut out = String::new();
        for (k, v) in &self.attributes {
            let member = format!(
                "{}={}",
                percent_encode(k.as_str()),
                percent_encode(&v.to_json().to_string())
            );
            if out.len() + member.len() + 1 > MAX_WIRE_BYTES {
                continue;
            }
            if !out.is_empty() {
                out.push(',');
            }
            out.push_str(&member);
        }
        out
    }

    /// Decodes a `fivelens-context` value; malformed members are skipped, never an error.
    pub fn from_wire(s: &str) -> TraceScope {
        let mut attributes = Vec::new();
        if s.len() > MAX_WIRE_BYTES {
            return TraceScope::default();
        }
        for member in s.split(',') {
            let Some((k, v)) = member.split_once('=') else {
                continue;
            };
            let (Some(k), Some(v)) = (
                crate::config::percent_decode(k.trim()),
                crate::config::percent_decode(v.trim()),
            ) else {
                continue;
            };
            if k.is_empty()
                || attributes
                    .iter()
                    .any(|(existing, _): &KeyValue| existing.as_str() == k)
            {
                continue;
            }
            let Ok(json) = serde_json::from_str::<serde_json::Value>(&v) else {
                continue;
            };
            if let Some(value) = Value::from_json(&json) {
                attributes.push((Key::new(&k), value));
            }
        }
        TraceScope {
            attributes,
            llm_attributes: Vec::new(),
        }
    }
}

/// Builds the attributes of `fivelens.context(session_id=, user_id=, tenant=, tags=, **more)`.
pub fn context_attributes(
    session_id: Option<&str>,
    user_id: Option<&str>,
    tenant: Option<&str>,
    tags: Option<Vec<Box<str>>>,
    more: Vec<KeyValue>,
) -> Vec<KeyValue> {
    let mut attrs: Vec<KeyValue> = Vec::new();
    if let Some(s) = session_id {
        attrs.push((Key::new(semconv::SESSION_ID), Value::from(s)));
    }
    if let Some(u) = user_id {
        attrs.push((Key::new(semconv::USER_HASH), Value::from(hash_user_id(u))));
    }
    if let Some(t) = tenant {
        attrs.push((Key::new(semconv::FIVELENS_TENANT), Value::from(t)));
    }
    if let Some(tags) = tags {
        attrs.push((
            Key::new(semconv::FIVELENS_TAGS),
            Value::StrArray(tags.into()),
        ));
    }
    attrs.extend(more);
    attrs
}

type HmacSha256 = Hmac<Sha256>;

struct UserHashKey {
    key: Vec<u8>,
    generated: bool,
}

enum KeySource {
    Configured(String),
    File(Option<PathBuf>),
}

static KEY_SOURCE: Mutex<Option<KeySource>> = Mutex::new(None);
static USER_HASH_KEY: RwLock<Option<Arc<UserHashKey>>> = RwLock::new(None);

/// Sets where the user-hash key comes from: the configured key, or else a key generated once and
/// kept in `key_file` (owner-only). The key is loaded on first use.
pub fn configure_user_hash_key(configured: Option<String>, key_file: Option<PathBuf>) {
    *KEY_SOURCE.lock() = Some(match configured {
        Some(k) => KeySource::Configured(k),
        None => KeySource::File(key_file),
    });
    *USER_HASH_KEY.write() = None;
}

fn load_key() -> Arc<UserHashKey> {
    let source = KEY_SOURCE.lock().take().unwrap_or(KeySource::File(None));
    let key = match &source {
        KeySource::Configured(k) => UserHashKey {
            key: k.as_bytes().to_vec(),
            generated: false,
        },
        KeySource::File(path) => {
            let key = path
                .as_deref()
                .and_then(load_or_create_key)
                .unwrap_or_else(random_key);
            crate::diag::report(
                crate::diag::Level::Warn,
                "user_hash_key",
                &format!(
                    "no user_hash_key is configured: user ids are hashed with a key generated on this machine{}; \
                     set FIVELENS_USER_HASH_KEY to the same secret on every service for user hashes that correlate across services",
                    path.as_ref().map(|p| format!(" ({})", p.display())).unwrap_or_default()
                ),
            );
            UserHashKey {
                key,
                generated: true,
            }
        }
    };
    *KEY_SOURCE.lock() = Some(source);
    Arc::new(key)
}

/// HMAC-SHA256 of the user id under the configured key, as 32 hex digits (128 bits).
pub fn hash_user_id(user_id: &str) -> String {
    let installed = USER_HASH_KEY.read().clone();
    let key = match installed {
        Some(k) => k,
        None => {
            let mut slot = USER_HASH_KEY.write();
            match &*slot {
                Some(k) => k.clone(),
                None => {
                    let k = load_key();
                    *slot = Some(k.clone());
                    k
                }
            }
        }
    };
    keyed_hash(&key.key, user_id)
}

/// Whether the key in use was generated locally (no shared key configured).
pub fn user_hash_key_is_generated() -> bool {
    USER_HASH_KEY
        .read()
        .as_ref()
        .map(|k| k.generated)
        .unwrap_or(true)
}

/// Fork protocol: hold the key locks across `fork()`.
pub(crate) fn lock_for_fork() {
    std::mem::forget(KEY_SOURCE.lock());
    std::mem::forget(USER_HASH_KEY.write());
}

/// Fork protocol: release the locks taken by [`lock_for_fork`].
pub(crate) fn unlock_after_fork() {
    // SAFETY: paired with `lock_for_fork` in the same fork's prepare handler.
    unsafe {
        USER_HASH_KEY.force_unlock_write();
        KEY_SOURCE.force_unlock();
    }
}

/// HMAC-SHA256 of `text` under `key`, first 16 bytes as hex.
pub fn keyed_hash(key: &[u8], text: &str) -> String {
    let Ok(mut mac) = HmacSha256::new_from_slice(key) else {
        return String::new();
    };
    mac.update(text.as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(32);
    for b in digest.iter().take(16) {
        let _ = write!(out, "{b:02x}");
    }
    out
}

fn random_key() -> Vec<u8> {
    let mut key = vec![0u8; 32];
    if getrandom::fill(&mut key).is_err() {
        let seed = crate::ids::TraceId::random().0.to_le_bytes();
        key[..16].copy_from_slice(&seed);
    }
    key
}

fn load_or_create_key(path: &Path) -> Option<Vec<u8>> {
    use std::io::Write;
    if let Ok(existing) = std::fs::read(path) {
        if existing.len() >= 16 {
            return Some(existing);
        }
    }
    if let Some(dir) = path.parent() {
        crate::store::create_private_dir(dir).ok()?;
    }
    let key = random_key();
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(mut f) => {
            f.write_all(&key).ok()?;
            Some(key)
        }
        // Another process created it first: use theirs.
        Err(_) => std::fs::read(path).ok().filter(|k| k.len() >= 16),
    }
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'~' | b'[' | b']' | b':')
        {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_round_trip_keeps_types() {
        let attrs = context_attributes(
            Some("sess-1"),
            Some("alice@example.com"),
            Some("acme, inc"),
            Some(vec!["a".into(), "b,c".into()]),
            vec![
                (Key::new("deploy.env"), Value::from("prod")),
                (Key::new("n"), Value::from(3i64)),
            ],
        );
        let scope = TraceScope::child_of(None, attrs);
        let wire = scope.to_wire();
        assert!(!wire.contains("alice"));
        let back = TraceScope::from_wire(&wire);
        assert_eq!(back, scope);
    }

    #[test]
    fn user_hash_is_keyed() {
        let a = keyed_hash(b"k1", "bob");
        let b = keyed_hash(b"k2", "bob");
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert_eq!(a, keyed_hash(b"k1", "bob"));
    }

    #[test]
    fn malformed_wire_is_ignored() {
        let s = TraceScope::from_wire("a=%ZZ,=1,b,c=%22ok%22,c=%22dup%22");
        assert_eq!(s.attributes.len(), 1);
        assert_eq!(s.get("c"), Some(&Value::from("ok")));
    }

    #[test]
    fn inner_scope_wins() {
        let outer = TraceScope::child_of(None, vec![(Key::new("a"), Value::from(1i64))]);
        let inner = TraceScope::child_of(Some(&outer), vec![(Key::new("a"), Value::from(2i64))]);
        assert_eq!(inner.get("a"), Some(&Value::from(2i64)));
    }
}

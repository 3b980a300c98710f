//! W3C trace and span identifiers.
//!
//! Ids come from a per-thread fast generator seeded from the OS. A forked child inherits the
//! parent's generator state and would produce the same ids, so each generator remembers the fork
//! generation it was seeded in and reseeds when [`crate::fork::generation`] moves.

use std::cell::RefCell;
use std::fmt;

/// A 128-bit trace id; zero is invalid.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TraceId(pub u128);

/// A 64-bit span id; zero is invalid (and means "no parent").
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SpanId(pub u64);

impl TraceId {
    /// A fresh random trace id.
    pub fn random() -> TraceId {
        with_rng(|rng| loop {
            let id = rng.u128(..);
            if id != 0 {
                return TraceId(id);
            }
        })
    }
    /// Whether the id is non-zero.
    pub fn is_valid(self) -> bool {
        self.0 != 0
    }
    /// 32 lowercase hex digits.
    pub fn to_hex(self) -> String {
        format!("{:032x}", self.0)
    }
    /// Parses exactly 32 hex digits; zero is rejected.
    pub fn from_hex(s: &str) -> Option<TraceId> {
        if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u128::from_str_radix(s, 16)
            .ok()
            .filter(|v| *v != 0)
            .map(TraceId)
    }
    /// Big-endian bytes, as OTLP wants them.
    pub fn to_bytes(self) -> [u8; 16] {
        self.0.to_be_bytes()
    }
}

impl SpanId {
    /// A fresh random span id.
    pub fn random() -> SpanId {
        with_rng(|rng| loop {
            let id = rng.u64(..);
            if id != 0 {
                return SpanId(id);
            }
        })
    }
    /// Whether the id is non-zero.
    pub fn is_valid(self) -> bool {
        self.0 != 0
    }
    /// 16 lowercase hex digits.
    pub fn to_hex(self) -> String {
        format!("{:016x}", self.0)
    }
    /// Parses exactly 16 hex digits; zero is rejected.
    pub fn from_hex(s: &str) -> Option<SpanId> {
        if s.len() != 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u64::from_str_radix(s, 16)
            .ok()
            .filter(|v| *v != 0)
            .map(SpanId)
    }
    /// Big-endian bytes, as OTLP wants them.
    pub fn to_bytes(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}
impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}
impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}
impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

thread_local! {
    static RNG: RefCell<Option<(u64, fastrand::Rng)>> = const { RefCell::new(None) };
}

fn with_rng<T>(f: impl FnOnce(&mut fastrand::Rng) -> T) -> T {
    let generation = crate::fork::generation();
    RNG.with(|cell| {
        let mut slot = cell.borrow_mut();
        let fresh = !matches!(&*slot, Some((g, _)) if *g == generation);
        if fresh {
            *slot = Some((generation, fastrand::Rng::with_seed(os_seed())));
        }
        match slot.as_mut() {
            Some((_, rng)) => f(rng),
            // Unreachable: the slot was just filled. A fresh generator keeps us panic-free anyway.
            None => f(&mut fastrand::Rng::with_seed(os_seed())),
        }
    })
}

fn os_seed() -> u64 {
    let mut buf = [0u8; 8];
    if getrandom::fill(&mut buf).is_err() {
        // No OS entropy (very early boot, seccomp): fall back to time and address bits, which
        // still differ between processes and threads.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let addr = &buf as *const _ as u64;
        return t ^ addr.rotate_left(32) ^ u64::from(std::process::id());
    }
    u64::from_ne_bytes(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let t = TraceId::random();
        assert_eq!(TraceId::from_hex(&t.to_hex()), Some(t));
        let s = SpanId::random();
        assert_eq!(SpanId::from_hex(&s.to_hex()), Some(s));
        assert_eq!(TraceId::from_hex(&"0".repeat(32)), None);
        assert_eq!(SpanId::from_hex("xyz"), None);
        assert_eq!(SpanId::from_hex("+00000000000000f"), None);
    }

    #[test]
    fn ids_differ() {
        let a = SpanId::random();
        let b = SpanId::random();
        assert_ne!(a, b);
    }
}

//! Typed attribute values, as OpenTelemetry defines them: a string, bool, 64-bit integer or
//! double, or a homogeneous array of one of these.

use crate::key::Key;

/// An attribute value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// UTF-8 text.
    Str(Box<str>),
    /// Boolean.
    Bool(bool),
    /// Signed 64-bit integer.
    I64(i64),
    /// Double.
    F64(f64),
    /// Array of strings.
    StrArray(Box<[Box<str>]>),
    /// Array of booleans.
    BoolArray(Box<[bool]>),
    /// Array of integers.
    I64Array(Box<[i64]>),
    /// Array of doubles.
    F64Array(Box<[f64]>),
}

/// One attribute.
pub type KeyValue = (Key, Value);

/// A borrowed view of an attribute value, as a span record stores it (its text lives in the
/// record's own buffer).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ValueRef<'a> {
    /// UTF-8 text.
    Str(&'a str),
    /// Boolean.
    Bool(bool),
    /// Signed 64-bit integer.
    I64(i64),
    /// Double.
    F64(f64),
    /// An array (kept as an owned [`Value`]).
    Array(&'a Value),
}

impl ValueRef<'_> {
    /// An owned copy.
    pub fn to_owned(&self) -> Value {
        match *self {
            ValueRef::Str(s) => Value::Str(s.into()),
            ValueRef::Bool(b) => Value::Bool(b),
            ValueRef::I64(i) => Value::I64(i),
            ValueRef::F64(f) => Value::F64(f),
            ValueRef::Array(v) => v.clone(),
        }
    }

    /// The value as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        match *self {
            ValueRef::Str(s) => serde_json::Value::String(s.to_string()),
            ValueRef::Bool(b) => serde_json::Value::Bool(b),
            ValueRef::I64(i) => serde_json::Value::from(i),
            ValueRef::F64(f) => Value::F64(f).to_json(),
            ValueRef::Array(v) => v.to_json(),
        }
    }

    /// The text, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            ValueRef::Str(s) => Some(s),
            _ => None,
        }
    }
}

impl<'a> From<&'a Value> for ValueRef<'a> {
    fn from(v: &'a Value) -> Self {
        match v {
            Value::Str(s) => ValueRef::Str(s),
            Value::Bool(b) => ValueRef::Bool(*b),
            Value::I64(i) => ValueRef::I64(*i),
            Value::F64(f) => ValueRef::F64(*f),
            other => ValueRef::Array(other),
        }
    }
}

impl Value {
    /// Approximate heap size of the value in bytes (what the size limits count).
    pub fn byte_len(&self) -> usize {
        match self {
            Value::Str(s) => s.len(),
            Value::Bool(_) | Value::I64(_) | Value::F64(_) => 8,
            Value::StrArray(a) => a.iter().map(|s| s.len() + 2).sum(),
            Value::BoolArray(a) => a.len(),
            Value::I64Array(a) => a.len() * 8,
            Value::F64Array(a) => a.len() * 8,
        }
    }

    /// Cuts the value down to about `max_bytes`, keeping UTF-8 valid. Returns whether anything
    /// was cut. Strings are cut at a character boundary; arrays lose trailing elements.
    pub fn truncate_to(&mut self, max_bytes: usize) -> bool {
        if self.byte_len() <= max_bytes {
            return false;
        }
        match self {
            Value::Str(s) => {
                let cut = floor_char_boundary(s, max_bytes);
                *s = s[..cut].into();
            }
            Value::StrArray(items) => {
                let mut budget = max_bytes;
                let mut kept: Vec<Box<str>> = Vec::new();
                for item in items.iter() {
                    let need = item.len() + 2;
                    if need > budget {
                        if budget > 2 {
                            let cut = floor_char_boundary(item, budget - 2);
                            kept.push(item[..cut].into());
                        }
                        break;
                    }
                    budget -= need;
                    kept.push(item.clone());
                }
                *items = kept.into_boxed_slice();
            }
            Value::BoolArray(a) => *a = a[..max_bytes.min(a.len())].into(),
            Value::I64Array(a) => *a = a[..(max_bytes / 8).min(a.len())].into(),
            Value::F64Array(a) => *a = a[..(max_bytes / 8).min(a.len())].into(),
            Value::Bool(_) | Value::I64(_) | Value::F64(_) => return false,
        }
        true
    }

    /// The value as JSON (used by the local store and `--json` output).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Str(s) => J::String(s.to_string()),
            Value::Bool(b) => J::Bool(*b),
            Value::I64(i) => J::from(*i),
            Value::F64(f) => serde_json::Number::from_f64(*f)
                .map(J::Number)
                .unwrap_or_else(|| J::String(f.to_string())),
            Value::StrArray(a) => J::Array(a.iter().map(|s| J::String(s.to_string())).collect()),
            Value::BoolArray(a) => J::Array(a.iter().map(|b| J::Bool(*b)).collect()),
            Value::I64Array(a) => J::Array(a.iter().map(|i| J::from(*i)).collect()),
            Value::F64Array(a) => J::Array(
                a.iter()
                    .map(|f| {
                        serde_json::Number::from_f64(*f)
                            .map(J::Number)
                            .unwrap_or(J::Null)
                    })
                    .collect(),
            ),
        }
    }

    /// Converts a JSON value: scalars map directly, homogeneous arrays of scalars become typed
    /// arrays, and anything else (objects, mixed arrays, nested arrays) is kept as its JSON text,
    /// which is how the GenAI conventions carry structured values on spans. `null` gives `None`.
    pub fn from_json(value: &serde_json::Value) -> Option<Value> {
        use serde_json::Value as J;
        Some(match value {
            J::Null => return None,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => match n.as_i64() {
                Some(i) => Value::I64(i),
                None => Value::F64(n.as_f64().unwrap_or(f64::NAN)),
            },
            J::String(s) => Value::Str(s.as_str().into()),
            J::Array(items) => {
                array_from_json(items).unwrap_or_else(|| Value::Str(value.to_string().into()))
            }
            J::Object(_) => Value::Str(value.to_string().into()),
        })
    }

    /// A short display form for the terminal tree view.
    pub fn display(&self) -> String {
        match self {
            Value::Str(s) => s.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::I64(i) => i.to_string(),
            Value::F64(f) => f.to_string(),
            other => other.to_json().to_string(),
        }
    }
}

fn array_from_json(items: &[serde_json::Value]) -> Option<Value> {
    use serde_json::Value as J;
    let first = items.first()?;
    Some(match first {
        J::String(_) => Value::StrArray(
            items
                .iter()
                .map(|v| v.as_str().map(Box::from))
                .collect::<Option<Vec<_>>>()?
                .into(),
        ),
        J::Bool(_) => Value::BoolArray(
            items
                .iter()
                .map(|v| v.as_bool())
                .collect::<Option<Vec<_>>>()?
                .into(),
        ),
        J::Number(_) if items.iter().all(|v| v.as_i64().is_some()) => Value::I64Array(
            items
                .iter()
                .filter_map(|v| v.as_i64())
                .collect::<Vec<_>>()
                .into(),
        ),
        J::Number(_) => Value::F64Array(
            items
                .iter()
                .map(|v| v.as_f64())
                .collect::<Option<Vec<_>>>()?
                .into(),
        ),
        _ => return None,
    })
}

/// The largest index `<= max` that is a char boundary of `s`.
pub fn floor_char_boundary(s: &str, max: usize) -> usize {
    if max >= s.len() {
        return s.len();
    }
    let mut i = max;
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Str(v.into())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Str(v.into_boxed_str())
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::I64(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::F64(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_utf8() {
        let mut v = Value::from("héllo wörld");
        assert!(v.truncate_to(2));
        assert_eq!(v, Value::from("h"));
        let mut short = Value::from("ok");
        assert!(!short.truncate_to(10));
    }

    #[test]
    fn truncation_of_string_arrays_drops_the_tail() {
        let mut v = Value::StrArray(vec!["aaaa".into(), "bbbb".into(), "cccc".into()].into());
        assert!(v.truncate_to(9));
        assert_eq!(v, Value::StrArray(vec!["aaaa".into(), "b".into()].into()));
    }

    #[test]
    fn json_round_trip() {
        let j = serde_json::json!({"a": [1, 2], "b": "x"});
        assert_eq!(Value::from_json(&j), Some(Value::Str(j.to_string().into())));
        assert_eq!(
            Value::from_json(&serde_json::json!([1, 2])),
            Some(Value::I64Array(vec![1, 2].into()))
        );
        assert_eq!(
            Value::from_json(&serde_json::json!([1, 2.5])),
            Some(Value::F64Array(vec![1.0, 2.5].into()))
        );
        assert_eq!(Value::from_json(&serde_json::json!(null)), None);
        assert_eq!(
            Value::from_json(&serde_json::json!([1, "a"])),
            Some(Value::Str("[1,\"a\"]".into()))
        );
    }
}

//! Python values to core values, and back. Never raises for an attribute value: unknown types
//! become `<module.TypeName>`, never an unbounded `str()` of an object we do not know (which can
//! run a database query or render a whole dataframe).

use fivelens_core::record::Limits;
use fivelens_core::value::{Value, ValueRef};
use fivelens_core::{Key, SpanKind, SpanRecord};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

/// Deepest nesting converted when a dict or list becomes JSON text.
const MAX_DEPTH: usize = 8;

/// Text of a Python string; lone surrogates and other unencodable code points are replaced.
pub fn text(s: &Bound<'_, PyString>) -> String {
    match s.to_str() {
        Ok(t) => t.to_owned(),
        Err(_) => lossy(s),
    }
}

/// Text of a Python string that is not valid UTF-8 (it holds lone surrogates): each lone
/// surrogate becomes one U+FFFD (a UTF-8 round trip would make one per byte of its encoding).
pub fn lossy(s: &Bound<'_, PyString>) -> String {
    let units = s
        .call_method1(
            pyo3::intern!(s.py(), "encode"),
            ("utf-16-le", "surrogatepass"),
        )
        .ok()
        .and_then(|b| b.cast_into::<PyBytes>().ok());
    match units {
        Some(b) => {
            let bytes = b.as_bytes();
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        None => s.to_string_lossy().into_owned(),
    }
}

/// `<module.QualName>` of an object's type, computed without calling into the object.
pub fn type_label(obj: &Bound<'_, PyAny>) -> String {
    let ty = obj.get_type();
    let name = ty
        .qualname()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "object".into());
    match ty.module().map(|m| m.to_string()) {
        Ok(m) if m != "builtins" => format!("<{m}.{name}>"),
        _ => format!("<{name}>"),
    }
}

/// Converts an attribute value. `None` for Python `None` (the attribute is skipped).
pub fn value(obj: &Bound<'_, PyAny>) -> Option<Value> {
    if obj.is_none() {
        return None;
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Some(Value::Str(text(s).into_boxed_str()));
    }
    // bool before int: bool is a subclass of int.
    if let Ok(b) = obj.cast::<PyBool>() {
        return Some(Value::Bool(b.is_true()));
    }
    if let Ok(i) = obj.cast::<PyInt>() {
        return Some(match i.extract::<i64>() {
            Ok(v) => Value::I64(v),
            // Too big for 64 bits: keep the digits.
            Err(_) => Value::Str(
                i.str()
                    .map(|s| text(&s))
                    .unwrap_or_default()
                    .into_boxed_str(),
            ),
        });
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Some(Value::F64(f.value()));
    }
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        return Some(sequence(obj));
    }
    if obj.is_instance_of::<PyDict>() {
        return Some(Value::Str(json(obj, 0).to_string().into_boxed_str()));
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Some(Value::Str(
            format!("<bytes: {} bytes>", b.as_bytes().len()).into_boxed_str(),
        ));
    }
    if let Some(u) = uuid(obj) {
        return Some(Value::Str(u.into_boxed_str()));
    }
    Some(Value::Str(type_label(obj).into_boxed_str()))
}

/// `uuid.UUID`, looked up once.
static UUID_TYPE: pyo3::sync::PyOnceLock<Option<Py<pyo3::types::PyType>>> =
    pyo3::sync::PyOnceLock::new();

/// A `uuid.UUID` in its canonical form (framework run ids are UUIDs).
fn uuid(obj: &Bound<'_, PyAny>) -> Option<String> {
    let py = obj.py();
    let ty = UUID_TYPE.get_or_init(py, || {
        py.import("uuid")
            .and_then(|m| m.getattr("UUID"))
            .and_then(|t| t.cast_into::<pyo3::types::PyType>().map_err(Into::into))
            .map(Bound::unbind)
            .ok()
    });
    if !ty.as_ref().is_some_and(|t| obj.get_type().is(t.bind(py))) {
        return None;
    }
    let n: u128 = obj.getattr(pyo3::intern!(py, "int")).ok()?.extract().ok()?;
    let h = format!("{n:032x}");
    Some(format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    ))
}

fn sequence(obj: &Bound<'_, PyAny>) -> Value {
    let items: Vec<Bound<'_, PyAny>> = match obj.try_iter() {
        Ok(it) => it.filter_map(Result::ok).collect(),
        Err(_) => return Value::Str(type_label(obj).into_boxed_str()),
    };
    if items.iter().all(|i| i.is_instance_of::<PyString>()) {
        return Value::StrArray(
            items
                .iter()
                .filter_map(|i| i.cast::<PyString>().ok().map(|s| text(s).into_boxed_str()))
                .collect(),
        );
    }
    if items.iter().all(|i| i.is_instance_of::<PyBool>()) {
        return Value::BoolArray(
            items
                .iter()
                .map(|i| i.is_truthy().unwrap_or(false))
                .collect(),
        );
    }
    if items
        .iter()
        .all(|i| i.is_instance_of::<PyInt>() && !i.is_instance_of::<PyBool>())
    {
        let ints: Option<Vec<i64>> = items.iter().map(|i| i.extract::<i64>().ok()).collect();
        if let Some(ints) = ints {
            return Value::I64Array(ints.into());
        }
    }
    if items.iter().all(|i| i.is_instance_of::<PyFloat>()) {
        return Value::F64Array(
            items
                .iter()
                .filter_map(|i| i.extract::<f64>().ok())
                .collect(),
        );
    }
    Value::Str(json(obj, 0).to_string().into_boxed_str())
}

/// A Python value as JSON: containers recursively (to a bounded depth), anything unknown as its
/// type label.
pub fn json(obj: &Bound<'_, PyAny>, depth: usize) -> serde_json::Value {
    serde_json::to_value(Json(obj, depth)).unwrap_or(serde_json::Value::Null)
}

/// A Python value as JSON (see [`json`]), serialised straight into a writer: no intermediate
/// tree, no copy of its strings.
pub struct Json<'a, 'py>(pub &'a Bound<'py, PyAny>, pub usize);

impl serde::Serialize for Json<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        let (obj, depth) = (self.0, self.1);
        if obj.is_none() {
            return ser.serialize_unit();
        }
        if let Ok(s) = obj.cast::<PyString>() {
            return match s.to_str() {
                Ok(t) => ser.serialize_str(t),
                Err(_) => ser.serialize_str(&lossy(s)),
            };
        }
        if let Ok(b) = obj.cast::<PyBool>() {
            return ser.serialize_bool(b.is_true());
        }
        if let Ok(i) = obj.cast::<PyInt>() {
            return match i.extract::<i64>() {
                Ok(v) => ser.serialize_i64(v),
                Err(_) => ser.serialize_str(&i.str().map(|s| text(&s)).unwrap_or_default()),
            };
        }
        if let Ok(f) = obj.cast::<PyFloat>() {
            let v = f.value();
            return if v.is_finite() {
                ser.serialize_f64(v)
            } else {
                ser.serialize_str(&v.to_string())
            };
        }
        if depth >= MAX_DEPTH {
            return ser.serialize_str(&type_label(obj));
        }
        if let Ok(d) = obj.cast::<PyDict>() {
            let mut map = ser.serialize_map(Some(d.len()))?;
            for (k, v) in d.iter() {
                match k.cast::<PyString>() {
                    Ok(s) => match s.to_str() {
                        Ok(t) => map.serialize_key(t)?,
                        Err(_) => map.serialize_key(&lossy(s))?,
                    },
                    Err(_) if k.is_instance_of::<PyInt>() || k.is_instance_of::<PyFloat>() => {
                        map.serialize_key(&k.str().map(|s| text(&s)).unwrap_or_default())?
                    }
                    Err(_) => map.serialize_key(&type_label(&k))?,
                }
                map.serialize_value(&Json(&v, depth + 1))?;
            }
            return map.end();
        }
        if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
            return match obj.try_iter() {
                Ok(it) => {
                    let mut seq = ser.serialize_seq(None)?;
                    for v in it.filter_map(Result::ok) {
                        seq.serialize_element(&Json(&v, depth + 1))?;
                    }
                    seq.end()
                }
                Err(_) => ser.serialize_str(&type_label(obj)),
            };
        }
        ser.serialize_str(&type_label(obj))
    }
}

/// An attribute key from a Python string.
pub fn key(k: &Bound<'_, PyString>) -> Key {
    match k.to_str() {
        Ok(s) => Key::new(s),
        Err(_) => Key::new(&lossy(k)),
    }
}

/// Sets one attribute on a record, converting the value straight into the record's buffer
/// (strings are copied once, from Python's own UTF-8; no intermediate allocation).
pub fn set_attribute(record: &mut SpanRecord, key: Key, obj: &Bound<'_, PyAny>, limits: &Limits) {
    if let Ok(s) = obj.cast::<PyString>() {
        match s.to_str() {
            Ok(t) => record.set_str(key, t, limits),
            Err(_) => record.set_str(key, &lossy(s), limits),
        }
        return;
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return record.set_attribute_ref(key, ValueRef::Bool(b.is_true()), limits);
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return record.set_attribute_ref(key, ValueRef::F64(f.value()), limits);
    }
    if let Ok(i) = obj.cast::<PyInt>() {
        if let Ok(v) = i.extract::<i64>() {
            return record.set_attribute_ref(key, ValueRef::I64(v), limits);
        }
    }
    if let Some(v) = value(obj) {
        record.set_attribute_ref(key, ValueRef::from(&v), limits);
    }
}

/// Sets every attribute of a mapping on a record (keys must be strings; others are skipped).
pub fn set_attributes(record: &mut SpanRecord, dict: Option<&Bound<'_, PyDict>>, limits: &Limits) {
    let Some(dict) = dict else { return };
    for (k, v) in dict.iter() {
        if let Ok(k) = k.cast::<PyString>() {
            set_attribute(record, key(k), &v, limits);
        }
    }
}

/// Converts a mapping of attributes (keys must be strings; other keys are skipped).
pub fn attributes(dict: Option<&Bound<'_, PyDict>>, out: &mut Vec<(Key, Value)>) {
    let Some(dict) = dict else { return };
    for (k, v) in dict.iter() {
        let Ok(k) = k.cast::<PyString>() else {
            continue;
        };
        let key = match k.to_str() {
            Ok(s) => Key::new(s),
            Err(_) => Key::new(&lossy(k)),
        };
        if let Some(v) = value(&v) {
            out.push((key, v));
        }
    }
}

/// A span kind from `None`, a name (`"client"`), or an object with an integer `value` (the
/// OpenTelemetry `SpanKind` enum, where 0 is internal).
pub fn span_kind(obj: Option<&Bound<'_, PyAny>>) -> PyResult<SpanKind> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(SpanKind::Internal);
    };
    if let Ok(s) = obj.cast::<PyString>() {
        let t = text(s);
        return SpanKind::parse(&t).ok_or_else(|| {
            PyValueError::new_err(format!(
                "kind: expected internal, server, client, producer or consumer, got {t:?}"
            ))
        });
    }
    if let Ok(v) = obj.getattr("value").and_then(|v| v.extract::<i64>()) {
        // opentelemetry.trace.SpanKind: INTERNAL=0, SERVER=1, CLIENT=2, PRODUCER=3, CONSUMER=4.
        return Ok(SpanKind::from_otlp(v + 1));
    }
    Err(PyValueError::new_err(format!(
        "kind: unsupported value {}",
        type_label(obj)
    )))
}

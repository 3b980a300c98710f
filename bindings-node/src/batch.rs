//! Decoding a batch of spans from the JS layer straight into core records, on the processing
//! thread.
//!
//! The batch is `{"scopes": {id: {attributes}}, "llm": {id: {attributes for model calls}},
//! "spans": [[...positional fields...]]}` (scopes and llm before spans); see
//! `lib/span.js` (`Span.end`) for the field order. A streaming decoder writes attributes into
//! each record as it reads them, borrowing strings from the batch text wherever JSON needs no
//! unescaping: decoding into a generic JSON tree first cost more than the rest of a span.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use fivelens_core::ids::{SpanId, TraceId};
use fivelens_core::record::{flags, Limits, Parent, SpanKind, SpanRecord, Status};
use fivelens_core::scope::TraceScope;
use fivelens_core::semconv as sc;
use fivelens_core::value::ValueRef;
use fivelens_core::{Key, Value};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

/// Decodes a batch; spans with invalid ids are skipped.
pub fn decode(batch: &str) -> Result<Vec<SpanRecord>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(batch);
    let records = BatchSeed.deserialize(&mut de)?;
    de.end()?;
    Ok(records)
}

fn ms_to_ns(ms: f64) -> u64 {
    if ms.is_finite() && ms > 0.0 {
        (ms * 1e6) as u64
    } else {
        0
    }
}

/// A string borrowed from the input when possible.
struct Str<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Str<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// One attribute value as it arrives.
enum Attr<'de> {
    Str(Cow<'de, str>),
    Bool(bool),
    I64(i64),
    F64(f64),
    Null,
    Other(serde_json::Value),
}

impl<'de> Deserialize<'de> for Attr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Attr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an attribute value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Attr<'de>, E> {
                Ok(Attr::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Attr<'de>, E> {
                Ok(Attr::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Attr<'de>, E> {
                Ok(Attr::Str(Cow::Owned(v)))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Attr<'de>, E> {
                Ok(Attr::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Attr<'de>, E> {
                Ok(Attr::I64(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Attr<'de>, E> {
                Ok(i64::try_from(v)
                    .map(Attr::I64)
                    .unwrap_or(Attr::F64(v as f64)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Attr<'de>, E> {
                Ok(Attr::F64(v))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Attr<'de>, E> {
                Ok(Attr::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Attr<'de>, E> {
                Ok(Attr::Null)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Attr<'de>, A::Error> {
                let v = serde_json::Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                Ok(Attr::Other(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Attr<'de>, A::Error> {
                let v = serde_json::Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Attr::Other(v))
            }
        }
        d.deserialize_any(V)
    }
}

fn set(record: &mut SpanRecord, key: &str, value: Attr<'_>, limits: &Limits) {
    let key = Key::new(key);
    match value {
        Attr::Str(s) => record.set_str(key, &s, limits),
        Attr::Bool(b) => record.set_attribute_ref(key, ValueRef::Bool(b), limits),
        Attr::I64(i) => record.set_attribute_ref(key, ValueRef::I64(i), limits),
        Attr::F64(f) => record.set_attribute_ref(key, ValueRef::F64(f), limits),
        Attr::Null => {}
        Attr::Other(v) => {
            if let Some(v) = Value::from_json(&v) {
                record.set_attribute_ref(key, ValueRef::from(&v), limits);
            }
        }
    }
}

/// Writes the attributes of a JSON object into a record.
struct AttrsInto<'r> {
    record: &'r mut SpanRecord,
    limits: &'r Limits,
}

impl<'de> DeserializeSeed<'de> for AttrsInto<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for AttrsInto<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of attributes")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(Str(k)) = map.next_key::<Str<'de>>()? {
            if k == sc::PRIVATE_REQUEST || k == sc::PRIVATE_RESPONSE {
                // A provider payload: JSON text, or (LangChain runs) the structure itself, kept
                // as the JSON text it arrived as (serialised once, with the batch).
                let raw: &'de RawValue = map.next_value()?;
                let text = raw.get();
                if text.starts_with('"') {
                    if let Ok(Str(s)) = serde_json::from_str::<Str<'_>>(text) {
                        self.record.set_str(Key::new(&k), &s, self.limits);
                    }
                } else if text != "null" {
                    self.record.set_str(Key::new(&k), text, self.limits);
                }
                continue;
            }
            let v: Attr<'de> = map.next_value()?;
            set(self.record, &k, v, self.limits);
        }
        Ok(())
    }
}

/// Attributes as an owned list (events, links, scopes: rare, small).
pub fn owned(map: serde_json::Map<String, serde_json::Value>) -> Vec<(Key, Value)> {
    map.iter()
        .filter_map(|(k, v)| Value::from_json(v).map(|v| (Key::new(k), v)))
        .collect()
}

type Scopes = HashMap<u32, Arc<TraceScope>>;

struct BatchSeed;

impl<'de> DeserializeSeed<'de> for BatchSeed {
    type Value = Vec<SpanRecord>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for BatchSeed {
    type Value = Vec<SpanRecord>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a span batch")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        type RawScopes = HashMap<u32, serde_json::Map<String, serde_json::Value>>;
        let mut raw_scopes = RawScopes::new();
        let mut raw_llm = RawScopes::new();
        let mut records = Vec::new();
        while let Some(Str(key)) = map.next_key::<Str<'de>>()? {
            match &*key {
                "scopes" => raw_scopes = map.next_value()?,
                "llm" => raw_llm = map.next_value()?,
                "spans" => {
                    let scopes: Scopes = raw_scopes
                        .drain()
                        .map(|(id, a)| {
                            let llm_attributes = raw_llm.remove(&id).map(owned).unwrap_or_default();
                            let scope = TraceScope {
                                attributes: owned(a),
                                llm_attributes,
                            };
                            (id, Arc::new(scope))
                        })
                        .collect();
                    records = map.next_value_seed(SpansSeed { scopes: &scopes })?
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(records)
    }
}

struct SpansSeed<'s> {
    scopes: &'s Scopes,
}

impl<'de> DeserializeSeed<'de> for SpansSeed<'_> {
    type Value = Vec<SpanRecord>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for SpansSeed<'_> {
    type Value = Vec<SpanRecord>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of spans")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let limits = Limits::current();
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(64));
        while let Some(r) = seq.next_element_seed(SpanSeed {
            scopes: self.scopes,
            limits: &limits,
        })? {
            if let Some(r) = r {
                out.push(r);
            }
        }
        Ok(out)
    }
}

struct SpanSeed<'s> {
    scopes: &'s Scopes,
    limits: &'s Limits,
}

impl<'de> DeserializeSeed<'de> for SpanSeed<'_> {
    type Value = Option<SpanRecord>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

fn next<'de, A: SeqAccess<'de>, T: Deserialize<'de>>(
    seq: &mut A,
    what: &'static str,
) -> Result<T, A::Error> {
    seq.next_element::<T>()?
        .ok_or_else(|| de::Error::custom(format!("span is missing its {what}")))
}

impl<'de> Visitor<'de> for SpanSeed<'_> {
    type Value = Option<SpanRecord>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a span (positional array)")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let trace: Str = next(&mut seq, "trace id")?;
        let span: Str = next(&mut seq, "span id")?;
        let parent: Str = next(&mut seq, "parent id")?;
        let remote: u8 = next(&mut seq, "remote flag")?;
        let name: Str = next(&mut seq, "name")?;
        let kind: u8 = next(&mut seq, "kind")?;
        let start: f64 = next(&mut seq, "start")?;
        let end: f64 = next(&mut seq, "end")?;
        let status: u8 = next(&mut seq, "status")?;
        let message: Option<Str> = next(&mut seq, "status message")?;
        let (trace_id, span_id) = (TraceId::from_hex(&trace.0), SpanId::from_hex(&span.0));
        let mut r = SpanRecord::template(&name.0, SpanKind::from_otlp(i64::from(kind)));
        let parent = trace_id.and_then(|t| {
            SpanId::from_hex(&parent.0).map(|p| Parent {
                trace_id: t,
                span_id: p,
                remote: remote == 1,
                flags: 1,
            })
        });
        r.begin(parent, Some(ms_to_ns(start)));
        seq.next_element_seed(AttrsInto {
            record: &mut r,
            limits: self.limits,
        })?
        .ok_or_else(|| de::Error::custom("span is missing its attributes"))?;
        type Events = Option<Vec<(String, f64, serde_json::Map<String, serde_json::Value>)>>;
        type Links = Option<Vec<(String, String, serde_json::Map<String, serde_json::Value>)>>;
        let events: Events = next(&mut seq, "events")?;
        let links: Links = next(&mut seq, "links")?;
        let scope: Option<u32> = next(&mut seq, "scope")?;
        let instrumentation: Option<Str> = next(&mut seq, "instrumentation")?;
        let span_flags: u8 = next(&mut seq, "flags")?;
        let trace_state: Option<Str> = next(&mut seq, "tracestate")?;
        let truncated: Option<Vec<String>> = next(&mut seq, "truncated keys")?;
        while seq.next_element::<IgnoredAny>()?.is_some() {}

        let (Some(trace_id), Some(span_id)) = (trace_id, span_id) else {
            return Ok(None);
        };
        r.trace_id = trace_id;
        r.span_id = span_id;
        if span_flags & 2 == 0 {
            r.flags &= !flags::SAMPLED;
        } else {
            r.flags |= flags::SAMPLED;
        }
        if span_flags & 1 != 0 {
            r.flags |= flags::STORE_ONLY;
        }
        for (name, t, a) in events.unwrap_or_default() {
            r.add_event(&name, Some(ms_to_ns(t)), owned(a));
        }
        for (t, s, a) in links.unwrap_or_default() {
            if let (Some(t), Some(s)) = (TraceId::from_hex(&t), SpanId::from_hex(&s)) {
                r.add_link(t, s, owned(a));
            }
        }
        match status {
            1 => r.set_status(Status::Ok),
            2 => r.set_status(Status::Error(
                message
                    .map(|m| m.0.into_owned())
                    .unwrap_or_default()
                    .into_boxed_str(),
            )),
            _ => {}
        }
        r.scope = scope.and_then(|id| self.scopes.get(&id).cloned());
        r.instrumentation = instrumentation.map(|s| Key::new(&s.0));
        r.trace_state = trace_state.map(|s| s.0.into_owned().into_boxed_str());
        for k in truncated.unwrap_or_default() {
            r.truncated.push(Key::new(&k));
        }
        let end_ns = ms_to_ns(end).max(r.start_ns);
        r.end_at(Some(end_ns));
        Ok(Some(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_batch() {
        let batch = r#"{"scopes":{"3":{"session.id":"s1"}},"llm":{"3":{"fivelens.stage":"plan"}},"spans":[
            ["4bf92f3577b34da6a3ce929d0e0e4736","00f067aa0ba902b7","",0,"root",2,1700000000000.5,1700000000001.5,2,"bad",
             {"a":"x","b":true,"c":1,"d":1.5,"e":["p","q"],"esc":"line\nbreak","n":null},
             [["ev",1700000000001,{"k":1}]],null,3,"lib",2,"v=1",null],
            ["zz","00f067aa0ba902b8","",0,"invalid",1,1,2,0,null,{},null,null,null,null,2,null,null]
        ]}"#;
        let records = decode(batch).unwrap();
        assert_eq!(records.len(), 1);
        let r = &records[0];
        assert_eq!(r.name(), "root");
        assert_eq!(r.kind, SpanKind::Server);
        assert_eq!(r.attribute("a"), Some(ValueRef::Str("x")));
        assert_eq!(r.attribute("b"), Some(ValueRef::Bool(true)));
        assert_eq!(r.attribute("c"), Some(ValueRef::I64(1)));
        assert_eq!(r.attribute("d"), Some(ValueRef::F64(1.5)));
        assert_eq!(r.attribute("esc"), Some(ValueRef::Str("line\nbreak")));
        assert!(r.attribute("n").is_none());
        assert_eq!(r.status, Status::Error("bad".into()));
        assert_eq!(r.events[0].name.as_ref(), "ev");
        assert_eq!(
            r.scope.as_ref().unwrap().get("session.id"),
            Some(&Value::from("s1"))
        );
        assert_eq!(
            r.scope.as_ref().unwrap().llm_attributes,
            vec![(Key::new("fivelens.stage"), Value::from("plan"))]
        );
        assert!(
            r.start_ns.abs_diff(1_700_000_000_000_500_000) < 1_000,
            "{}",
            r.start_ns
        );
        assert_eq!(r.trace_state.as_deref(), Some("v=1"));
    }

    #[test]
    fn payloads_arrive_as_json_text_or_as_structures() {
        let batch = r#"{"scopes":{},"llm":{},"spans":[
            ["4bf92f3577b34da6a3ce929d0e0e4736","00f067aa0ba902b7","",0,"chat",3,1,2,0,null,
             {"fivelens._request":{"messages":[{"type":"human","content":"h\u00e9 \"q\" \ud800"}]},"fivelens._response":"{\"id\":\"r1\"}","fivelens._format":"langchain.chat"},
             null,null,null,null,2,null,null]
        ]}"#;
        let records = decode(batch).unwrap();
        let r = &records[0];
        let Some(ValueRef::Str(request)) = r.attribute(sc::PRIVATE_REQUEST) else {
            panic!("no request payload")
        };
        // (A lone surrogate as JavaScript writes it: the core's payload reader replaces it.)
        let request = fivelens_core::providers::parse(request).unwrap();
        assert_eq!(request["messages"][0]["content"], "h\u{e9} \"q\" \u{fffd}");
        assert_eq!(
            r.attribute(sc::PRIVATE_RESPONSE),
            Some(ValueRef::Str(r#"{"id":"r1"}"#))
        );
    }
}

//! The OTel resource of this process: who is emitting.

use crate::config::Config;
use crate::key::Key;
use crate::semconv;
use crate::value::{KeyValue, Value};

/// Resource attributes, built once per pipeline.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resource {
    /// The attributes (unique keys).
    pub attributes: Vec<KeyValue>,
}

/// What the binding says about its host.
#[derive(Clone, Debug, Default)]
pub struct HostInfo {
    /// `telemetry.sdk.language`: `python`, `nodejs`, `rust`, `swift`, `kotlin`.
    pub language: String,
    /// Extra resource attributes the binding knows (runtime name and version).
    pub attributes: Vec<(String, String)>,
}

impl Resource {
    /// Builds the resource: `OTEL_RESOURCE_ATTRIBUTES` and config attributes, then the service
    /// name (config, `OTEL_SERVICE_NAME`, else `unknown_service:<language>`), then the SDK's own.
    pub fn build(config: &Config, host: &HostInfo) -> Resource {
        let mut r = Resource::default();
        for (k, v) in &host.attributes {
            r.set(k, Value::from(v.as_str()));
        }
        for (k, v) in &config.resource_attributes {
            r.set(k, Value::from(v.as_str()));
        }
        let language = if host.language.is_empty() {
            "rust"
        } else {
            host.language.as_str()
        };
        let service = config
            .service_name
            .clone()
            .or_else(|| {
                config
                    .resource_attributes
                    .get(semconv::SERVICE_NAME)
                    .cloned()
            })
            .unwrap_or_else(|| format!("unknown_service:{language}"));
        r.set(semconv::SERVICE_NAME, Value::from(service));
        r.set(semconv::TELEMETRY_SDK_NAME, Value::from("fivelens"));
        r.set(semconv::TELEMETRY_SDK_LANGUAGE, Value::from(language));
        r.set(
            semconv::TELEMETRY_SDK_VERSION,
            Value::from(env!("CARGO_PKG_VERSION")),
        );
        r.set(
            semconv::PROCESS_PID,
            Value::I64(i64::from(std::process::id())),
        );
        r
    }

    fn set(&mut self, key: &str, value: Value) {
        match self.attributes.iter_mut().find(|(k, _)| k.as_str() == key) {
            Some(slot) => slot.1 = value,
            None => self.attributes.push((Key::new(key), value)),
        }
    }

    /// `service.name`.
    pub fn service_name(&self) -> String {
        self.attributes
            .iter()
            .find(|(k, _)| k.as_str() == semconv::SERVICE_NAME)
            .map(|(_, v)| v.display())
            .unwrap_or_default()
    }

    /// The resource as a JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.attributes
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), v.to_json()))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_name_precedence() {
        let mut c = Config::default();
        let host = HostInfo {
            language: "python".into(),
            attributes: vec![],
        };
        assert_eq!(
            Resource::build(&c, &host).service_name(),
            "unknown_service:python"
        );
        c.resource_attributes
            .insert("service.name".into(), "from-attrs".into());
        assert_eq!(Resource::build(&c, &host).service_name(), "from-attrs");
        c.service_name = Some("explicit".into());
        assert_eq!(Resource::build(&c, &host).service_name(), "explicit");
    }
}

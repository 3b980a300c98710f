//! OTLP over HTTP (protobuf or JSON bodies) with `ureq`: a blocking client with no runtime and
//! no hidden threads, which hands us the status code so that 413 and `Retry-After` can be honoured.

use std::io::Write;
use std::time::Duration;

use flate2::write::GzEncoder;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;

use super::{Batch, ExporterSettings, Outcome, Signal, Transport};
use crate::config::Protocol;

pub(super) struct HttpTransport {
    settings: ExporterSettings,
    agent: Option<ureq::Agent>,
}

impl HttpTransport {
    pub(super) fn new(settings: ExporterSettings) -> HttpTransport {
        HttpTransport {
            settings,
            agent: None,
        }
    }

    fn agent(&mut self) -> &ureq::Agent {
        let timeout = self.settings.timeout;
        self.agent.get_or_insert_with(|| {
            ureq::Agent::config_builder()
                .timeout_global(Some(timeout))
                .http_status_as_error(false)
                .user_agent(concat!("fivelens/", env!("CARGO_PKG_VERSION")))
                .max_idle_connections_per_host(2)
                .build()
                .into()
        })
    }

    fn body<'b>(&self, batch: &'b Batch) -> Result<std::borrow::Cow<'b, [u8]>, String> {
        let raw: std::borrow::Cow<'b, [u8]> = match self.settings.protocol {
            Protocol::HttpJson => match self.settings.signal {
                Signal::Traces => {
                    let request = ExportTraceServiceRequest::decode(&batch.body[..])
                        .map_err(|e| e.to_string())?;
                    serde_json::to_vec(&request)
                        .map_err(|e| e.to_string())?
                        .into()
                }
                Signal::Metrics => {
                    let request = ExportMetricsServiceRequest::decode(&batch.body[..])
                        .map_err(|e| e.to_string())?;
                    serde_json::to_vec(&request)
                        .map_err(|e| e.to_string())?
                        .into()
                }
                Signal::Logs => {
                    let request = ExportLogsServiceRequest::decode(&batch.body[..])
                        .map_err(|e| e.to_string())?;
                    serde_json::to_vec(&request)
                        .map_err(|e| e.to_string())?
                        .into()
                }
            },
            _ => batch.body.as_slice().into(),
        };
        if !self.settings.gzip {
            return Ok(raw);
        }
        let mut enc = GzEncoder::new(
            Vec::with_capacity(raw.len() / 4),
            flate2::Compression::fast(),
        );
        enc.write_all(&raw).map_err(|e| e.to_string())?;
        Ok(enc.finish().map_err(|e| e.to_string())?.into())
    }
}

impl Transport for HttpTransport {
    fn send(&mut self, batch: &Batch) -> Outcome {
        let body = match self.body(batch) {
            Ok(b) => b,
            Err(reason) => return Outcome::Rejected { reason },
        };
        let content_type = match self.settings.protocol {
            Protocol::HttpJson => "application/json",
            _ => "application/x-protobuf",
        };
        let gzip = self.settings.gzip;
        let endpoint = self.settings.endpoint.clone();
        let headers = self.settings.headers.clone();
        let json = self.settings.protocol == Protocol::HttpJson;
        let agent = self.agent();
        let mut req = agent.post(&endpoint).header("Content-Type", content_type);
        if gzip {
            req = req.header("Content-Encoding", "gzip");
        }
        for (k, v) in &headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let response = match req.send(&body[..]) {
            Ok(r) => r,
            Err(e) => {
                // The connection state is unknown after a transport error: start afresh.
                self.agent = None;
                return Outcome::Retry {
                    after: None,
                    reason: e.to_string(),
                };
            }
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let mut body = response.into_body();
        let bytes = body
            .with_config()
            .limit(1024 * 1024)
            .read_to_vec()
            .unwrap_or_default();
        match status {
            200..=299 => Outcome::Sent {
                rejected: match self.settings.signal {
                    Signal::Traces => rejected_spans(&bytes, json),
                    Signal::Logs => rejected_logs(&bytes, json),
                    Signal::Metrics => 0,
                },
            },
            413 => Outcome::TooLarge,
            408 | 429 | 502 | 503 | 504 => Outcome::Retry {
                after: retry_after,
                reason: format!("HTTP {status}"),
            },
            _ => Outcome::Rejected {
                reason: format!(
                    "HTTP {status} {}",
                    String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
                ),
            },
        }
    }
}

fn rejected_spans(body: &[u8], json: bool) -> u64 {
    if body.is_empty() {
        return 0;
    }
    let parsed = if json {
        serde_json::from_slice::<ExportTraceServiceResponse>(body).ok()
    } else {
        ExportTraceServiceResponse::decode(body).ok()
    };
    parsed
        .and_then(|r| r.partial_success)
        .map(|p| p.rejected_spans.max(0) as u64)
        .unwrap_or(0)
}

fn rejected_logs(body: &[u8], json: bool) -> u64 {
    if body.is_empty() {
        return 0;
    }
    let parsed = if json {
        serde_json::from_slice::<ExportLogsServiceResponse>(body).ok()
    } else {
        ExportLogsServiceResponse::decode(body).ok()
    };
    parsed
        .and_then(|r| r.partial_success)
        .map(|p| p.rejected_log_records.max(0) as u64)
        .unwrap_or(0)
}

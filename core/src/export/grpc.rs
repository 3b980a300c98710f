//! OTLP over gRPC: a tonic client driven by a current-thread tokio runtime that belongs to the
//! export thread (no shared runtime, nothing that outlives the thread or survives a fork).
//!
//! Batches are queued already encoded, so the request body is sent as is through a pass-through
//! codec to the `TraceService/Export` method (the generated client would want the message
//! decoded again just to encode it once more).

use std::time::Duration;

use bytes::{Buf, BufMut};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::metadata::{MetadataKey, MetadataValue};
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tonic::Code;

use super::{Batch, ExporterSettings, Outcome, Signal, Transport};

const TRACES_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
const METRICS_PATH: &str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
const LOGS_PATH: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

/// Sends and receives message bodies as bytes.
#[derive(Clone, Copy, Default)]
struct RawCodec;

struct RawEncoder;
struct RawDecoder;

impl Codec for RawCodec {
    type Encode = std::sync::Arc<Vec<u8>>;
    type Decode = Vec<u8>;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

impl Encoder for RawEncoder {
    type Item = std::sync::Arc<Vec<u8>>;
    type Error = tonic::Status;
    fn encode(&mut self, item: Self::Item, dst: &mut EncodeBuf<'_>) -> Result<(), Self::Error> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Self::Error> {
        let mut out = vec![0u8; src.remaining()];
        src.copy_to_slice(&mut out);
        Ok(Some(out))
    }
}

pub(super) struct GrpcTransport {
    settings: ExporterSettings,
    runtime: Option<tokio::runtime::Runtime>,
    client: Option<tonic::client::Grpc<Channel>>,
}

impl GrpcTransport {
    pub(super) fn new(settings: ExporterSettings) -> GrpcTransport {
        GrpcTransport {
            settings,
            runtime: None,
            client: None,
        }
    }

    fn ensure(&mut self) -> Result<(), String> {
        if self.runtime.is_none() {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the gRPC runtime: {e}"))?;
            self.runtime = Some(rt);
        }
        if self.client.is_none() {
            let mut endpoint = Endpoint::from_shared(self.settings.endpoint.clone())
                .map_err(|e| format!("bad gRPC endpoint {}: {e}", self.settings.endpoint))?
                .timeout(self.settings.timeout)
                .connect_timeout(self.settings.timeout.min(Duration::from_secs(5)));
            if self.settings.endpoint.starts_with("https://") {
                endpoint = endpoint
                    .tls_config(ClientTlsConfig::new().with_webpki_roots())
                    .map_err(|e| format!("TLS setup failed: {e}"))?;
            }
            // `connect_lazy` spawns the connection task, so the runtime must be entered.
            let channel = match &self.runtime {
                Some(rt) => {
                    let _guard = rt.enter();
                    endpoint.connect_lazy()
                }
                None => return Err("no runtime".into()),
            };
            let mut client = tonic::client::Grpc::new(channel)
                .max_encoding_message_size(usize::MAX)
                .max_decoding_message_size(4 * 1024 * 1024);
            if self.settings.gzip {
                client = client.send_compressed(CompressionEncoding::Gzip);
            }
            self.client = Some(client);
        }
        Ok(())
    }
}

impl Transport for GrpcTransport {
    fn send(&mut self, batch: &Batch) -> Outcome {
        if let Err(reason) = self.ensure() {
            return Outcome::Retry {
                after: None,
                reason,
            };
        }
        let (Some(rt), Some(client)) = (&self.runtime, &mut self.client) else {
            return Outcome::Retry {
                after: None,
                reason: "gRPC client unavailable".into(),
            };
        };
        let mut req = tonic::Request::new(batch.body.clone());
        for (k, v) in &self.settings.headers {
            if let (Ok(key), Ok(value)) = (
                MetadataKey::from_bytes(k.to_ascii_lowercase().as_bytes()),
                MetadataValue::try_from(v.as_str()),
            ) {
                req.metadata_mut().insert(key, value);
            }
        }
        let timeout = self.settings.timeout;
        let path = match self.settings.signal {
            Signal::Traces => TRACES_PATH,
            Signal::Metrics => METRICS_PATH,
            Signal::Logs => LOGS_PATH,
        };
        let is_traces = self.settings.signal == Signal::Traces;
        let result = rt.block_on(async {
            tokio::time::timeout(timeout, async {
                client
                    .ready()
                    .await
                    .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
                client
                    .unary(req, PathAndQuery::from_static(path), RawCodec)
                    .await
            })
            .await
        });
        match result {
            Err(_) => Outcome::Retry {
                after: None,
                reason: "gRPC request timed out".into(),
            },
            Ok(Ok(response)) => Outcome::Sent {
                rejected: if is_traces {
                    ExportTraceServiceResponse::decode(&response.into_inner()[..])
                        .ok()
                        .and_then(|r| r.partial_success)
                        .map(|p| p.rejected_spans.max(0) as u64)
                        .unwrap_or(0)
                } else {
                    0
                },
            },
            Ok(Err(status)) => classify(&status),
        }
    }
}

fn classify(status: &tonic::Status) -> Outcome {
    let message = status.message().to_ascii_lowercase();
    let too_large = message.contains("too large")
        || message.contains("larger than max")
        || message.contains("exceeds");
    match status.code() {
        Code::ResourceExhausted | Code::OutOfRange | Code::InvalidArgument if too_large => {
            Outcome::TooLarge
        }
        Code::Cancelled
        | Code::DeadlineExceeded
        | Code::ResourceExhausted
        | Code::Aborted
        | Code::OutOfRange
        | Code::Unavailable
        | Code::DataLoss => Outcome::Retry {
            after: None,
            reason: format!("gRPC {:?}: {}", status.code(), status.message()),
        },
        _ => Outcome::Rejected {
            reason: format!("gRPC {:?}: {}", status.code(), status.message()),
        },
    }
}

//! fivelens core: span records, the export pipeline, OTLP, the local store and the `fivelens`
//! command. The Python, Node and uniffi bindings are thin adapters over this crate; nothing here
//! knows about pyo3, napi or uniffi.
//!
//! ```text
//!  binding (Python / Node / Kotlin)          core
//!  ────────────────────────────────          ──────────────────────────────────────────────
//!  host context (ContextVar / ALS) ──> record::SpanRecord ──> global::submit ──> pipeline
//!  converts values, maps errors             (explicit parent)        │
//!                                                                     ├─> store (SQLite) ──> cli
//!                                                                     └─> export (OTLP http/grpc)
//! ```
//!
//! Which entry point to use:
//!
//! | need | call |
//! |---|---|
//! | start / stop | [`global::configure`], [`global::flush`], [`global::shutdown`] |
//! | record a span | [`record::SpanRecord::start`], then [`global::submit`] when it ends |
//! | parents from another process | [`propagation::extract`] / [`propagation::inject`] |
//! | trace-scoped attributes | [`scope::TraceScope`], [`scope::context_attributes`] |
//! | the command line | [`cli::run`] |
//!
//! Never hurting the host is a rule here: no `unwrap`, `expect` or `panic!` outside tests
//! (denied by the workspace lints), failures are counted and reported once ([`diag`]), and no
//! call made from a host thread waits on the network.

#![warn(missing_docs)]

pub mod behaviour;
pub mod cli;
pub mod config;
pub mod context_window;
pub mod diag;
pub mod export;
pub mod fork;
pub mod global;
pub mod guards;
pub mod ids;
pub mod key;
pub mod llm;
pub mod logs;
pub mod metrics;
pub mod pipeline;
pub mod pricing;
pub mod prometheus;
pub mod propagation;
pub mod providers;
pub mod record;
pub mod redact;
pub mod replay;
pub mod resource;
pub mod sampling;
pub mod scope;
pub mod semconv;
pub mod snapshot;
pub mod stats;
pub mod store;
pub mod tokens;
pub mod tools;
pub mod value;
pub mod wakeup;

pub use config::{Config, ConfigError};
pub use ids::{SpanId, TraceId};
pub use key::Key;
pub use record::{Parent, SpanKind, SpanRecord, Status};
pub use resource::HostInfo;
pub use value::Value;

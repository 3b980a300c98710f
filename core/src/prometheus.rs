//! The Prometheus text endpoint (`GET /metrics`), served from a thread of its own when a port is
//! configured (`OTEL_EXPORTER_PROMETHEUS_PORT`, or `OTEL_METRICS_EXPORTER=prometheus`).
//!
//! Each process serves its own metrics: in a pre-fork server (gunicorn, uvicorn workers) only one
//! process can hold a given port, so either give each worker its own port or push metrics over
//! OTLP to a collector, which adds up the processes.

use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::Mutex;

use crate::metrics::Metrics;

/// A running endpoint.
pub struct Endpoint {
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
    address: String,
}

impl Endpoint {
    /// Listens on `host:port` (port 0: any free port) and serves `metrics`.
    pub fn start(host: &str, port: u16, metrics: Arc<Mutex<Metrics>>) -> std::io::Result<Endpoint> {
        let server = tiny_http::Server::http((host, port))
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let address = server
            .server_addr()
            .to_ip()
            .map(|a| a.to_string())
            .unwrap_or_else(|| format!("{host}:{port}"));
        let server = Arc::new(server);
        let serving = server.clone();
        let thread = std::thread::Builder::new()
            .name("fivelens-prometheus".into())
            .spawn(move || serve(&serving, &metrics))?;
        Ok(Endpoint {
            server,
            thread: Some(thread),
            address,
        })
    }

    /// `host:port` it listens on.
    pub fn address(&self) -> String {
        self.address.clone()
    }

    /// Stops listening.
    pub fn stop(mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(server: &tiny_http::Server, metrics: &Mutex<Metrics>) {
    while let Ok(req) = server.recv() {
        let (status, body, ctype) = match (req.method(), req.url().split('?').next().unwrap_or(""))
        {
            (tiny_http::Method::Get, "/metrics") => (
                200,
                metrics.lock().prometheus_text(),
                "text/plain; version=0.0.4; charset=utf-8",
            ),
            (tiny_http::Method::Get, "/") => (
                200,
                "fivelens metrics: /metrics\n".to_string(),
                "text/plain",
            ),
            _ => (404, "not found\n".to_string(), "text/plain"),
        };
        let mut resp = tiny_http::Response::from_string(body).with_status_code(status);
        if let Ok(h) = tiny_http::Header::from_bytes(&b"Content-Type"[..], ctype.as_bytes()) {
            resp = resp.with_header(h);
        }
        let _ = req.respond(resp);
    }
}

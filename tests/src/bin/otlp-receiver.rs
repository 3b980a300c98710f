//! `otlp-receiver [--port P] [--grpc-port G]`: serves the test receiver until stdin closes.
//!
//! Prints one line, `READY {"http": "http://127.0.0.1:P", "grpc": "http://127.0.0.1:G"}`, once
//! it listens, so a test harness can read the ports. See `fivelens_tests::receiver` for the
//! control endpoints.

use std::io::Read;

fn main() {
    let mut port = 0u16;
    let mut grpc_port: Option<u16> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--port" => port = args.next().and_then(|v| v.parse().ok()).unwrap_or(0),
            "--grpc-port" => grpc_port = args.next().and_then(|v| v.parse().ok()),
            "--grpc" => grpc_port = Some(0),
            _ => {
                eprintln!("usage: otlp-receiver [--port P] [--grpc-port G | --grpc]");
                std::process::exit(2);
            }
        }
    }
    let receiver = match fivelens_tests::receiver::Receiver::start_with(port, grpc_port) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("otlp-receiver: {e}");
            std::process::exit(1);
        }
    };
    let ready = serde_json::json!({
        "http": receiver.endpoint(),
        "grpc": receiver.grpc_addr.map(|a| format!("http://{a}")),
    });
    println!("READY {ready}");
    // Serve until the parent closes our stdin (or kills us).
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    receiver.stop();
}

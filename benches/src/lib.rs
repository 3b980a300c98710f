//! Benchmarks of the fivelens core: `cargo bench -p fivelens-benches` (criterion, in
//! `benches/core.rs`). The comparisons against the OpenTelemetry SDKs run from Python and Node
//! (`benches/python`, `benches/node`) and are driven by `make bench`; results and the machine
//! they were measured on are in `benches/README.md`.

//! Test support shared by the cross-crate tests (`tests/tests/*.rs`) and, through the
//! `otlp-receiver` binary, by the Python and Node test suites.

pub mod receiver;

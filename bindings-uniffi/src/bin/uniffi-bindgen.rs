//! `uniffi-bindgen`, pinned to this crate's uniffi: `generate --library <lib> --language kotlin`.

fn main() {
    uniffi::uniffi_bindgen_main()
}

//! `redact(text)`: the core's PII redaction with the active configuration, offsets in UTF-16
//! code units (Kotlin and Java strings; Swift's `String.utf16` view and `NSRange`).

/// `text` with its PII replaced, and what was found.
#[derive(Debug, PartialEq, uniffi::Record)]
pub struct Redaction {
    /// The redacted text.
    pub text: String,
    /// The entities found, in order, with offsets into the original text.
    pub entities: Vec<RedactedEntity>,
}

/// One entity found by `redact`.
#[derive(Debug, PartialEq, uniffi::Record)]
pub struct RedactedEntity {
    /// `EMAIL`, `PHONE`, `CREDIT_CARD`..., a custom rule's name, or `DENIED`.
    pub entity_type: String,
    /// Offset of the first UTF-16 code unit in the original text.
    pub start: u64,
    /// Offset past the last UTF-16 code unit.
    pub end: u64,
}

/// Redacts `text` as the active configuration says (`redact_*` options; the defaults before
/// `instrument`), as captured content is redacted before it leaves the process.
#[uniffi::export]
pub fn redact(text: String) -> Redaction {
    let (text, entities) = fivelens_core::redact::redact_for_host(&text, true);
    Redaction {
        text,
        entities: entities
            .into_iter()
            .map(|e| RedactedEntity {
                entity_type: e.kind,
                start: e.start as u64,
                end: e.end as u64,
            })
            .collect(),
    }
}

//! # okno-plugin-pii: finds personal data in an appeal's text
//!
//! As a classifier plugin it fills `classification.pii` with the spans it finds in the
//! body and adds the tag `pii` when there are any. The detection itself is the `okno-pii`
//! crate, which the hub also uses to keep personal data out of its logs; it is
//! re-exported here ([`find_pii`], [`mask`], [`mask_all`]) for native callers.

pub use okno_pii::{find_pii, mask, mask_all, Kind, Span};
use okno_sdk::prelude::*;

/// The classifier: replaces `classification.pii` with what the body holds.
pub struct Pii;

impl Classifier for Pii {
    fn classify(
        message: Message,
        mut current: Classification,
    ) -> Result<Classification, PluginError> {
        let spans = find_pii(&message.body);
        let mut pii = Vec::with_capacity(spans.len());
        for span in &spans {
            let (Ok(start), Ok(end)) = (u32::try_from(span.start), u32::try_from(span.end)) else {
                return Err(PluginError::invalid_input(format!(
                    "message body is {} bytes; pii spans are u32 offsets, so bodies over 4 GiB cannot be described",
                    message.body.len()
                )));
            };
            pii.push(PiiSpan {
                kind: span.kind.as_str().to_string(),
                start,
                end,
            });
        }
        if !pii.is_empty() && !current.tags.iter().any(|t| t == "pii") {
            current.tags.push("pii".to_string());
        }
        current.pii = pii;
        Ok(current)
    }
}

okno_sdk::export_classifier!(Pii);

#[cfg(test)]
mod tests;

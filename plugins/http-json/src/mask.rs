//! Personal data taken out of a message before it leaves the hub (`mask-pii = "true"`).

use okno_sdk::prelude::*;

/// The message with the body's personal-data spans replaced by `[kind]`, the client's
/// name and contacts dropped, and the client's own name and contacts scrubbed from the
/// subject and metadata. Returns the spans moved to where the placeholders now are.
pub fn mask(message: &mut Message, spans: &[PiiSpan]) -> Result<Vec<PiiSpan>, PluginError> {
    let (body, masked_spans) = mask_body(&message.body, spans)?;
    message.body = body;

    // Known values of this client: they may also appear outside the body, where the
    // classifier does not look. Very short values would match too much by accident.
    let mut known: Vec<String> = message
        .client
        .contacts
        .iter()
        .map(|c| c.value.trim().to_string())
        .collect();
    known.extend(message.client.name.iter().map(|n| n.trim().to_string()));
    known.retain(|v| v.chars().count() >= 3);
    known.sort_by_key(|v| std::cmp::Reverse(v.len()));

    if let Some(subject) = message.subject.as_mut() {
        for value in &known {
            *subject = subject.replace(value.as_str(), "[masked]");
        }
    }
    for (_, value) in message.metadata.iter_mut() {
        if known.iter().any(|k| value.contains(k.as_str())) {
            *value = "[masked]".into();
        }
    }
    message.client.name = None;
    message.client.contacts.clear();
    Ok(masked_spans)
}

/// Replaces each span of `body` with `[kind]`. Overlapping spans merge into one that
/// keeps the first one's kind. A span that does not fit the body is an error: masking
/// the wrong bytes would leak the right ones.
pub fn mask_body(body: &str, spans: &[PiiSpan]) -> Result<(String, Vec<PiiSpan>), PluginError> {
    let mut ordered: Vec<(usize, usize, &str)> = Vec::with_capacity(spans.len());
    for (i, span) in spans.iter().enumerate() {
        let (start, end) = (span.start as usize, span.end as usize);
        if start > end
            || end > body.len()
            || !body.is_char_boundary(start)
            || !body.is_char_boundary(end)
        {
            return Err(PluginError::invalid_input(format!(
                "classification.pii[{i}]: span {start}..{end} ({}) does not fit the body ({} bytes) \
                 on UTF-8 character boundaries; the classifier that found it computed wrong offsets",
                span.kind,
                body.len()
            )));
        }
        if start < end {
            ordered.push((start, end, span.kind.as_str()));
        }
    }
    ordered.sort_by_key(|&(start, end, _)| (start, std::cmp::Reverse(end)));

    let mut merged: Vec<(usize, usize, &str)> = Vec::new();
    for (start, end, kind) in ordered {
        match merged.last_mut() {
            Some(last) if start < last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end, kind)),
        }
    }

    let mut out = String::with_capacity(body.len());
    let mut new_spans = Vec::with_capacity(merged.len());
    let mut cursor = 0;
    for (start, end, kind) in merged {
        out.push_str(&body[cursor..start]);
        let placeholder = format!("[{}]", placeholder_kind(kind));
        let new_start = out.len();
        out.push_str(&placeholder);
        new_spans.push(PiiSpan {
            kind: kind.to_string(),
            start: new_start as u32,
            end: out.len() as u32,
        });
        cursor = end;
    }
    out.push_str(&body[cursor..]);
    Ok((out, new_spans))
}

/// The kind as a placeholder word; anything but a plain word becomes `pii`, so a kind
/// cannot smuggle text into the masked body.
fn placeholder_kind(kind: &str) -> &str {
    let plain = !kind.is_empty()
        && kind.len() <= 32
        && kind
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if plain {
        kind
    } else {
        "pii"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(kind: &str, start: usize, end: usize) -> PiiSpan {
        PiiSpan {
            kind: kind.into(),
            start: start as u32,
            end: end as u32,
        }
    }

    fn find(body: &str, what: &str) -> (usize, usize) {
        let start = body.find(what).unwrap();
        (start, start + what.len())
    }

    #[test]
    fn replaces_spans_with_their_kind() {
        let body = "Звоните: +7 912 345-67-89, СНИЛС 112-233-445 95.";
        let (ps, pe) = find(body, "+7 912 345-67-89");
        let (ss, se) = find(body, "112-233-445 95");
        let (masked, spans) =
            mask_body(body, &[span("snils", ss, se), span("phone", ps, pe)]).unwrap();
        assert_eq!(masked, "Звоните: [phone], СНИЛС [snils].");
        assert_eq!(
            &masked[spans[0].start as usize..spans[0].end as usize],
            "[phone]"
        );
        assert_eq!(
            &masked[spans[1].start as usize..spans[1].end as usize],
            "[snils]"
        );
    }

    #[test]
    fn merges_overlaps_and_skips_empty_spans() {
        let body = "abcdefghij";
        let (masked, spans) = mask_body(
            body,
            &[span("name", 1, 5), span("phone", 3, 8), span("x", 9, 9)],
        )
        .unwrap();
        assert_eq!(masked, "a[name]ij");
        assert_eq!(spans.len(), 1);
    }

    #[test]
    fn rejects_spans_that_do_not_fit() {
        let body = "Иван";
        for bad in [span("name", 0, 9), span("name", 1, 2), span("name", 3, 2)] {
            let err = mask_body(body, &[span("ok", 0, 2), bad]).unwrap_err();
            assert_eq!(err.kind, ErrorKind::InvalidInput);
            assert!(
                err.message.starts_with("classification.pii[1]"),
                "{}",
                err.message
            );
        }
    }

    #[test]
    fn odd_kinds_become_pii() {
        let (masked, _) = mask_body("secret", &[span("x] leaked [y", 0, 6)]).unwrap();
        assert_eq!(masked, "[pii]");
    }
}

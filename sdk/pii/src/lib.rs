//! # okno-pii: finds and masks personal data in Russian text
//!
//! [`find_pii`] finds phones in Russian formats, e-mail addresses, SNILS, INN (10 and 12
//! digits), passport series and number, bank card numbers, postal addresses and full
//! names. Numbers with check digits (SNILS, INN, cards) count only when the check digits
//! are right; that is what keeps dates, sums and appeal numbers out. [`mask`] and
//! [`mask_all`] replace what was found with `[kind]`.
//!
//! Two users share it: the `pii` classifier plugin (okno-plugin-pii), which reports the
//! spans in an appeal, and the hub, which masks what reaches its logs. So it depends on
//! nothing, the plugin SDK included, and runs natively and inside WebAssembly alike.

mod address;
mod checksum;
mod email;
mod name;
mod numbers;
mod text;
mod tokens;

/// The kind of personal data a span holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Phone,
    Email,
    Snils,
    Inn,
    Passport,
    Card,
    Address,
    Name,
}

impl Kind {
    /// The name the contract uses in `pii-span.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Phone => "phone",
            Kind::Email => "email",
            Kind::Snils => "snils",
            Kind::Inn => "inn",
            Kind::Passport => "passport",
            Kind::Card => "card",
            Kind::Address => "address",
            Kind::Name => "name",
        }
    }

    /// Which kind wins when two findings overlap: the more specific one, checked by
    /// format or checksum, over the one found by looser word patterns.
    fn precedence(self) -> u8 {
        match self {
            Kind::Email => 0,
            Kind::Card => 1,
            Kind::Snils => 2,
            Kind::Inn => 3,
            Kind::Passport => 4,
            Kind::Phone => 5,
            Kind::Address => 6,
            Kind::Name => 7,
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A piece of personal data: byte offsets into the text, end exclusive, on UTF-8 boundaries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
}

/// Every piece of personal data in `text`, sorted by position and not overlapping.
pub fn find_pii(text: &str) -> Vec<Span> {
    let mut found = Vec::new();
    email::find(text, &mut found);
    numbers::find(text, &mut found);
    let tokens = tokens::tokenize(text);
    address::find(&tokens, &mut found);
    name::find(text, &tokens, &mut found);

    found.sort_by_key(|s| (s.kind.precedence(), s.start, usize::MAX - s.end));
    let mut kept: Vec<Span> = Vec::with_capacity(found.len());
    for span in found {
        if !kept
            .iter()
            .any(|k| span.start < k.end && k.start < span.end)
        {
            kept.push(span);
        }
    }
    kept.sort_by_key(|s| s.start);
    kept
}

/// `text` with each span replaced by `[kind]`. Spans that overlap an earlier one, run
/// past the end or cut a character are skipped rather than trusted.
pub fn mask(text: &str, spans: &[Span]) -> String {
    let mut ordered: Vec<&Span> = spans.iter().collect();
    ordered.sort_by_key(|s| s.start);
    let mut out = String::with_capacity(text.len());
    let mut done = 0;
    for span in ordered {
        if span.start < done || span.start >= span.end || text.get(span.start..span.end).is_none() {
            continue;
        }
        out.push_str(&text[done..span.start]);
        out.push('[');
        out.push_str(span.kind.as_str());
        out.push(']');
        done = span.end;
    }
    out.push_str(&text[done..]);
    out
}

/// `text` with all personal data [`find_pii`] finds replaced by `[kind]`.
pub fn mask_all(text: &str) -> String {
    mask(text, &find_pii(text))
}

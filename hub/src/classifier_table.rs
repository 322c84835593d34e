//! The official thematic classifier of appeals (wit/classifier.csv), which topic codes
//! must come from.

use std::collections::HashMap;
use std::sync::OnceLock;

const TABLE: &str = include_str!("../../wit/classifier.csv");

#[derive(Debug)]
pub struct Entry {
    pub code: &'static str,
    pub level: u8,
    pub name: String,
}

fn entries() -> &'static HashMap<&'static str, Entry> {
    static ENTRIES: OnceLock<HashMap<&'static str, Entry>> = OnceLock::new();
    ENTRIES.get_or_init(|| {
        TABLE
            .lines()
            .skip(1)
            .filter_map(|line| {
                let mut fields = line.splitn(4, ';');
                let code = fields.next()?;
                let level = fields.next()?.parse().ok()?;
                let _parent = fields.next()?;
                let name = unquote(fields.next()?);
                Some((code, Entry { code, level, name }))
            })
            .collect()
    })
}

/// CSV quoting: a quoted field has its quotes doubled inside.
fn unquote(field: &str) -> String {
    match field.strip_prefix('"').and_then(|f| f.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => field.to_string(),
    }
}

pub fn lookup(code: &str) -> Option<&'static Entry> {
    entries().get(code)
}

pub fn len() -> usize {
    entries().len()
}

#[cfg(test)]
mod tests {
    #[test]
    fn table_has_every_entry() {
        assert_eq!(super::len(), 2108);
        let e = super::lookup("0001.0001.0001.0001").expect("known code");
        assert_eq!(e.level, 4);
        assert!(super::lookup("0001.0001.0001.9999").is_none());
    }
}

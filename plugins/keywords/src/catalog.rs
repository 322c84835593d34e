//! The official thematic classifier of appeals, embedded so that a configured topic code
//! is checked against the same table the hub and the other classifiers use.

/// `code;level;parent;name`, one topic a line, after a header line.
const CLASSIFIER_CSV: &str = include_str!("../../../wit/classifier.csv");

/// Looks up the official names of `codes` in one pass over the table.
///
/// The hub instantiates the plugin afresh for every message, so nothing built here
/// survives between calls; one linear scan for all configured codes together costs less
/// than building any index the scan would only use once. The table is not sorted by
/// code, so a binary search over it is not an option.
///
/// Returns the names in the order of `codes`; `None` marks a code not in the table.
pub(crate) fn official_names(codes: &[&str]) -> Vec<Option<String>> {
    // Sorted, so each line of the table costs a binary search rather than a comparison
    // with every configured code.
    let mut wanted: Vec<&str> = codes.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    let mut found: Vec<Option<String>> = vec![None; wanted.len()];
    let mut missing = wanted.len();
    for line in CLASSIFIER_CSV.lines().skip(1) {
        if missing == 0 {
            break;
        }
        let Some((code, rest)) = line.split_once(';') else {
            continue;
        };
        if let Ok(i) = wanted.binary_search(&code) {
            if found[i].is_none() {
                found[i] = name_field(rest).map(unquote);
                missing -= 1;
            }
        }
    }
    codes
        .iter()
        .map(|code| {
            wanted
                .binary_search(code)
                .ok()
                .and_then(|i| found[i].clone())
        })
        .collect()
}

/// The name is the fourth field; it may itself contain `;` when quoted, so everything
/// after the third separator belongs to it.
fn name_field(after_code: &str) -> Option<&str> {
    let (_level, rest) = after_code.split_once(';')?;
    let (_parent, name) = rest.split_once(';')?;
    Some(name.trim_end_matches('\r'))
}

/// CSV quoting: `"…"` around the field, `""` for a quote inside it.
fn unquote(field: &str) -> String {
    match field.strip_prefix('"').and_then(|f| f.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => field.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_plain_quoted_and_missing_codes() {
        let names = official_names(&[
            "0005.0005.0056.1149",
            "0002.0007.0074.0301",
            "0003.0008.0086.0568.0092",
            "9999.0000.0000.0000",
            "0005.0005",
            "0005.0005.0056.1149",
        ]);
        assert_eq!(
            names[0].as_deref(),
            Some("Оплата жилищно-коммунальных услуг (ЖКХ), взносов в Фонд капитального ремонта")
        );
        assert!(names[1]
            .as_deref()
            .is_some_and(|n| n.starts_with("Звание \"Ветеран труда\", ")));
        assert_eq!(
            names[2].as_deref(),
            Some("Контроль и надзор в сфере применения контрольно-кассовой техники;")
        );
        assert_eq!(names[3], None);
        assert_eq!(names[4], None, "a code prefix is not a code");
        assert_eq!(names[5], names[0], "a code two rules share");
    }

    #[test]
    fn every_line_has_a_name() {
        for line in CLASSIFIER_CSV.lines().skip(1) {
            let (_, rest) = line.split_once(';').unwrap_or_default();
            assert!(
                name_field(rest).is_some_and(|n| !n.is_empty()),
                "line without a name: {line}"
            );
        }
    }
}

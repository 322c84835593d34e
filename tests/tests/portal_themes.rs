//! The reviewed mapping of the regional portals' themes to the official classifier
//! (`plugins/topics/data/portal_themes.csv`) is checked against the classifier and against
//! the themes the portals' data holds: every code exists, every theme is mapped (or marked
//! `none`) exactly once, and every row says why in one line.
//!
//! The portals' data is third-party and stays outside the repository; the themes it holds,
//! with how many texts each, are committed as `plugins/topics/data/portal_themes_seen.csv`.
//! With `OKNO_EXTERNAL_DATA` naming the data's folder (`kursk_cp2022/`, `nashdom_ryazan/`,
//! `nash_spb/`), a second test checks that list against the data itself: run it when the
//! data changes.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

const SOURCES: [&str; 3] = ["kursk", "ryazan", "spb"];
const HEADER: [&str; 4] = ["source", "theme", "code", "reason"];
const MAX_REASON_CHARS: usize = 160;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository")
        .to_path_buf()
}

/// The committed list of the themes the portals' data holds, by source.
fn seen_themes() -> BTreeMap<&'static str, BTreeSet<String>> {
    let path = repo_root().join("plugins/topics/data/portal_themes_seen.csv");
    let rows = parse_csv(&read(&path), ',').unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (header, body) = rows.split_first().expect("a header line");
    assert_eq!(header, &["source", "theme", "texts"], "{}", path.display());
    let mut seen: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    for (i, row) in body.iter().enumerate() {
        let source = SOURCES
            .iter()
            .find(|s| **s == row[0])
            .unwrap_or_else(|| panic!("{} line {}: unknown source", path.display(), i + 2));
        seen.entry(source).or_default().insert(row[1].clone());
    }
    seen
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{} cannot be read: {e}", path.display()))
}

/// Parses RFC 4180 text (quoted fields may hold separators, doubled quotes and line
/// breaks; lines end in LF or CRLF). Blank lines are skipped. The error names the line.
fn parse_csv(text: &str, sep: char) -> Result<Vec<Vec<String>>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rows = Vec::new();
    let mut row: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut line = 1;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                _ => {
                    if c == '\n' {
                        line += 1;
                    }
                    field.push(c);
                }
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => quoted = true,
            '"' => return Err(format!("line {line}: a quote inside an unquoted field")),
            c if c == sep => row.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                if !(row.len() == 1 && row[0].is_empty()) {
                    rows.push(std::mem::take(&mut row));
                }
                row.clear();
                line += 1;
            }
            _ => field.push(c),
        }
    }
    if quoted {
        return Err(format!("line {line}: a quoted field is not closed"));
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    Ok(rows)
}

/// The distinct values of `column` in a CSV file with a header line.
fn column_values(path: &Path, column: &str) -> BTreeSet<String> {
    let rows = parse_csv(&read(path), ',').unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (header, body) = rows.split_first().expect("a header line");
    let at = header
        .iter()
        .position(|h| h == column)
        .unwrap_or_else(|| panic!("{} has no column {column}", path.display()));
    body.iter()
        .enumerate()
        .map(|(i, r)| {
            r.get(at)
                .unwrap_or_else(|| panic!("{} row {}: no {column}", path.display(), i + 2))
                .clone()
        })
        .collect()
}

/// Every theme of every portal, as the data spells it.
fn portal_themes(external: &Path) -> BTreeMap<&'static str, BTreeSet<String>> {
    let kursk = external.join("kursk_cp2022");
    let mut kursk_themes = column_values(&kursk.join("train_with_header.csv"), "Тематика");
    kursk_themes.extend(column_values(
        &kursk.join("test_with_header.csv"),
        "Тематика",
    ));
    let ryazan = column_values(
        &external.join("nashdom_ryazan/NashDomRyazan-29-03-2019.csv"),
        "theme",
    );
    let spb_path = external.join("nash_spb/reasons_with_descriptions.json");
    let spb: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&read(&spb_path))
        .unwrap_or_else(|e| panic!("{}: {e}", spb_path.display()));
    BTreeMap::from([
        ("kursk", kursk_themes),
        ("ryazan", ryazan),
        ("spb", spb.keys().cloned().collect()),
    ])
}

/// The classifier's codes with their levels.
fn classifier() -> HashMap<String, u8> {
    let path = repo_root().join("wit/classifier.csv");
    let rows = parse_csv(&read(&path), ';').unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    rows.iter()
        .skip(1)
        .map(|r| {
            let level = r[1]
                .parse()
                .unwrap_or_else(|_| panic!("bad level in {r:?}"));
            (r[0].clone(), level)
        })
        .collect()
}

#[test]
fn every_portal_theme_is_mapped_once_to_a_real_code() {
    let path = repo_root().join("plugins/topics/data/portal_themes.csv");
    let rows = parse_csv(&read(&path), ',').unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (header, body) = rows.split_first().expect("the mapping has a header line");
    assert_eq!(header, &HEADER, "the mapping's header");

    let codes = classifier();
    let mut problems = Vec::new();
    let mut mapped: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut previous: Option<(usize, String)> = None;
    for (i, row) in body.iter().enumerate() {
        let at = format!("portal_themes.csv line {}", i + 2);
        let [source, theme, code, reason] = row.as_slice() else {
            problems.push(format!("{at}: {} fields, not 4", row.len()));
            continue;
        };
        let Some(source_rank) = SOURCES.iter().position(|s| s == source) else {
            problems.push(format!("{at}: unknown source `{source}`"));
            continue;
        };
        if code != "none" {
            match codes.get(code.as_str()) {
                None => problems.push(format!("{at}: `{code}` is not in wit/classifier.csv")),
                Some(3 | 4) => {}
                Some(level) => problems.push(format!(
                    "{at}: `{code}` is level {level}, not a тема or вопрос"
                )),
            }
        }
        if reason.trim().is_empty() {
            problems.push(format!("{at}: the reason is empty"));
        }
        if reason.contains(['\n', '\r']) {
            problems.push(format!("{at}: the reason spans several lines"));
        }
        if reason.chars().count() > MAX_REASON_CHARS {
            problems.push(format!(
                "{at}: the reason is over {MAX_REASON_CHARS} characters"
            ));
        }
        if !mapped
            .entry(SOURCES[source_rank])
            .or_default()
            .insert(theme.clone())
        {
            problems.push(format!("{at}: ({source}, {theme}) is mapped twice"));
        }
        // Sorted by source, then theme (St Petersburg's numeric reason ids as numbers).
        let key = if *source == "spb" {
            format!("{:>12}", theme)
        } else {
            theme.clone()
        };
        if let Some(prev) = &previous {
            if (source_rank, &key) < (prev.0, &prev.1) {
                problems.push(format!("{at}: out of order (sort by source, then theme)"));
            }
        }
        previous = Some((source_rank, key));
    }

    for (source, themes) in seen_themes() {
        let done = mapped.remove(source).unwrap_or_default();
        for missing in themes.difference(&done) {
            problems.push(format!("{source}: the theme `{missing}` is not mapped"));
        }
        for stale in done.difference(&themes) {
            problems.push(format!("{source}: `{stale}` is mapped but not in the data"));
        }
    }

    assert!(
        problems.is_empty(),
        "{} problem(s) in the mapping:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// The committed list of themes is the data's: run with `OKNO_EXTERNAL_DATA` set after the
/// portals' data changes (the data is not in the repository, so a fresh clone cannot).
#[test]
fn the_committed_theme_list_is_the_portals_data() {
    let Some(external) = std::env::var_os("OKNO_EXTERNAL_DATA").map(PathBuf::from) else {
        return;
    };
    assert!(
        external.is_dir(),
        "OKNO_EXTERNAL_DATA names {}, which is not a folder",
        external.display()
    );
    assert_eq!(
        seen_themes(),
        portal_themes(&external),
        "plugins/topics/data/portal_themes_seen.csv differs from the data in {}",
        external.display()
    );
}

#[test]
fn the_csv_reader_handles_quotes_and_line_breaks() {
    let rows = parse_csv("a,b\r\n\"x, \"\"y\"\"\",\"line\nbreak\"\n\nlast,\n", ',').unwrap();
    assert_eq!(
        rows,
        vec![
            vec!["a", "b"],
            vec!["x, \"y\"", "line\nbreak"],
            vec!["last", ""],
        ]
    );
    assert!(parse_csv("\"open", ',').is_err());
    assert!(parse_csv("a\"b", ',').is_err());
}

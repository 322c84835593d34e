//! The reviewed mapping of the regional portals' themes to the official classifier
//! (`plugins/topics/data/portal_themes.csv`) is checked against the classifier and against
//! the themes the portals' data holds: every code exists, every theme is mapped (or marked
//! `none`) exactly once, and every row says why in one line.
//!
//! The portals' data is third-party and stays outside the repository; the themes it holds,
//! with how many texts each, are committed as `plugins/topics/data/portal_themes_seen.csv`.
//! With `OKNO_EXTERNAL_DATA` naming the data's folder (`kursk_cp2022/`, `nashdom_ryazan/`,
//! `nash_spb/`), a second test, ignored by default, checks that list against the data
//! itself: run it with `-- --include-ignored` when the data changes.

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
    let rows = read_csv(&path, b',');
    let (header, body) = rows.split_first().expect("a header line");
    assert_eq!(header.1, ["source", "theme", "texts"], "{}", path.display());
    let mut seen: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    for (line, row) in body {
        let source = SOURCES
            .iter()
            .find(|s| **s == row[0])
            .unwrap_or_else(|| panic!("{} line {line}: unknown source", path.display()));
        seen.entry(source).or_default().insert(row[1].clone());
    }
    seen
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{} cannot be read: {e}", path.display()))
}

/// The records of a CSV file, its header first, each with the line it starts on. Quoted
/// fields may hold separators, doubled quotes and line breaks; blank lines are skipped;
/// records may differ in length (the checks below name a short one).
fn read_csv(path: &Path, separator: u8) -> Vec<(u64, Vec<String>)> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(separator)
        .from_path(path)
        .unwrap_or_else(|e| panic!("{} cannot be read: {e}", path.display()));
    reader
        .records()
        .map(|record| {
            let record = record.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let line = record.position().map_or(0, |p| p.line());
            (line, record.iter().map(String::from).collect())
        })
        .collect()
}

/// The distinct values of `column` in a CSV file with a header line.
fn column_values(path: &Path, column: &str) -> BTreeSet<String> {
    let rows = read_csv(path, b',');
    let (header, body) = rows.split_first().expect("a header line");
    let at = header
        .1
        .iter()
        .position(|h| h == column)
        .unwrap_or_else(|| panic!("{} has no column {column}", path.display()));
    body.iter()
        .map(|(line, r)| {
            r.get(at)
                .unwrap_or_else(|| panic!("{} line {line}: no {column}", path.display()))
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
    read_csv(&path, b';')
        .into_iter()
        .skip(1)
        .map(|(line, r)| {
            let level = r[1]
                .parse()
                .unwrap_or_else(|_| panic!("{} line {line}: bad level in {r:?}", path.display()));
            (r[0].clone(), level)
        })
        .collect()
}

#[test]
fn every_portal_theme_is_mapped_once_to_a_real_code() {
    let path = repo_root().join("plugins/topics/data/portal_themes.csv");
    let rows = read_csv(&path, b',');
    let (header, body) = rows.split_first().expect("the mapping has a header line");
    assert_eq!(header.1, HEADER, "the mapping's header");

    let codes = classifier();
    let mut problems = Vec::new();
    let mut mapped: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut previous: Option<(usize, String)> = None;
    for (line, row) in body {
        let at = format!("portal_themes.csv line {line}");
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
/// portals' data changes. The data is not in the repository, so a fresh clone cannot: the
/// test is ignored unless asked for, and then fails without the data rather than passing.
#[test]
#[ignore = "reads the portals' data: OKNO_EXTERNAL_DATA=DIR cargo test --release -p okno-tests --test portal_themes -- --include-ignored"]
fn the_committed_theme_list_is_the_portals_data() {
    let external = std::env::var_os("OKNO_EXTERNAL_DATA")
        .map(PathBuf::from)
        .expect("OKNO_EXTERNAL_DATA names the folder of the portals' data");
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

//! Compiles the official classifier into a ready-made search index, so that a plugin
//! instance (fresh for every call) starts scoring at once instead of parsing and stemming
//! 2108 entries first.
//!
//! Output (`$OUT_DIR/index.rs`):
//! - `ENTRIES`: each entry's code and wording as byte ranges into the embedded CSV, its
//!   level and its parent;
//! - `TERMS` / `POSTINGS`: an inverted index from stem hash to the entries whose enriched
//!   wording holds the stem, with a cosine-normalised TF-IDF weight;
//! - `TERM_FILTER`: a bitmap of the low 16 bits of every term's hash, to turn away most
//!   stems that are not terms without a search;
//! - `OWN_TERMS`: each entry's own stems (without its parents'), which decide whether a
//!   подвопрос clearly fits;
//! - `SYNONYMS`: the appeal-side synonym table, stemmed.
//!
//! It also copies the learned model (`data/model.bin`, written by `okno train topics`)
//! to `$OUT_DIR/model.bin` after checking that every label is the classifier entry it
//! says it is; without the file the plugin is built with an empty model (the table and
//! the examples alone decide).

#[path = "src/text.rs"]
#[allow(dead_code)]
mod text;
#[path = "src/vocab.rs"]
mod vocab;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::PathBuf;

/// How much of each ancestor's wording an entry inherits: a вопрос is read in the
/// context of its тема, which is read in the context of its тематика and раздел.
const INHERIT: [f32; 4] = [1.0, 0.35, 0.15, 0.08];
/// How much of its children's wording a тема inherits (a тема is named broadly; its
/// вопросы say what it is about).
const CHILDREN_WEIGHT: f32 = 0.5;
/// Slope of the pivoted length normalisation (1.0 would be plain cosine).
const PIVOT_SLOPE: f32 = 0.7;

/// A searchable entry: its index, its TF-IDF vector by stem, and the vector's norm.
type Doc<'a> = (usize, Vec<(&'a str, f32)>, f32);

struct Row {
    code: String,
    level: u8,
    parent: Option<usize>,
    name: String,
    code_range: (usize, usize),
    name_range: (usize, usize),
    quoted: bool,
}

fn main() {
    let manifest =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let csv_path = manifest.join("../../wit/classifier.csv");
    println!("cargo:rerun-if-changed={}", csv_path.display());
    println!("cargo:rerun-if-changed=src/text.rs");
    println!("cargo:rerun-if-changed=src/vocab.rs");
    let csv = std::fs::read_to_string(&csv_path).expect("wit/classifier.csv is readable");
    let rows = parse(&csv);
    let out = generate(&rows);
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out_dir.join("index.rs"), out).expect("OUT_DIR is writable");

    let model_path = manifest.join("data/model.bin");
    println!("cargo:rerun-if-changed={}", model_path.display());
    let model = match std::fs::read(&model_path) {
        Ok(bytes) => {
            check_model(&bytes, &rows).unwrap_or_else(|e| panic!("{}: {e}", model_path.display()));
            bytes
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!(
                "cargo:warning=topics: no {}, building without a learned model",
                model_path.display()
            );
            Vec::new()
        }
        Err(e) => panic!("reading {}: {e}", model_path.display()),
    };
    std::fs::write(out_dir.join("model.bin"), model).expect("OUT_DIR is writable");
}

/// The model's header and labels (format in src/learned.rs): each label is `none` or the
/// code of the classifier row at the index recorded for it.
fn check_model(bytes: &[u8], rows: &[Row]) -> Result<(), String> {
    let u32_at = |at: usize| -> Result<u32, String> {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| format!("truncated at byte {at}"))
    };
    if bytes.get(..4) != Some(b"OKNB") {
        return Err("not a topics model (no OKNB header)".into());
    }
    let labels = u32_at(20)? as usize;
    let features = u32_at(24)? as usize;
    let pairs = u32_at(28)? as usize;
    let header = 32;
    let expected = header + labels * 28 + features * 8 + pairs * 2;
    if bytes.len() != expected {
        return Err(format!("{} bytes, its header says {expected}", bytes.len()));
    }
    for i in 0..labels {
        let raw = &bytes[header + i * 20..header + i * 20 + 20];
        let len = raw.iter().position(|&b| b == 0).unwrap_or(20);
        let code =
            std::str::from_utf8(&raw[..len]).map_err(|_| format!("label {i} is not text"))?;
        let entry = u32_at(header + labels * 24 + i * 4)?;
        let ok = if code == "none" {
            entry == u32::MAX
        } else {
            rows.get(entry as usize).is_some_and(|r| r.code == code)
        };
        if !ok {
            return Err(format!(
                "label {i} ({code}) is not classifier row {entry}: retrain with `okno train topics`"
            ));
        }
    }
    Ok(())
}

/// Splits the `;`-separated, quoted CSV, keeping byte ranges into the file so that the
/// plugin reads codes and names straight out of the embedded text.
fn parse(csv: &str) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    let mut by_code: HashMap<String, usize> = HashMap::new();
    let mut offset = 0;
    for (n, line) in csv.split_inclusive('\n').enumerate() {
        let start = offset;
        offset += line.len();
        if n == 0 {
            continue;
        }
        let trimmed = line.trim_end_matches(['\n', '\r']);
        if trimmed.is_empty() {
            continue;
        }
        let fields = split_fields(trimmed);
        assert_eq!(
            fields.len(),
            4,
            "classifier.csv line {}: expected 4 fields",
            n + 1
        );
        let (cs, ce) = fields[0];
        let (ps, pe) = fields[2];
        let (mut ns, mut ne) = fields[3];
        let code = trimmed[cs..ce].to_string();
        let level: u8 = trimmed[fields[1].0..fields[1].1]
            .parse()
            .expect("level is a number");
        let parent_code = &trimmed[ps..pe];
        let parent =
            if parent_code.is_empty() {
                None
            } else {
                Some(*by_code.get(parent_code).unwrap_or_else(|| {
                    panic!("line {}: parent {parent_code} not seen before", n + 1)
                }))
            };
        let quoted = trimmed[ns..ne].starts_with('"');
        let name = if quoted {
            ns += 1;
            ne -= 1;
            trimmed[ns..ne].replace("\"\"", "\"")
        } else {
            trimmed[ns..ne].to_string()
        };
        by_code.insert(code.clone(), rows.len());
        rows.push(Row {
            code,
            level,
            parent,
            name,
            code_range: (start + cs, start + ce),
            name_range: (start + ns, start + ne),
            quoted,
        });
    }
    rows
}

fn split_fields(line: &str) -> Vec<(usize, usize)> {
    let mut fields = Vec::new();
    let bytes = line.as_bytes();
    let mut start = 0;
    let mut in_quotes = false;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'"' => in_quotes = !in_quotes,
            b';' if !in_quotes => {
                fields.push((start, i));
                start = i + 1;
            }
            _ => {}
        }
    }
    fields.push((start, bytes.len()));
    fields
}

fn generate(rows: &[Row]) -> String {
    let tokenizer = text::Tokenizer::new();
    let stems =
        |s: &str| -> BTreeSet<String> { tokenizer.tokens(s).into_iter().map(|t| t.stem).collect() };

    let code_cues: HashMap<&str, &str> = vocab::CODE_CUES.iter().copied().collect();
    for code in code_cues.keys() {
        assert!(
            rows.iter().any(|r| r.code == *code),
            "vocab.rs cues an unknown code {code}"
        );
    }
    let name_cues: HashMap<String, &str> = vocab::NAME_CUES
        .iter()
        .map(|(n, c)| (n.to_lowercase(), *c))
        .collect();

    // An entry's own wording: its name, the cues for its code, the cues for its name.
    let own: Vec<BTreeSet<String>> = rows
        .iter()
        .map(|r| {
            let mut set = stems(&r.name);
            if let Some(cues) = code_cues.get(r.code.as_str()) {
                set.extend(stems(cues));
            }
            if let Some(cues) = name_cues.get(&r.name.to_lowercase()) {
                set.extend(stems(cues));
            }
            set
        })
        .collect();

    let searchable = |r: &Row| r.level >= 3;
    let n_docs = rows.iter().filter(|r| searchable(r)).count() as f32;
    let mut df: HashMap<&str, u32> = HashMap::new();
    for (r, set) in rows.iter().zip(&own) {
        if searchable(r) {
            for s in set {
                *df.entry(s.as_str()).or_default() += 1;
            }
        }
    }
    let idf = |s: &str| -> f32 { (1.0 + n_docs / df.get(s).copied().unwrap_or(1) as f32).ln() };

    let mut children: Vec<Vec<usize>> = vec![Vec::new(); rows.len()];
    for (i, r) in rows.iter().enumerate() {
        if let Some(p) = r.parent {
            children[p].push(i);
        }
    }

    // Each searchable entry's TF-IDF vector before normalisation.
    let mut docs: Vec<Doc> = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        if !searchable(r) {
            continue;
        }
        // (entry whose own wording is inherited, weight)
        let mut sources: Vec<(usize, f32)> = Vec::new();
        let mut node = Some(i);
        let mut depth = 0;
        while let Some(n) = node {
            sources.push((n, INHERIT[depth.min(INHERIT.len() - 1)]));
            node = rows[n].parent;
            depth += 1;
        }
        if r.level == 3 {
            sources.extend(children[i].iter().map(|&c| (c, CHILDREN_WEIGHT)));
        }
        let mut doc: HashMap<&str, f32> = HashMap::new();
        for (n, w) in sources {
            for s in &own[n] {
                let e = doc.entry(s.as_str()).or_insert(0.0);
                if *e < w {
                    *e = w;
                }
            }
        }
        let mut vec: Vec<(&str, f32)> = doc.into_iter().map(|(s, w)| (s, w * idf(s))).collect();
        vec.sort_by(|a, b| a.0.cmp(b.0));
        let l2 = vec.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
        if l2 > 0.0 {
            docs.push((i, vec, l2));
        }
    }
    // Pivoted length normalisation: plain cosine favours entries of two or three words,
    // which then win on any one shared word; the pivot is the mean norm of the level.
    let mut pivot = [0.0f32; 6];
    let mut counts = [0u32; 6];
    for (i, _, l2) in &docs {
        pivot[rows[*i].level as usize] += l2;
        counts[rows[*i].level as usize] += 1;
    }
    for (p, c) in pivot.iter_mut().zip(counts) {
        *p /= c.max(1) as f32;
    }
    let mut postings: BTreeMap<u32, (f32, Vec<(usize, f32)>)> = BTreeMap::new();
    let mut seen_hashes: HashMap<u32, String> = HashMap::new();
    let mut max_weight = 0.0f32;
    for (i, vec, l2) in docs {
        let norm = (1.0 - PIVOT_SLOPE) * pivot[rows[i].level as usize] + PIVOT_SLOPE * l2;
        for (s, w) in vec {
            let h = text::term_hash(s);
            if let Some(other) = seen_hashes.insert(h, s.to_string()) {
                assert_eq!(other, s, "stem hash collision between {other} and {s}");
            }
            max_weight = max_weight.max(w / norm);
            postings
                .entry(h)
                .or_insert_with(|| (idf(s), Vec::new()))
                .1
                .push((i, w / norm));
        }
    }

    let mut out = String::new();
    out.push_str("// Generated by build.rs from wit/classifier.csv and src/vocab.rs.\n");
    writeln!(out, "pub static ENTRIES: [Entry; {}] = [", rows.len()).unwrap();
    for r in rows {
        writeln!(
            out,
            "Entry {{ code: ({}, {}), name: ({}, {}), quoted: {}, level: {}, parent: {} }},",
            r.code_range.0,
            r.code_range.1,
            r.name_range.0,
            r.name_range.1,
            r.quoted,
            r.level,
            r.parent.map_or(u16::MAX, |p| p as u16)
        )
        .unwrap();
    }
    out.push_str("];\n");

    writeln!(out, "pub const POSTING_SCALE: f32 = {max_weight:?};").unwrap();
    let total: usize = postings.values().map(|(_, p)| p.len()).sum();
    writeln!(out, "pub static TERMS: [Term; {}] = [", postings.len()).unwrap();
    let mut at = 0;
    for (h, (idf, list)) in &postings {
        writeln!(
            out,
            "Term {{ hash: {h}, idf: {idf:?}, start: {at}, end: {} }},",
            at + list.len()
        )
        .unwrap();
        at += list.len();
    }
    out.push_str("];\n");
    // One bit per low 16 bits of a term's hash: most stems looked up (names, typo
    // variants) are not terms, and the filter turns them away without a search.
    let mut filter = [0u64; 1024];
    for h in postings.keys() {
        let low = (h & 0xffff) as usize;
        filter[low / 64] |= 1 << (low % 64);
    }
    writeln!(out, "pub static TERM_FILTER: [u64; 1024] = {filter:?};").unwrap();
    writeln!(out, "pub static POSTINGS: [(u16, u16); {total}] = [").unwrap();
    for (_, list) in postings.values() {
        for (e, w) in list {
            let q = (w / max_weight * 65535.0).round().clamp(1.0, 65535.0) as u16;
            write!(out, "({e},{q}),").unwrap();
        }
        out.push('\n');
    }
    out.push_str("];\n");

    let mut own_flat = Vec::new();
    let mut own_ranges = Vec::new();
    for set in &own {
        let start = own_flat.len();
        let mut hs: Vec<u32> = set.iter().map(|s| text::term_hash(s)).collect();
        hs.sort_unstable();
        own_flat.extend(hs);
        own_ranges.push((start, own_flat.len()));
    }
    writeln!(
        out,
        "pub static OWN_TERMS: [u32; {}] = {:?};",
        own_flat.len(),
        own_flat
    )
    .unwrap();
    writeln!(
        out,
        "pub static OWN_RANGES: [(u32, u32); {}] = {:?};",
        own_ranges.len(),
        own_ranges
    )
    .unwrap();

    let mut synonyms: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
    for (word, expansion) in vocab::SYNONYMS {
        let key = text::term_hash(&tokenizer.stem(&word.to_lowercase()));
        let targets = stems(expansion)
            .iter()
            .map(|s| text::term_hash(s))
            .collect::<BTreeSet<_>>();
        synonyms.entry(key).or_default().extend(targets);
    }
    writeln!(
        out,
        "pub static SYNONYMS: [(u32, &[u32]); {}] = [",
        synonyms.len()
    )
    .unwrap();
    for (k, v) in &synonyms {
        writeln!(out, "({k}, &{:?}),", v.iter().collect::<Vec<_>>()).unwrap();
    }
    out.push_str("];\n");
    out
}

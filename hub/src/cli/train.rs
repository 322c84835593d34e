//! `okno train topics`: trains the `topics` plugin's learned model from the regional
//! feedback portals' texts (`../shared/data/external`), labelled through the reviewed
//! mapping of portal themes to official codes (`plugins/topics/data/portal_themes.csv`).
//!
//! Writes the model (`plugins/topics/data/model.bin`, compiled into the plugin) and the
//! statistics of what it was trained on (texts kept per source and code); never the
//! texts. The same data and mapping give the same bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use okno_plugin_topics::learned::NONE;
use okno_plugin_topics::train::{train, Labelled, TrainOptions, TrainReport};

use crate::classifier_table;

/// The portals known, in the order they are read.
pub const SOURCES: [&str; 3] = ["kursk", "ryazan", "spb"];

/// Options of `okno train topics`.
#[derive(clap::Args, Debug)]
pub struct TrainTopicsArgs {
    /// The folder of external data (its kursk_cp2022/, nashdom_ryazan/, nash_spb/).
    #[arg(long, default_value = "../shared/data/external")]
    pub external: PathBuf,
    /// The reviewed mapping: source,theme,code,reason.
    #[arg(long, default_value = "plugins/topics/data/portal_themes.csv")]
    pub mapping: PathBuf,
    /// Sources to train on, comma-separated (kursk, ryazan, spb).
    #[arg(long, value_delimiter = ',', default_value = "kursk,ryazan,spb")]
    pub sources: Vec<String>,
    /// Where the model goes.
    #[arg(long, default_value = "plugins/topics/data/model.bin")]
    pub out: PathBuf,
    /// Where the statistics go (source,code,texts); none if not given.
    #[arg(long)]
    pub stats: Option<PathBuf>,
}

/// One portal message: its source, its portal theme (for St Petersburg the reason id) and
/// its text.
#[derive(Clone, Debug)]
pub struct PortalText {
    pub source: &'static str,
    pub theme: String,
    pub text: String,
}

/// The mapping: (source, theme) → code or `none`.
pub type Mapping = BTreeMap<(String, String), String>;

/// Reads and checks the mapping: four columns, a known source, a code of the classifier
/// (or `none`), one row per theme.
pub fn read_mapping(path: &Path) -> anyhow::Result<Mapping> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .with_context(|| format!("reading {}", path.display()))?;
    let headers = reader.headers()?.clone();
    let expected = ["source", "theme", "code", "reason"];
    if headers.iter().collect::<Vec<_>>() != expected {
        bail!(
            "{}: the header must be {}",
            path.display(),
            expected.join(",")
        );
    }
    let mut mapping = Mapping::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.with_context(|| format!("{}:{line}", path.display()))?;
        let field = |n: usize| record.get(n).unwrap_or("").trim().to_string();
        let (source, theme, code) = (field(0), field(1), field(2));
        if !SOURCES.contains(&source.as_str()) {
            bail!(
                "{}:{line}: unknown source {source:?} (expected one of {})",
                path.display(),
                SOURCES.join(", ")
            );
        }
        if theme.is_empty() {
            bail!("{}:{line}: empty theme", path.display());
        }
        if code != NONE && classifier_table::lookup(&code).is_none() {
            bail!(
                "{}:{line}: code {code:?} is not in the official classifier",
                path.display()
            );
        }
        if field(3).is_empty() {
            bail!("{}:{line}: no reason given", path.display());
        }
        if mapping
            .insert((source.clone(), theme.clone()), code)
            .is_some()
        {
            bail!(
                "{}:{line}: {source} theme {theme:?} mapped twice",
                path.display()
            );
        }
    }
    Ok(mapping)
}

/// Kursk's texts hold HTML: tags go, the common entities become their characters.
pub fn strip_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    for (entity, plain) in [
        ("&nbsp;", " "),
        ("&quot;", "\""),
        ("&laquo;", "«"),
        ("&raquo;", "»"),
        ("&ndash;", "–"),
        ("&mdash;", "—"),
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&amp;", "&"),
    ] {
        out = out.replace(entity, plain);
    }
    out
}

fn read_csv(
    data: &[u8],
    path: &Path,
    source: &'static str,
    theme_column: &str,
    text_column: &str,
    html: bool,
) -> anyhow::Result<Vec<PortalText>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(data);
    let headers = reader.headers()?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .with_context(|| format!("{}: no column {name:?}", path.display()))
    };
    let (theme_at, text_at) = (column(theme_column)?, column(text_column)?);
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.with_context(|| format!("{}: record {}", path.display(), i + 1))?;
        let text = record.get(text_at).unwrap_or("");
        out.push(PortalText {
            source,
            theme: record.get(theme_at).unwrap_or("").trim().to_string(),
            text: if html {
                strip_html(text)
            } else {
                text.to_string()
            },
        });
    }
    Ok(out)
}

/// Reads one portal's messages from the external data folder.
pub fn read_source(external: &Path, source: &str) -> anyhow::Result<Vec<PortalText>> {
    let read = |rel: &str| -> anyhow::Result<(PathBuf, Vec<u8>)> {
        let path = external.join(rel);
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        Ok((path, bytes))
    };
    match source {
        "kursk" => {
            let mut out = Vec::new();
            for rel in [
                "kursk_cp2022/train_with_header.csv",
                "kursk_cp2022/test_with_header.csv",
            ] {
                let (path, bytes) = read(rel)?;
                out.extend(read_csv(
                    &bytes,
                    &path,
                    "kursk",
                    "Тематика",
                    "Текст Сообщения",
                    true,
                )?);
            }
            Ok(out)
        }
        "ryazan" => {
            let (path, bytes) = read("nashdom_ryazan/NashDomRyazan-29-03-2019.csv")?;
            read_csv(&bytes, &path, "ryazan", "theme", "text", false)
        }
        "spb" => {
            let (path, gz) = read("nash_spb/nash_spb_appeals.csv.gz")?;
            let mut bytes = Vec::new();
            flate2::read::GzDecoder::new(gz.as_slice())
                .read_to_end(&mut bytes)
                .with_context(|| format!("unpacking {}", path.display()))?;
            read_csv(&bytes, &path, "spb", "reason_id", "text", false)
        }
        other => bail!(
            "unknown source {other:?} (expected one of {})",
            SOURCES.join(", ")
        ),
    }
}

/// What labelling found: the labelled texts and, per source, the themes the mapping
/// lacks with their texts' count.
pub struct LabelledSet {
    pub texts: Vec<Labelled>,
    pub unmapped: BTreeMap<(String, String), usize>,
}

/// Reads the sources and labels their texts through the mapping.
pub fn labelled(
    external: &Path,
    mapping: &Mapping,
    sources: &[String],
) -> anyhow::Result<LabelledSet> {
    let mut texts = Vec::new();
    let mut unmapped: BTreeMap<(String, String), usize> = BTreeMap::new();
    for source in sources {
        for t in read_source(external, source)? {
            match mapping.get(&(t.source.to_string(), t.theme.clone())) {
                Some(code) => texts.push(Labelled {
                    source: t.source.to_string(),
                    text: t.text,
                    code: code.clone(),
                }),
                None => *unmapped.entry((t.source.to_string(), t.theme)).or_default() += 1,
            }
        }
    }
    Ok(LabelledSet { texts, unmapped })
}

/// The statistics file: what the model was trained on, per source and code.
pub fn stats_csv(report: &TrainReport) -> String {
    let mut out = String::from("source,code,texts\n");
    for ((source, code), n) in &report.kept {
        out.push_str(&format!("{source},{code},{n}\n"));
    }
    out
}

/// `okno train topics`.
pub fn topics_command(args: TrainTopicsArgs) -> anyhow::Result<()> {
    let mapping = read_mapping(&args.mapping)?;
    let set = labelled(&args.external, &mapping, &args.sources)?;
    if set.texts.is_empty() {
        bail!("no text of {} is mapped", args.sources.join(", "));
    }
    let unmapped_texts: usize = set.unmapped.values().sum();
    let (bytes, report) = train(&set.texts, &TrainOptions::default());
    std::fs::write(&args.out, &bytes).with_context(|| format!("writing {}", args.out.display()))?;
    if let Some(stats) = &args.stats {
        std::fs::write(stats, stats_csv(&report))
            .with_context(|| format!("writing {}", stats.display()))?;
    }
    let codes: BTreeSet<&String> = report.kept.keys().map(|(_, c)| c).collect();
    println!(
        "trained on {} texts of {} ({} codes and none); {} texts of {} unmapped themes left out",
        report.kept.values().sum::<usize>(),
        args.sources.join(", "),
        codes
            .len()
            .saturating_sub(usize::from(codes.iter().any(|c| *c == NONE))),
        unmapped_texts,
        set.unmapped.len()
    );
    println!(
        "features {}, pairs {}, low-confidence threshold {:.3}",
        report.features, report.pairs, report.threshold
    );
    for (source, (n, kept, right)) in &report.calibration {
        println!(
            "  {source} held out: {kept} of {n} not flagged, {right} of them right ({:.1}%)",
            100.0 * *right as f64 / (*kept).max(1) as f64
        );
    }
    println!("wrote {} ({} bytes)", args.out.display(), bytes.len());
    Ok(())
}

#[derive(clap::Subcommand)]
pub enum TrainCommand {
    /// Train the topics plugin's learned model from the portals' texts and the mapping
    /// of their themes to official codes (run from the repository's root).
    Topics(TrainTopicsArgs),
}

pub fn run(command: TrainCommand) -> anyhow::Result<()> {
    match command {
        TrainCommand::Topics(args) => topics_command(args),
    }
}

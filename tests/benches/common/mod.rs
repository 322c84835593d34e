//! What the plugin benchmarks share: loading a plugin, the inputs, the keyword rules.

use std::path::Path;
use std::time::Duration;

use okno_hub::model::Message;
use okno_hub::runtime::{Limits, Plugin, PluginContext, Runtime};
use okno_tests::{plugin_context, workspace};

/// The keywords plugin's settings in the benchmarks: three rules, as an admin would write.
pub const KEYWORD_RULES: &[(&str, &str)] = &[
    (
        "rules.heating.words",
        "отопление, батарея, теплоснабжение, холодно, горячая вода",
    ),
    ("rules.heating.tags", "housing, heating"),
    ("rules.roads.words", "дорога, яма, асфальт, тротуар"),
    ("rules.roads.tags", "roads"),
    ("rules.pension.words", "пенсия, пенсионер, инвалид"),
    ("rules.pension.tags", "social-support"),
];

/// Loads the component at `path` as plugin `name`, with a CPU deadline long enough for
/// a 10 KB appeal on a slow machine.
pub fn load(rt: &Runtime, path: &Path, name: &str, settings: &[(&str, &str)]) -> Plugin {
    let context = PluginContext {
        // The plugins' output does not depend on the day the bench runs.
        fixed_now: Some(1_790_000_000_000),
        ..plugin_context(name, settings)
    };
    rt.load(
        path,
        None,
        None,
        context,
        Limits {
            cpu: Duration::from_secs(1),
            ..Limits::default()
        },
    )
    .unwrap_or_else(|e| panic!("loading {}: {e:#}", path.display()))
}

/// The texts of the 43 labelled appeals.
pub fn appeals() -> Vec<String> {
    let text = std::fs::read_to_string(workspace().join("tests/data/appeals_train.jsonl"))
        .expect("tests/data/appeals_train.jsonl");
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["text"].as_str().map(String::from))
        .collect()
}

/// An e-mailed appeal with `body`, as the hub hands it to a classifier.
pub fn hub_message(body: &str) -> Message {
    let mut m: Message =
        serde_json::from_value(serde_json::json!({"channel": "mail", "body": body})).unwrap();
    m.id = "bench".into();
    m.received_at = 1_790_000_000_000;
    m
}

//! Plugins in JavaScript and Python: built by `okno plugin build DIR` with the pinned
//! toolchains (`scripts/install-plugin-toolchains`), loaded under the same sandbox, limits
//! and capability rules as the Rust plugins, answering as the same logic in Rust does, and
//! running end to end through the hub's pipeline.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use okno_hub::cli::serve;
use okno_hub::model::{Classification, ErrorKind, Message};
use okno_hub::runtime::{CallError, Limits, Plugin, Runtime, RuntimeOptions, World};
use okno_tests::*;

const LIMIT: Duration = Duration::from_secs(120);

/// The JavaScript and Python plugins, built once per test binary by the `okno` command.
fn guest_plugins() -> &'static BTreeMap<&'static str, PathBuf> {
    static BUILT: OnceLock<BTreeMap<&'static str, PathBuf>> = OnceLock::new();
    BUILT.get_or_init(|| {
        let root = workspace();
        let out = okno_hub::cli::build::wasm_target_dir(&root)
            .join("test-dist")
            .join("plugin_languages");
        let mut built = BTreeMap::new();
        for name in ["urgency-js", "urgency-py"] {
            let output = std::process::Command::new(env!("CARGO_BIN_EXE_okno-under-test"))
                .current_dir(&root)
                .args(["plugin", "build"])
                .arg(root.join("plugins").join(name))
                .arg("--out-dir")
                .arg(&out)
                .output()
                .expect("running okno plugin build");
            assert!(
                output.status.success(),
                "okno plugin build plugins/{name} failed (are the toolchains installed? \
                 scripts/install-plugin-toolchains):\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            let file = out.join(format!("{name}.wasm"));
            assert!(file.is_file(), "{} was not written", file.display());
            built.insert(name, file);
        }
        built
    })
}

/// A plugin file by name: the JavaScript and Python ones from [`guest_plugins`], the Rust
/// ones from the workspace build.
fn file(name: &str) -> PathBuf {
    match guest_plugins().get(name) {
        Some(path) => path.clone(),
        None => plugin(name),
    }
}

fn runtime() -> Arc<Runtime> {
    Runtime::new(RuntimeOptions::default()).expect("engine")
}

fn load(rt: &Runtime, name: &str, settings: &[(&str, &str)], limits: Limits) -> Plugin {
    rt.load(
        &file(name),
        None,
        Some(World::Classifier),
        plugin_context(name, settings),
        limits,
    )
    .unwrap_or_else(|e| panic!("loading {name}: {e:#}"))
}

fn message(subject: Option<&str>, body: &str) -> Message {
    let mut m: Message =
        serde_json::from_value(serde_json::json!({"channel": "mail", "body": body})).unwrap();
    m.subject = subject.map(String::from);
    m.id = "test-message".into();
    m.received_at = 1_790_000_000_000;
    m
}

/// The same logic in three languages.
const LANGUAGES: [&str; 3] = ["urgency", "urgency-js", "urgency-py"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_three_languages_give_the_same_answers() {
    let rt = runtime();
    // (settings, subject, body, tags added)
    type Case<'a> = (
        &'a [(&'a str, &'a str)],
        Option<&'a str>,
        &'a str,
        &'a [&'a str],
    );
    let cases: &[Case] = &[
        // The default words, in the body, in any case.
        (&[], None, "У нас АВАРИЯ на теплотрассе", &["urgent"]),
        // A stem inside a longer word, in the subject.
        (&[], Some("Аварийный дом"), "Прошу расселить", &["urgent"]),
        // Nothing urgent.
        (&[], Some("Благодарность"), "Спасибо за помощь", &[]),
        // Configured words and tag.
        (
            &[("words", "пожар, угроза жизни"), ("tag", "emergency")],
            None,
            "Угроза жизни детей",
            &["emergency"],
        ),
        (
            &[("words", "пожар"), ("tag", "emergency")],
            None,
            "авария",
            &[],
        ),
    ];
    for name in LANGUAGES {
        for (settings, subject, body, expected) in cases {
            let p = load(&rt, name, settings, Limits::default());
            let mut current = Classification::default();
            current.tags.push("earlier".into());
            let out = p
                .classify(&message(*subject, body), &current)
                .await
                .unwrap_or_else(|e| panic!("{name} on {body:?}: {e}"));
            let mut want = vec!["earlier".to_string()];
            want.extend(expected.iter().map(|t| t.to_string()));
            assert_eq!(out.tags, want, "{name} with {settings:?} on {body:?}");
            assert_eq!(out.topic, None, "{name} leaves the rest as it was");
        }
        // A tag already there is not added twice.
        let p = load(&rt, name, &[], Limits::default());
        let mut current = Classification::default();
        current.tags.push("urgent".into());
        let out = p
            .classify(&message(None, "срочно"), &current)
            .await
            .unwrap();
        assert_eq!(out.tags, vec!["urgent".to_string()], "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_setting_is_the_plugins_config_error_in_every_language() {
    let rt = runtime();
    for name in LANGUAGES {
        let p = load(&rt, name, &[("words", " , ,")], Limits::default());
        let err = p
            .classify(&message(None, "срочно"), &Classification::default())
            .await
            .expect_err("no words is a config error");
        match &err {
            CallError::Plugin { error, .. } => {
                assert_eq!(error.kind, ErrorKind::Config, "{name}: {err}");
                assert!(error.message.contains("`words`"), "{name}: {err}");
            }
            other => panic!("{name}: expected the plugin's error, got {other}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn javascript_and_python_plugins_get_the_sandbox_and_capabilities_of_rust_ones() {
    let rt = runtime();
    for name in ["urgency-js", "urgency-py"] {
        let p = load(&rt, name, &[], Limits::default());
        assert_eq!(p.world(), World::Classifier, "{name}");
        assert_eq!(p.info.contract_version, "0.1.1", "{name}");
        // What the WIT world imports, as for a Rust plugin of the same world.
        for capability in ["config", "log", "kv", "http"] {
            assert!(
                p.info.capabilities.iter().any(|c| c == capability),
                "{name} imports {capability}: {:?}",
                p.info.capabilities
            );
        }
        // Nothing outside the okno interfaces and the deny-all WASI 0.2.
        for import in &p.info.imports {
            assert!(
                import.starts_with("okno:plugin/") || import.starts_with("wasi:"),
                "{name} imports {import}"
            );
            assert!(!import.starts_with("wasi:http/"), "{name} imports {import}");
        }
        // The memory cap holds: these runtimes need more than a few MiB to start, and a
        // call under a cap below that fails as the Rust plugins' calls do, as a memory limit
        // or a failed instantiation, never by reaching past it.
        let small = Limits {
            memory_bytes: 2 << 20,
            ..Limits::default()
        };
        let capped = load(&rt, name, &[], small);
        let err = capped
            .classify(&message(None, "срочно"), &Classification::default())
            .await
            .expect_err("2 MiB is too little for the runtime");
        assert!(
            matches!(
                err,
                CallError::MemoryLimit { .. } | CallError::Instantiate { .. }
            ),
            "{name}: {err}"
        );
        assert!(
            capped.peak_memory_bytes() <= 2 << 20,
            "{name} grew to {} bytes",
            capped.peak_memory_bytes()
        );
        // A CPU deadline of one epoch tick still lets a short call finish or stops it
        // as a deadline; it never runs on.
        let tight = Limits {
            cpu: Duration::from_millis(1),
            ..Limits::default()
        };
        let quick = load(&rt, name, &[], tight);
        match quick
            .classify(&message(None, "срочно"), &Classification::default())
            .await
        {
            Ok(c) => assert_eq!(c.tags, vec!["urgent".to_string()], "{name}"),
            Err(CallError::CpuDeadline { .. }) => {}
            Err(other) => panic!("{name}: expected an answer or the CPU deadline, got {other}"),
        }
    }
}

/// A config with the mail source, the JavaScript and Python classifiers and the priority
/// policy, delivering to `sink`.
fn write_languages_config(dir: &Path, listen: &str, sink: &str) -> PathBuf {
    let mut text = format!(
        "[hub]\nlisten = \"{listen}\"\ndata_dir = \"{}\"\nworkers = 2\n\n",
        dir.join("data").display()
    );
    let mut add = |name: &str, path: PathBuf, kind: &str, settings: &str| {
        text.push_str(&format!(
            "[[plugins]]\nname = \"{name}\"\nkind = \"{kind}\"\nfile = \"{}\"\nsha256 = \"{}\"\n{settings}\n\n",
            path.display(),
            sha256_of(&path)
        ));
    };
    add("mail", plugin("mail"), "connector", "");
    add("http-json", plugin("http-json"), "connector", "");
    add(
        "urgency-js",
        file("urgency-js"),
        "classifier",
        "cpu_ms = 500\n[plugins.settings]\nwords = \"срочно, немедленно\"\ntag = \"urgent\"",
    );
    add(
        "urgency-py",
        file("urgency-py"),
        "classifier",
        "cpu_ms = 500\n[plugins.settings]\nwords = \"пожар, угроза жизни\"\ntag = \"emergency\"",
    );
    add("priority", plugin("priority"), "policy", "");
    text.push_str("[[sources]]\nname = \"mail\"\ntransport = \"http\"\nconnector = \"mail\"\n\n");
    text.push_str(
        "[pipeline]\nclassifiers = [\"urgency-js\", \"urgency-py\"]\npolicy = \"priority\"\n\n",
    );
    text.push_str(&one_sink(sink, 5));
    let path = dir.join("okno.toml");
    std::fs::write(&path, text).expect("writing the config");
    issue_tokens(&dir.join("data"), listen);
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn javascript_and_python_classifiers_run_through_the_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let sink = Sink::start(port).await;
    let listen = format!("127.0.0.1:{}", free_port());
    let config = write_languages_config(dir.path(), &listen, &Sink::url(port, "registry"));
    let (hub, addr) = serve::start(config, Default::default())
        .await
        .expect("the hub starts with JavaScript and Python plugins");
    let addr = addr.to_string();

    let cases = [
        (
            "lang-1@example.ru",
            "Пожар в подъезде",
            "Срочно примите меры, угроза жизни жильцов.",
            vec!["urgent", "emergency"],
            "urgent",
        ),
        (
            "lang-2@example.ru",
            "Вопрос",
            "Прошу разъяснить порядок перерасчёта платы.",
            vec![],
            "normal",
        ),
    ];
    for (message_id, subject, body, tags, priority) in cases {
        let (status, answer) = post_mail(&addr, mail(message_id, subject, body)).await;
        assert_eq!(status, 202, "{answer}");
        let id = answer["ids"][0].as_str().expect("an id").to_string();
        eventually("delivery to the sink", LIMIT, || sink.keys().contains(&id)).await;
        eventually("state delivered", LIMIT, || {
            hub.store.get(&id).unwrap().unwrap().state == okno_hub::store::State::Delivered
        })
        .await;
        let (status, record) = get_json(&format!("http://{addr}/v1/messages/{id}")).await;
        assert_eq!(status, 200, "{record}");
        let got: Vec<&str> = record["classification"]["tags"]
            .as_array()
            .expect("tags")
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        assert_eq!(got, tags, "{message_id}: {record}");
        assert_eq!(
            record["decision"]["priority"].as_str(),
            Some(priority),
            "{message_id}: {record}"
        );
        let classified_by: Vec<&str> = record["trace"]
            .as_array()
            .expect("a trace")
            .iter()
            .filter(|t| t["stage"] == "classify")
            .filter_map(|t| t["plugin"].as_str())
            .collect();
        assert_eq!(
            classified_by,
            vec!["urgency-js", "urgency-py"],
            "{message_id}: {record}"
        );
    }
}

/// `okno plugin new --lang js|python` for every world: the project's own tests pass, and
/// `okno plugin build` gives a component the hub loads as that world and runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_javascript_and_python_projects_test_build_and_load() {
    let okno = env!("CARGO_BIN_EXE_okno-under-test");
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let run = |command: &mut std::process::Command, what: &str| {
        let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(
            output.status.success(),
            "{what} failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let tests: [(&str, &[&str]); 2] = [
        ("js", &["npm", "test"]),
        ("python", &["python3", "-m", "unittest"]),
    ];
    for (lang, test) in tests {
        for world in ["connector", "classifier", "policy"] {
            let name = format!("demo-{world}");
            let project = dir.path().join(lang).join(&name);
            run(
                std::process::Command::new(okno)
                    .current_dir(dir.path())
                    .args([
                        "plugin", "new", &name, "--world", world, "--lang", lang, "--dir",
                    ])
                    .arg(&project),
                &format!("okno plugin new {name} --lang {lang}"),
            );
            run(
                std::process::Command::new(test[0])
                    .args(&test[1..])
                    .current_dir(&project),
                &format!("{} in the {lang} {world} project", test.join(" ")),
            );
            run(
                std::process::Command::new(okno)
                    .current_dir(&project)
                    .args(["plugin", "build", "."]),
                &format!("okno plugin build of the {lang} {world} project"),
            );
            let component = project.join("dist").join(format!("{name}.wasm"));
            let expected = match world {
                "connector" => World::Connector,
                "classifier" => World::Classifier,
                _ => World::Policy,
            };
            let plugin = rt
                .load(
                    &component,
                    None,
                    Some(expected),
                    plugin_context(&name, &[]),
                    Limits::default(),
                )
                .unwrap_or_else(|e| panic!("loading the {lang} {world}: {e:#}"));
            let message = message(Some("Авария"), "Срочно: нет воды");
            match world {
                "connector" => {
                    let input = okno_hub::model::Inbound {
                        bytes: "Нет воды\nТретий день нет воды.".as_bytes().to_vec(),
                        ..Default::default()
                    };
                    let messages = plugin.decode(input).await.expect("decode");
                    assert_eq!(messages.len(), 1, "{lang}");
                    assert_eq!(messages[0].subject.as_deref(), Some("Нет воды"), "{lang}");
                }
                "classifier" => {
                    let out = plugin
                        .classify(&message, &Classification::default())
                        .await
                        .expect("classify");
                    assert_eq!(out.tags, vec![name.clone()], "{lang}");
                }
                _ => {
                    let mut tagged = Classification::default();
                    tagged.tags.push("urgent".into());
                    let out = plugin.decide(&message, &tagged).await.expect("decide");
                    assert_eq!(out.priority, okno_hub::model::Priority::High, "{lang}");
                    assert!(
                        out.answer_deadline.unwrap() > message.received_at,
                        "{lang}: {out:?}"
                    );
                }
            }
        }
    }
}

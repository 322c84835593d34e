//! The plugin author's tools through the `okno` binary: the README's example built and run
//! exactly as written, `okno plugin new` for each world, `plugin run` chaining and its
//! errors, and `plugin test` on the reference plugins' case folders.
//!
//! Plugin projects made here build with their own target dirs (under the test's temp dir),
//! never waiting on the outer cargo's lock.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use okno_tests::{plugin, workspace};

const OKNO: &str = env!("CARGO_BIN_EXE_okno-under-test");

/// `okno ARGS` in `dir`, with `stdin` fed in; the nested cargo builds go to `target`.
fn okno_in(dir: &Path, target: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut command = Command::new(OKNO);
    command
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("starting okno");
    if let Some(bytes) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(bytes)
            .expect("writing stdin");
    }
    child.wait_with_output().expect("running okno")
}

fn okno(args: &[&str]) -> Output {
    let dir = workspace();
    okno_in(&dir, &std::env::temp_dir(), args, None)
}

fn ok(output: &Output, what: &str) -> String {
    assert!(
        output.status.success(),
        "{what} failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The first fenced block of `lang` after `heading` in README.md.
fn readme_block(heading: &str, lang: &str) -> String {
    let readme = std::fs::read_to_string(workspace().join("README.md")).expect("README.md");
    let section = &readme[readme
        .find(heading)
        .unwrap_or_else(|| panic!("README has {heading:?}"))..];
    let fence = format!("```{lang}\n");
    let start = section
        .find(&fence)
        .unwrap_or_else(|| panic!("a {lang} block under {heading:?}"))
        + fence.len();
    let end = start + section[start..].find("```").expect("the block is closed");
    section[start..end].to_string()
}

/// A directory laid out as the Okno workspace is for a plugin author: a Cargo workspace
/// whose dependencies name `okno-sdk` (this repository's), the `plugin` profile and a
/// `plugins/` folder, so `okno plugin new` adds a member there as it would here.
fn scratch_workspace(root: &Path) {
    let sdk = workspace().join("sdk");
    let manifest = format!(
        r#"[workspace]
resolver = "2"
members = [
    # the plugins
]

[workspace.package]
version = "0.1.0"
edition = "2021"
license = "Apache-2.0"
rust-version = "1.95"

[workspace.dependencies]
okno-sdk = {{ path = {sdk:?} }}

[profile.plugin]
inherits = "release"
strip = true
debug = false
codegen-units = 1
opt-level = 3
panic = "abort"
"#,
        sdk = sdk.display().to_string()
    );
    std::fs::write(root.join("Cargo.toml"), manifest).unwrap();
    std::fs::create_dir_all(root.join("plugins")).unwrap();
}

/// Splits one README command line into words; a `> FILE` at the end is returned apart.
fn words(line: &str) -> (Vec<String>, Option<String>) {
    let line = line.split(" #").next().unwrap_or("").trim();
    let (command, redirect) = match line.split_once('>') {
        Some((c, f)) => (c.trim(), Some(f.trim().to_string())),
        None => (line, None),
    };
    (
        command.split_whitespace().map(String::from).collect(),
        redirect,
    )
}

#[test]
fn the_readme_example_builds_and_runs_as_written() {
    let code = readme_block("## Writing a plugin", "rust");
    let steps = readme_block("## Writing a plugin", "sh");
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("okno");
    std::fs::create_dir_all(&root).unwrap();
    scratch_workspace(&root);
    let target = temp.path().join("target");

    let mut ran = Vec::new();
    for line in steps.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("# ") && trimmed.contains("src/lib.rs") {
            // "# put the code above in plugins/shouting/src/lib.rs"
            let path = trimmed
                .split_whitespace()
                .find(|w| w.ends_with("src/lib.rs"))
                .unwrap();
            std::fs::write(root.join(path), &code).unwrap();
            ran.push("code".to_string());
            continue;
        }
        if !trimmed.starts_with("okno ") {
            continue;
        }
        let (argv, redirect) = words(trimmed);
        let args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
        let output = okno_in(&root, &target, &args, None);
        let stdout = ok(&output, trimmed);
        if let Some(file) = redirect {
            std::fs::write(root.join(file), &stdout).unwrap();
        }
        ran.push(argv[1..3].join(" "));
    }
    assert_eq!(
        ran,
        [
            "plugin new",
            "code",
            "plugin build",
            "plugin example",
            "plugin run"
        ],
        "the README's steps"
    );

    // The plugin is a member of the workspace now, and its component a classifier.
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains("    # the plugins\n    \"plugins/shouting\",\n]"),
        "{manifest}"
    );
    let wasm = root.join("plugins/dist/shouting.wasm");
    let info: serde_json::Value = serde_json::from_str(&ok(
        &okno_in(
            &root,
            &target,
            &["plugin", "inspect", wasm.to_str().unwrap(), "--json"],
            None,
        ),
        "inspect",
    ))
    .unwrap();
    assert_eq!(info["world"], "classifier");

    // The example's body is not all capitals; a shouted one is tagged.
    let shouted = r#"{"channel": "mail", "body": "ПОЧЕМУ НЕТ ВОДЫ"}"#.as_bytes();
    let out: serde_json::Value = serde_json::from_str(&ok(
        &okno_in(
            &root,
            &target,
            &["plugin", "run", wasm.to_str().unwrap(), "--input", "-"],
            Some(shouted),
        ),
        "run on a shouted message",
    ))
    .unwrap();
    assert_eq!(out["tags"], serde_json::json!(["caps"]));
}

/// `okno plugin new` outside any workspace: a standalone project whose own test passes,
/// which `okno plugin build` builds, and whose component the hub loads and runs.
#[test]
fn plugin_new_makes_a_project_per_world_that_tests_builds_and_runs() {
    let temp = tempfile::tempdir().unwrap();
    let native_target = temp.path().join("native-target");
    for (name, world) in [
        ("water-connector", "connector"),
        ("water-tags", "classifier"),
        ("water-deadline", "policy"),
    ] {
        ok(
            &okno_in(
                temp.path(),
                &native_target,
                &["plugin", "new", name, "--world", world],
                None,
            ),
            "plugin new",
        );
        let project = temp.path().join(name);
        for file in [
            "Cargo.toml",
            "src/lib.rs",
            "README.md",
            "wit/worlds.wit",
            "wit/types.wit",
        ] {
            assert!(project.join(file).is_file(), "{name}: {file}");
        }
        let manifest = std::fs::read_to_string(project.join("Cargo.toml")).unwrap();
        assert!(manifest.contains("\n[workspace]\n"), "{manifest}");
        assert!(manifest.contains("okno-sdk = { path = "), "{manifest}");

        // The project's own test, natively.
        let test = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["test", "--release", "--manifest-path"])
            .arg(project.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&native_target)
            .env_remove("CARGO_TARGET_DIR")
            .output()
            .expect("running cargo test");
        let test_out = String::from_utf8_lossy(&test.stdout).into_owned();
        assert!(
            test.status.success() && test_out.contains("test result: ok. 3 passed"),
            "{name}: cargo test\n{test_out}\n{}",
            String::from_utf8_lossy(&test.stderr)
        );

        // Built by `okno plugin build DIR` into the project's dist/, loaded by the hub.
        ok(
            &okno_in(
                temp.path(),
                &native_target,
                &["plugin", "build", project.to_str().unwrap()],
                None,
            ),
            "plugin build",
        );
        let wasm = project.join("dist").join(format!("{name}.wasm"));
        let info: serde_json::Value = serde_json::from_str(&ok(
            &okno(&["plugin", "inspect", wasm.to_str().unwrap(), "--json"]),
            "inspect",
        ))
        .unwrap();
        assert_eq!(info["world"], world, "{name}");

        // The project's cases pass in the sandbox.
        let cases = project.join("cases");
        let tested = ok(
            &okno(&[
                "plugin",
                "test",
                wasm.to_str().unwrap(),
                "--cases",
                cases.to_str().unwrap(),
            ]),
            "plugin test on the project's cases",
        );
        assert!(tested.contains(" 0 failed"), "{name}: {tested}");

        let example = ok(
            &okno(&["plugin", "example", "--world", world]),
            "plugin example",
        );
        let out = match world {
            "connector" => {
                let text = "Нет воды\nТретий день нет воды в доме 5.";
                let decoded: serde_json::Value = serde_json::from_str(&ok(
                    &okno_in(
                        temp.path(),
                        &native_target,
                        &["plugin", "run", wasm.to_str().unwrap(), "--input", "-"],
                        Some(text.as_bytes()),
                    ),
                    "decode",
                ))
                .unwrap();
                assert_eq!(decoded[0]["subject"], "Нет воды");
                assert_eq!(decoded[0]["body"], "Третий день нет воды в доме 5.");
                let encoded = okno_in(
                    temp.path(),
                    &native_target,
                    &[
                        "plugin",
                        "run",
                        wasm.to_str().unwrap(),
                        "--encode",
                        "--input",
                        "-",
                    ],
                    Some(example.as_bytes()),
                );
                serde_json::from_str::<serde_json::Value>(&ok(&encoded, "encode")).unwrap()
            }
            _ => {
                let input = example.replace("Третий день", "СРОЧНО! Третий день");
                let mut args = vec!["plugin", "run", wasm.to_str().unwrap(), "--input", "-"];
                if world == "policy" {
                    args.extend(["--config", "days=3"]);
                }
                let out = okno_in(temp.path(), &native_target, &args, Some(input.as_bytes()));
                serde_json::from_str::<serde_json::Value>(&ok(&out, "run")).unwrap()
            }
        };
        match world {
            "connector" => assert_eq!(
                out["bytes"],
                "01JNQ6M3Z8P4R2T6V8X0A2C4E6 high Нет холодной воды\n"
            ),
            "classifier" => assert_eq!(out["tags"], serde_json::json!(["water-tags"])),
            _ => {
                assert_eq!(out["priority"], "normal");
                assert_eq!(out["reasons"], serde_json::json!(["3 working days"]));
            }
        }
    }
}

#[test]
fn plugin_run_chains_and_names_what_is_wrong() {
    let eml =
        workspace().join("examples/minprom/traffic/mail/01-scrap-metal-licence-cp1251-base64.eml");
    let mail = plugin("mail");
    let keywords = plugin("keywords");
    let priority = plugin("priority");
    let root = workspace();
    let target = std::env::temp_dir();
    let run = |wasm: &PathBuf, args: &[&str], stdin: Option<&[u8]>| {
        let mut all = vec!["plugin", "run", wasm.to_str().unwrap()];
        all.extend(args);
        okno_in(&root, &target, &all, stdin)
    };
    let words = "rules.scrap.words=лом, металлолом";
    let tags = "rules.scrap.tags=licensing, scrap-metal";

    // decode → classify → decide, each printing what the next one reads.
    let decoded = ok(
        &run(
            &mail,
            &["--input", eml.to_str().unwrap(), "--envelope"],
            None,
        ),
        "mail decode",
    );
    let classified = ok(
        &run(
            &keywords,
            &[
                "--input",
                "-",
                "--envelope",
                "--config",
                words,
                "--config",
                tags,
            ],
            Some(decoded.as_bytes()),
        ),
        "keywords on the decoded mail",
    );
    let classified_json: serde_json::Value = serde_json::from_str(&classified).unwrap();
    assert_eq!(
        classified_json[0]["classification"]["tags"],
        serde_json::json!(["licensing", "scrap-metal"]),
        "{classified}"
    );
    let decided: serde_json::Value = serde_json::from_str(&ok(
        &run(&priority, &["--input", "-"], Some(classified.as_bytes())),
        "priority on the classified mail",
    ))
    .unwrap();
    let decisions = decided.as_array().expect("one decision per message");
    assert_eq!(decisions.len(), 1);
    assert!(decisions[0]["priority"].is_string(), "{decided}");

    // The connector's plain output (an array of messages) is a classifier's input too;
    // --index picks one and prints its result alone.
    let messages = ok(
        &run(&mail, &["--input", eml.to_str().unwrap()], None),
        "decode",
    );
    let one: serde_json::Value = serde_json::from_str(&ok(
        &run(
            &keywords,
            &[
                "--input", "-", "--index", "0", "--config", words, "--config", tags,
            ],
            Some(messages.as_bytes()),
        ),
        "--index 0",
    ))
    .unwrap();
    assert!(one.is_object() && one["tags"].is_array(), "{one}");
    let out = run(
        &keywords,
        &["--input", "-", "--index", "3"],
        Some(messages.as_bytes()),
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("--index 3: - has 1 message(s)"),
        "{}",
        stderr(&out)
    );

    // A classification is not a message: the error says how to chain.
    let classification = ok(
        &run(
            &keywords,
            &["--input", "-", "--index", "0"],
            Some(messages.as_bytes()),
        ),
        "classify",
    );
    let out = run(
        &priority,
        &["--input", "-"],
        Some(classification.as_bytes()),
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--envelope"), "{}", stderr(&out));

    // A wrong or missing field is named by its JSON path.
    let out = run(
        &keywords,
        &["--input", "-"],
        Some(
            br#"[{"channel": "mail", "body": "a"}, {"message": {"channel": "fax", "body": "b"}}]"#,
        ),
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("-: [1].message.channel: unknown variant `fax`"),
        "{}",
        stderr(&out)
    );
    let out = run(
        &keywords,
        &["--input", "-"],
        Some(br#"{"body": "no channel"}"#),
    );
    assert!(
        stderr(&out).contains("missing field `channel`"),
        "{}",
        stderr(&out)
    );

    // Every world's example is a complete input the reference plugins take.
    for (wasm, world) in [
        (&keywords, "classifier"),
        (&priority, "policy"),
        (&mail, "connector"),
    ] {
        let example = ok(&okno(&["plugin", "example", "--world", world]), "example");
        let mut args = vec!["--input", "-"];
        if world == "connector" {
            // The mail connector's replies need a sender address.
            args.extend(["--encode", "--config", "from=priemnaya@minprom.example.ru"]);
        }
        ok(&run(wasm, &args, Some(example.as_bytes())), world);
    }
}

#[test]
fn plugin_test_passes_on_the_reference_cases_and_shows_a_difference() {
    for name in ["mail", "keywords", "priority", "sog"] {
        let cases = workspace().join("plugins").join(name).join("cases");
        let wasm = plugin(name);
        let output = okno(&[
            "plugin",
            "test",
            wasm.to_str().unwrap(),
            "--cases",
            cases.to_str().unwrap(),
        ]);
        let stdout = ok(&output, &format!("plugin test {name}"));
        assert!(stdout.contains(" 0 failed"), "{name}: {stdout}");
        assert!(!stdout.contains("FAIL"), "{name}: {stdout}");
    }

    // A changed expected file fails, naming the path that differs.
    let temp = tempfile::tempdir().unwrap();
    let source = workspace().join("plugins/keywords/cases");
    for entry in std::fs::read_dir(&source).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, temp.path().join(path.file_name().unwrap())).unwrap();
    }
    let expected = std::fs::read_dir(temp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".expected.json"))
        .min()
        .expect("an expected file");
    let mut value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&expected).unwrap()).unwrap();
    let at = {
        let tags = value["tags"]
            .as_array_mut()
            .expect("a classification with tags");
        tags.push("not-a-tag".into());
        tags.len() - 1
    };
    std::fs::write(&expected, serde_json::to_vec_pretty(&value).unwrap()).unwrap();
    let output = okno(&[
        "plugin",
        "test",
        plugin("keywords").to_str().unwrap(),
        "--cases",
        temp.path().to_str().unwrap(),
    ]);
    assert!(!output.status.success(), "a difference fails the run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("FAIL")
            && stdout.contains(&format!("tags[{at}]: expected \"not-a-tag\", missing")),
        "{stdout}"
    );
    assert!(
        stderr(&output).contains("1 case(s) differ"),
        "{}",
        stderr(&output)
    );
}

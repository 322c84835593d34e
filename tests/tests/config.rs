//! Config errors name the file, line and column, and what to do.

use okno_hub::config::Config;
use okno_tests::hub_config::config_error;
use okno_tests::*;

// The configs here are written out in full, not with `hub_config`'s helpers: the errors
// they check name lines and columns of this very text.

#[test]
fn config_errors_are_located() {
    let dir = tempfile::tempdir().unwrap();
    let mail = plugin("mail");
    let good_plugin = format!(
        "[[plugins]]\nname = \"mail\"\nkind = \"connector\"\nfile = \"{}\"\nsha256 = \"{}\"\n",
        mail.display(),
        sha256_of(&mail)
    );

    let e = config_error(dir.path(), "[hub]\nlisten = 5\n");
    assert!(e.contains("okno.toml:2:10"), "{e}");

    let e = config_error(dir.path(), &format!("{good_plugin}\n[[sources]]\nname = \"mail\"\ntransport = \"http\"\nconnector = \"nope\"\n"));
    assert!(
        e.contains("okno.toml:10:13") && e.contains("\"nope\" is not a defined plugin"),
        "{e}"
    );

    let e = config_error(
        dir.path(),
        &format!("{good_plugin}\n[[sources]]\nname = \"mail\"\ntransport = \"http\"\nconnector = \"mail\"\n\n[[routes]]\nname = \"r\"\nsinks = [\"missing\"]\n"),
    );
    assert!(
        e.contains("okno.toml:14:10") && e.contains("sink \"missing\", which is not defined"),
        "{e}"
    );

    let e = config_error(dir.path(), "[[plugins]]\nname = \"x\"\nkind = \"connector\"\nfile = \"nowhere.wasm\"\nsha256 = \"abc\"\n");
    assert!(
        e.contains("okno.toml:5:10") && e.contains("64 hex digits"),
        "{e}"
    );
    assert!(
        e.contains("okno.toml:4:8") && e.contains("does not exist"),
        "{e}"
    );

    let sink = "[[sinks]]\nname = \"s\"\ntransport = \"http\"\nurl = \"http://127.0.0.1:1/\"\nconnector = \"mail\"\n";
    let e = config_error(
        dir.path(),
        &format!("{good_plugin}\n{sink}\n[[routes]]\nname = \"all\"\nfinal = true\nsinks = [\"s\"]\n\n[[routes]]\nname = \"never\"\nmatch = {{ channel = [\"mail\"] }}\nsinks = [\"s\"]\n"),
    );
    assert!(e.contains("route \"never\" is unreachable"), "{e}");

    let e = config_error(dir.path(), &format!("{good_plugin}\n{sink}\n[[routes]]\nname = \"bad\"\nmatch = {{ topic_prefix = [\"5.5\"] }}\nsinks = [\"s\"]\n"));
    assert!(e.contains("topic_prefix \"5.5\""), "{e}");

    let e = config_error(dir.path(), &format!("{good_plugin}\n{sink}\n[[routes]]\nname = \"bad\"\nmatch = {{ chanel = [\"mail\"] }}\nsinks = [\"s\"]\n"));
    assert!(e.contains("unknown field `chanel`"), "{e}");
}

#[test]
fn the_example_config_is_valid_and_its_pins_match_a_fresh_build() {
    // The demo's config pins sha256 of plugins/dist/*.wasm: a reproducible build must give
    // the same bytes here as where the pins were written. The fresh builds are laid out as
    // the config expects, beside a copy of it, without touching the working tree.
    let built = plugins();
    let dir = tempfile::tempdir().unwrap();
    let dist = dir.path().join("plugins").join("dist");
    std::fs::create_dir_all(&dist).unwrap();
    for (name, path) in built {
        std::fs::copy(path, dist.join(format!("{name}.wasm"))).unwrap();
    }
    std::fs::create_dir_all(dir.path().join("examples")).unwrap();
    let config_path = dir.path().join("examples").join("okno.toml");
    std::fs::copy(workspace().join("examples").join("okno.toml"), &config_path).unwrap();
    let config = Config::load(&config_path).unwrap_or_else(|e| {
        panic!(
            "{e}\n(after changing a plugin: `okno plugin build plugins --pin examples/okno.toml`)"
        )
    });
    assert!(!config.plugins.is_empty());
    for p in &config.plugins {
        let file = config.plugin_path(p);
        assert_eq!(
            &sha256_of(&file),
            p.sha256.get_ref(),
            "examples/okno.toml pins {}; rebuild with `okno plugin build plugins --pin examples/okno.toml`",
            file.display()
        );
    }
}

#[test]
fn limits_out_of_range_are_refused_at_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let mail = plugin("mail");
    let text = format!(
        "[hub]\nqueue_capacity = 0\nworkers = 0\nplugin_memory_mib = 5000\n\n[[plugins]]\nname = \"mail\"\nkind = \"connector\"\nfile = \"{}\"\nsha256 = \"{}\"\nmemory_mib = 70000000000000\n\n[[sinks]]\nname = \"s\"\ntransport = \"http\"\nurl = \"http://127.0.0.1:1/\"\nconnector = \"mail\"\nconcurrency = 0\nbackoff_ms = 500\nmax_backoff_ms = 100\n",
        mail.display(),
        sha256_of(&mail)
    );
    let e = config_error(dir.path(), &text);
    for (at, what) in [
        ("okno.toml:2:18", "hub.queue_capacity = 0 is out of range"),
        ("okno.toml:3:11", "hub.workers = 0 is out of range"),
        (
            "okno.toml:4:21",
            "hub.plugin_memory_mib = 5000 is out of range",
        ),
        (
            "okno.toml:11:14",
            "plugins.memory_mib = 70000000000000 is out of range",
        ),
        ("okno.toml:18:15", "sinks.concurrency = 0 is out of range"),
        (
            "okno.toml:20:18",
            "max_backoff_ms = 100 is below backoff_ms = 500",
        ),
    ] {
        assert!(
            e.lines().any(|l| l.contains(at) && l.contains(what)),
            "expected {at}: {what} in\n{e}"
        );
    }
}

#[test]
fn an_http_answer_bound_must_fit_the_plugin_memory() {
    let dir = tempfile::tempdir().unwrap();
    let epgu = plugin("epgu");
    let entry = |extra: &str| {
        format!(
            "[[plugins]]\nname = \"epgu\"\nkind = \"poller\"\nfile = \"{}\"\nsha256 = \"{}\"\n{extra}\n",
            epgu.display(),
            sha256_of(&epgu)
        )
    };
    // 50 MiB answers into the default 64 MiB memory: refused, naming the memory that would do.
    let e = config_error(dir.path(), &entry("http_max_response_bytes = 52428800"));
    assert!(
        e.contains("okno.toml:6:27")
            && e.contains(
                "http_max_response_bytes = 52428800 does not fit the plugin's memory of 64 MiB"
            )
            && e.contains("set memory_mib = 100 or more"),
        "{e}"
    );
    let e = config_error(dir.path(), &entry("http_max_response_bytes = 0"));
    assert!(
        e.contains("plugins.http_max_response_bytes = 0 is out of range"),
        "{e}"
    );
    // With the memory to match, the bound is the plugin's grant.
    let path = dir.path().join("okno.toml");
    std::fs::write(
        &path,
        entry("http_max_response_bytes = 52428800\nmemory_mib = 100"),
    )
    .unwrap();
    let config = Config::load(&path).expect("a bound that fits is accepted");
    assert_eq!(
        config.plugins[0].http_grant().max_response_bytes,
        52_428_800
    );
}

//! The site's e-reception form end to end: JSON and urlencoded forms through the hub's
//! source route, every missing or invalid field named in one 422 (in Russian and in
//! English) with nothing stored, and the same through `okno plugin run`.

use std::path::PathBuf;
use std::process::Command;

use okno_tests::connector_hub::ConnectorHub;
use serde_json::{json, Value};

fn built(name: &str) -> PathBuf {
    okno_tests::reference_plugin("site", &["site", "http-json", "priority"], name)
}

fn form() -> Value {
    json!({
        "id": "2026-11-26-0042",
        "surname": "Петрова", "name": "Анна", "patronymic": "Сергеевна",
        "email": "a.petrova@example.ru", "phone": "+7 (912) 345-67-89",
        "subject": "Нет отопления",
        "text": "Третьи сутки нет отопления в доме по ул. Ленина, 5. Прошу принять меры.",
        "consent": true,
        "attachments": [{"name": "акт.pdf", "media_type": "application/pdf", "content": "JVBERi0xLjQK"}]
    })
}

/// The fields a 422 names, as (field, problem); each has its Russian and English text.
fn fields(body: &Value) -> Vec<(String, String)> {
    assert_eq!(body["error"]["code"], "invalid_fields", "{body}");
    body["error"]["details"]["fields"]
        .as_array()
        .unwrap_or_else(|| panic!("no field list: {body}"))
        .iter()
        .map(|f| {
            assert!(f["ru"].as_str().is_some_and(|t| !t.is_empty()), "{f}");
            assert!(f["en"].as_str().is_some_and(|t| !t.is_empty()), "{f}");
            (
                f["field"].as_str().unwrap().into(),
                f["problem"].as_str().unwrap().into(),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(f, p)| (f.to_string(), p.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_through_the_hub() {
    let dir = tempfile::tempdir().unwrap();
    let hub = ConnectorHub::start(dir.path(), "site", "site", built, "").await;

    let (status, body) = hub
        .post("application/json", form().to_string().into_bytes())
        .await;
    assert_eq!(status, 202, "{body}");
    let id = body["ids"][0].as_str().unwrap();
    let message = hub.hub.store.get(id).unwrap().unwrap().message;
    assert_eq!(
        message.client.name.as_deref(),
        Some("Петрова Анна Сергеевна")
    );
    assert_eq!(message.attachments.len(), 1);
    assert_eq!(
        message.idempotency_key.as_deref(),
        Some("site:2026-11-26-0042")
    );
    // The site sends it again (a double click): the same appeal.
    let (status, body) = hub
        .post("application/json", form().to_string().into_bytes())
        .await;
    assert_eq!((status, body["ids"][0].as_str()), (200, Some(id)));

    let urlencoded = "surname=%D0%98%D0%B2%D0%B0%D0%BD%D0%BE%D0%B2&name=%D0%9F%D1%91%D1%82%D1%80&postal_address=170100%2C+%D0%A2%D0%B2%D0%B5%D1%80%D1%8C&text=%D0%9F%D1%80%D0%BE%D1%88%D1%83+%D1%80%D0%B0%D0%B7%D1%8A%D1%8F%D1%81%D0%BD%D0%B8%D1%82%D1%8C&consent=on&submit=%D0%9E%D1%82%D0%BF%D1%80%D0%B0%D0%B2%D0%B8%D1%82%D1%8C";
    let (status, body) = hub
        .post("application/x-www-form-urlencoded", urlencoded.into())
        .await;
    assert_eq!(status, 202, "{body}");
    let message = hub
        .hub
        .store
        .get(body["ids"][0].as_str().unwrap())
        .unwrap()
        .unwrap()
        .message;
    assert_eq!(message.client.name.as_deref(), Some("Иванов Пётр"));
    assert_eq!(message.body, "Прошу разъяснить");

    // Refusals: one 422 naming every field, nothing stored.
    let stored = hub.hub.store.message_count();
    let (status, body) = hub.post("application/json", b"{}".to_vec()).await;
    assert_eq!(status, 422);
    assert_eq!(
        fields(&body),
        pairs(&[
            ("surname", "missing"),
            ("name", "missing"),
            ("email", "missing"),
            ("text", "missing"),
            ("consent", "missing")
        ])
    );
    let (status, body) = hub
        .post(
            "application/x-www-form-urlencoded",
            b"captcha=03AF".to_vec(),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(fields(&body).len(), 5);
    let mut no_consent = form();
    no_consent.as_object_mut().unwrap().remove("consent");
    let (status, body) = hub
        .post("application/json", no_consent.to_string().into_bytes())
        .await;
    assert_eq!(status, 422);
    assert_eq!(fields(&body), pairs(&[("consent", "missing")]));
    let mut bad = form();
    bad["email"] = "a.petrova-at-example.ru".into();
    bad["phone"] = "12-34".into();
    bad["attachments"][0]["media_type"] = "application/x-msdownload".into();
    let (status, body) = hub
        .post("application/json", bad.to_string().into_bytes())
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        fields(&body),
        pairs(&[
            ("email", "invalid"),
            ("phone", "invalid"),
            ("attachments[0].media_type", "invalid")
        ])
    );
    // Not a form at all: a plain decode error.
    let (status, body) = hub
        .post("application/json", b"{\"surname\": ".to_vec())
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("decode_failed"))
    );
    assert_eq!(hub.hub.store.message_count(), stored);
}

#[test]
fn plugin_run_names_the_missing_fields() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("form.json");
    std::fs::write(&input, r#"{"surname": "Петрова", "text": "Нет воды"}"#).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_okno-under-test"))
        .args(["plugin", "run"])
        .arg(built("site"))
        .arg("--input")
        .arg(&input)
        .args(["--content-type", "application/json"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    // The error's text is the JSON the hub reads; the CLI may print it escaped.
    let stderr = String::from_utf8_lossy(&out.stderr).replace('\\', "");
    for field in ["name", "email", "consent"] {
        assert!(
            stderr.contains(&format!("\"field\":\"{field}\"")),
            "{field}: {stderr}"
        );
    }
    assert!(!stderr.contains("\"field\":\"surname\""), "{stderr}");
    std::fs::write(&input, form().to_string()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_okno-under-test"))
        .args(["plugin", "run"])
        .arg(built("site"))
        .arg("--input")
        .arg(&input)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let messages: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(messages[0]["channel"], "site");
}

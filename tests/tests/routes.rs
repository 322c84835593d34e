//! Conditional routes end to end: real mails through the real plugins, routed by tag,
//! priority, `final` and `default` to separate sinks; and `okno route explain` on a
//! message with a given topic.

use std::time::Duration;

use okno_hub::cli::serve;
use okno_tests::*;

const LIMIT: Duration = Duration::from_secs(60);

fn sink(name: &str, port: u16) -> String {
    format!(
        "[[sinks]]\nname = \"{name}\"\ntransport = \"http\"\nurl = \"{}\"\nconnector = \"http-json\"\nmax_attempts = 3\nbackoff_ms = 50\nmax_backoff_ms = 200\n\n",
        Sink::url(port, name)
    )
}

/// Heating appeals go to the heating desk and nowhere else (`final`); high-priority
/// appeals to the urgent desk; whatever matched no route to the default.
fn routes() -> &'static str {
    "[[routes]]\nname = \"heating\"\nmatch = { tag = [\"heating\"] }\nsinks = [\"heating-desk\"]\nfinal = true\n\n\
     [[routes]]\nname = \"urgent\"\nmatch = { priority_at_least = \"high\" }\nsinks = [\"urgent-desk\"]\n\n\
     [[routes]]\nname = \"rest\"\ndefault = true\nsinks = [\"registry\"]\n"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_priority_final_and_default_decide_where_a_mail_goes() {
    let dir = tempfile::tempdir().unwrap();
    let (heating_port, urgent_port, registry_port) = (free_port(), free_port(), free_port());
    let heating = Sink::start(heating_port).await;
    let urgent = Sink::start(urgent_port).await;
    let registry = Sink::start(registry_port).await;
    let listen = format!("127.0.0.1:{}", free_port());
    let sinks = format!(
        "{}{}{}{}",
        sink("heating-desk", heating_port),
        sink("urgent-desk", urgent_port),
        sink("registry", registry_port),
        routes()
    );
    let config = write_config(dir.path(), &listen, &sinks, &[]);
    let (hub, addr) = serve::start(config, Default::default()).await.unwrap();
    let addr = addr.to_string();

    let send = |id: &'static str, subject: &'static str, body: &'static str| {
        let addr = addr.clone();
        async move {
            let (status, body) = post_mail(&addr, mail(id, subject, body)).await;
            assert_eq!(status, 202, "{body}");
            body["ids"][0].as_str().unwrap().to_string()
        }
    };
    let heating_complaint = send(
        "route-heating@example.ru",
        "Жалоба: нет отопления",
        "Жалуюсь на управляющую компанию: третью неделю нет отопления, батареи холодные. Требую принять меры и наказать виновных.",
    )
    .await;
    let complaint = send(
        "route-complaint@example.ru",
        "Жалоба на хамство",
        "Жалуюсь на грубость сотрудника в приёмной: нагрубил, отказался принять документы. Требую разобраться и наказать.",
    )
    .await;
    let thanks = send(
        "route-thanks@example.ru",
        "Благодарность",
        "Выражаю благодарность социальному работнику Марии за внимание и заботу о моей маме. Спасибо!",
    )
    .await;

    let all = [&heating_complaint, &complaint, &thanks];
    eventually("every appeal reaches a final state", LIMIT, || {
        all.iter().all(|id| {
            hub.store
                .get(id)
                .ok()
                .flatten()
                .is_some_and(|r| r.state.is_finished())
        })
    })
    .await;
    let decided = |id: &str| {
        let r = hub.store.get(id).unwrap().unwrap();
        format!(
            "{id}: tags {:?}, priority {:?}",
            r.classification.map(|c| c.tags),
            r.decision.map(|d| d.priority)
        )
    };
    // The heating rule is final: the complaint about heating stops there.
    assert_eq!(
        heating.keys(),
        vec![heating_complaint.clone()],
        "{}",
        decided(&heating_complaint)
    );
    // A complaint is high priority: the urgent desk, and not the default.
    assert_eq!(
        urgent.keys(),
        vec![complaint.clone()],
        "{}",
        decided(&complaint)
    );
    // Thanks matched no route: the default takes it, and only it.
    assert_eq!(
        registry.keys(),
        vec![thanks.clone()],
        "{}",
        decided(&thanks)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_explain_gives_each_routes_verdict_for_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (free_port(), free_port());
    let sinks = format!(
        "{}{}[[routes]]\nname = \"housing\"\nmatch = {{ topic_prefix = [\"0005.0005\"], priority_at_least = \"high\" }}\nsinks = [\"housing-desk\"]\n\n[[routes]]\nname = \"fallback\"\ndefault = true\nsinks = [\"registry\"]\n",
        sink("housing-desk", a),
        sink("registry", b)
    );
    let config = write_config(dir.path(), "127.0.0.1:1", &sinks, &[]);
    let message = serde_json::json!({
        "message": {
            "id": "m1", "channel": "mail", "source": "mail", "received_at": 1764400000000i64,
            "body": "Течёт крыша", "client": {"kind": "citizen", "contacts": [], "segments": []},
            "attachments": [], "metadata": []
        },
        "classification": {
            "topic": {"best": {"code": "0005.0005.0056.1161", "name": "x", "confidence": 0.9},
                      "alternatives": [], "low_confidence": false, "reasons": []},
            "tags": [], "pii": []
        },
        "decision": {"priority": "normal", "route_tags": [], "reasons": []}
    });
    let path = dir.path().join("message.json");
    let explain = |message: &serde_json::Value| {
        std::fs::write(&path, serde_json::to_vec(message).unwrap()).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_okno-under-test"))
            .args(["route", "explain", "--config"])
            .arg(&config)
            .arg("--message")
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    // Normal priority: the housing route fails on priority alone, the default takes it.
    let said = explain(&message);
    assert!(
        said.contains("housing") && said.contains("fallback"),
        "{said}"
    );
    assert!(said.to_lowercase().contains("priority"), "{said}");
    let mut high = message.clone();
    high["decision"]["priority"] = "high".into();
    let said_high = explain(&high);
    assert_ne!(said, said_high, "the verdict must change with the priority");
    assert!(said_high.contains("housing-desk"), "{said_high}");
}

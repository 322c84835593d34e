//! Events of the systems of record drive the appeal's state machine, end to end through
//! the real connectors: an appeal by e-mail goes to the simulated EDMS as a МЭДО packet,
//! and the EDMS's registration, assignment and report notifications come back through
//! the hub's `edms` source and move the appeal (registered → assigned → in-work →
//! report-submitted → rejected → … → answered); one the state machine refuses is traced,
//! not applied. SOG's cards (over HTTP, in SOG's format) register, start and forward an
//! appeal, linked first by the hub's id and then by SOG's own card uid; the ССТУ export
//! then names where it went.

use std::path::{Path, PathBuf};
use std::time::Duration;

use okno_hub::cli::serve;
use okno_hub::pipeline::Hub;
use okno_hub::sla::AppealState;
use okno_tests::connector_hub::post_source;
use okno_tests::hub_config::{self, http_sink, plugin_entry};
use okno_tests::simulators::{assigning_edms, edms_behind_gateway, EDMS_CONNECTOR_SETTINGS};
use okno_tests::*;
use serde_json::{json, Value};

const LIMIT: Duration = Duration::from_secs(60);

/// The plugins these tests run, built for wasm32-wasip2 once per test binary.
fn built(name: &str) -> PathBuf {
    okno_tests::reference_plugin(
        "sla_events",
        &["edms", "sog", "mail", "http-json", "priority"],
        name,
    )
}

fn entry(name: &str, kind: &str, settings: &str) -> String {
    plugin_entry(
        name,
        kind,
        &built(name),
        &format!("cpu_ms = 500\n{settings}"),
    )
}

/// The hub: mail, edms and sog sources; appeals by e-mail to `appeal_sink`; every
/// event to the registry; one department owning the mail channel.
fn config(dir: &Path, listen: &str, sinks_and_routes: &str) -> PathBuf {
    let text = format!(
        "[hub]\nlisten = \"{listen}\"\ndata_dir = \"{}\"\nworkers = 2\nutc_offset_minutes = 300\n\n{}{}{}{}{}\
         [[sources]]\nname = \"mail\"\ntransport = \"http\"\nconnector = \"mail\"\n\n\
         [[sources]]\nname = \"edms\"\ntransport = \"http\"\nconnector = \"edms\"\n\n\
         [[sources]]\nname = \"sog\"\ntransport = \"http\"\nconnector = \"sog\"\n\n\
         [pipeline]\nclassifiers = []\npolicy = \"priority\"\n\n\
         {sinks_and_routes}\n\
         [sla.sstu]\norgan = \"Министерство промышленности и науки\"\n\n\
         [[departments]]\nid = \"science\"\nname = \"Отдел науки\"\nhead = \"ivanov\"\ndeputies = [\"petrova\"]\nchannels = [\"mail\"]\n",
        dir.join("data").display(),
        entry("mail", "connector", ""),
        entry("http-json", "connector", ""),
        entry("priority", "policy", ""),
        entry("edms", "connector", EDMS_CONNECTOR_SETTINGS),
        entry("sog", "connector", "[plugins.settings]\n\"department.НАУКА-1\" = \"science\"\n"),
    );
    let path = dir.join("okno.toml");
    std::fs::write(&path, text).unwrap();
    issue_tokens(&dir.join("data"), listen);
    path
}

fn source_token(data: &Path, source: &str) -> String {
    hub_config::source_token(data, &format!("{source}-system"), source)
}

fn state(hub: &Hub, id: &str) -> Option<AppealState> {
    hub.sla.get(id).ok().flatten().map(|a| a.state)
}

/// The trace entries of stage `sla` of a message, as text.
fn sla_trace(hub: &Hub, id: &str) -> Vec<String> {
    hub.store
        .get(id)
        .unwrap()
        .unwrap()
        .trace
        .iter()
        .filter(|t| t.stage == "sla")
        .flat_map(|t| t.reasons.clone())
        .collect()
}

/// A day `days` from now, `YYYY-MM-DD` in Yekaterinburg.
fn day_from_now(days: i64) -> String {
    okno_hub::sla::format_local(okno_hub::sla::now_millis() + days * 86_400_000, 300)[..10]
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edms_notifications_move_the_appeal_through_the_state_machine() {
    let dir = tempfile::tempdir().unwrap();
    let edms = edms_behind_gateway(dir.path(), assigning_edms()).await;
    let simulator = &edms.simulator;
    let registry_port = free_port();
    let registry = Sink::start(registry_port).await;
    let listen = format!("127.0.0.1:{}", free_port());
    let routes = format!(
        "{}{}\
         [[routes]]\nname = \"appeals-to-edms\"\nmatch = {{ channel = [\"mail\"] }}\nsinks = [\"edms-out\"]\n\n\
         [[routes]]\nname = \"events\"\nmatch = {{ channel = [\"edms\", \"sog\"] }}\nsinks = [\"registry\"]\n",
        http_sink("edms-out", &edms.gateway_url, "edms"),
        http_sink("registry", &Sink::url(registry_port, "registry"), "http-json"),
    );
    let config = config(dir.path(), &listen, &routes);
    let token = source_token(&dir.path().join("data"), "edms");
    let (hub, addr) = serve::start(config, Default::default()).await.unwrap();
    let addr = addr.to_string();

    let (status, body) = post_mail(
        &addr,
        mail(
            "events-edms@example.ru",
            "Грант на исследование",
            "Прошу разъяснить порядок подачи заявки на региональный грант для научной лаборатории.",
        ),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let appeal = body["ids"][0].as_str().unwrap().to_string();
    eventually("the appeal is watched", LIMIT, || {
        state(&hub, &appeal) == Some(AppealState::Received)
    })
    .await;

    // The EDMS's receipt, «Зарегистрирован» and «Назначен исполнитель», one at a time,
    // each applied before the next arrives.
    eventually("the EDMS answers the packet", LIMIT, || {
        simulator.written().len() >= 3
    })
    .await;
    let reg_number = simulator.registered()[0]
        .reg_number
        .clone()
        .expect("registered");
    let expect = [
        AppealState::Received,
        AppealState::Registered,
        AppealState::Assigned,
    ];
    let mut events = Vec::new();
    for (packet, after) in simulator.written().into_iter().zip(expect) {
        let (status, body) = post_source(
            &addr,
            "edms",
            &token,
            "application/zip",
            std::fs::read(&packet).unwrap(),
        )
        .await;
        assert_eq!(status, 202, "{body}");
        let event = body["ids"][0].as_str().unwrap().to_string();
        eventually("the event is applied", LIMIT, || {
            hub.store
                .get(&event)
                .ok()
                .flatten()
                .is_some_and(|r| r.trace.iter().any(|t| t.stage == "sla"))
        })
        .await;
        assert_eq!(state(&hub, &appeal), Some(after), "after event {event}");
        events.push(event);
    }
    let watched = hub.sla.get(&appeal).unwrap().unwrap();
    assert_eq!(watched.executor.as_deref(), Some("Сидоров И. И."));
    assert_eq!(watched.controller.as_deref(), Some("Петрова А. А."));
    assert!(watched.registered_at.is_some());
    // The events are not appeals of their own, and say what they did.
    assert!(hub.sla.get(&events[1]).unwrap().is_none());
    assert!(
        sla_trace(&hub, &events[2])
            .iter()
            .any(|r| r.contains("registered → assigned")),
        "{:?}",
        sla_trace(&hub, &events[2])
    );

    // The report cycle, linked by the hub's id in the packets: submitted (from
    // `assigned`, so in-work is implied), rejected with a reason and a new deadline,
    // submitted again, accepted.
    let new_deadline = day_from_now(15);
    let cycle = [
        (
            simulator.submit_report(&reg_number).unwrap(),
            AppealState::ReportSubmitted,
        ),
        (
            simulator
                .reject_report(&reg_number, "Нет ответа по существу", &new_deadline)
                .unwrap(),
            AppealState::InWork,
        ),
        (
            simulator.submit_report(&reg_number).unwrap(),
            AppealState::ReportSubmitted,
        ),
        (
            simulator.accept_report(&reg_number).unwrap(),
            AppealState::Answered,
        ),
    ];
    for (packet, after) in cycle {
        let (status, body) = post_source(
            &addr,
            "edms",
            &token,
            "application/zip",
            std::fs::read(&packet).unwrap(),
        )
        .await;
        assert_eq!(status, 202, "{body}");
        eventually(&format!("the appeal is {}", after.as_str()), LIMIT, || {
            state(&hub, &appeal) == Some(after)
        })
        .await;
    }
    let watched = hub.sla.get(&appeal).unwrap().unwrap();
    let path: Vec<&str> = watched.history.iter().map(|t| t.to.as_str()).collect();
    assert_eq!(
        path,
        [
            "registered",
            "assigned",
            "in-work",
            "report-submitted",
            "in-work",
            "report-submitted",
            "answered"
        ]
    );
    assert!(watched
        .history
        .iter()
        .all(|t| t.by.starts_with("edms event ")));
    assert_eq!(
        watched.history[4].reason.as_deref(),
        Some("Нет ответа по существу")
    );
    let deadline = watched.history[4].answer_deadline.expect("a new deadline");
    assert_eq!(
        okno_hub::sla::format_local(deadline, 300)[..10],
        new_deadline
    );
    assert!(watched.answered_at.is_some());

    // A rejection after the answer: the state machine refuses it; the appeal stays
    // answered and both traces say why.
    let late = simulator
        .reject_report(&reg_number, "Ещё раз", &day_from_now(20))
        .unwrap();
    let (status, body) = post_source(
        &addr,
        "edms",
        &token,
        "application/zip",
        std::fs::read(&late).unwrap(),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let refused = body["ids"][0].as_str().unwrap().to_string();
    eventually("the refused event is traced", LIMIT, || {
        sla_trace(&hub, &appeal)
            .iter()
            .any(|r| r.contains("refused by the state machine"))
    })
    .await;
    assert_eq!(state(&hub, &appeal), Some(AppealState::Answered));
    assert!(
        sla_trace(&hub, &refused)
            .iter()
            .any(|r| r.contains("cannot go from answered to in-work")),
        "{:?}",
        sla_trace(&hub, &refused)
    );
    assert_eq!(hub.sla.get(&appeal).unwrap().unwrap().history.len(), 7);
    eventually("the events reach their route", LIMIT, || {
        registry.keys().len() >= 8
    })
    .await;
}

/// A SOG card for the appeal `external_id` (or, without it, known by its uid alone).
fn card(revision: u32, external_id: Option<&str>, status: &str) -> Vec<u8> {
    let mut card: Value =
        serde_json::from_slice(&sample("tests/data/sog/card-forwarded.json")).unwrap();
    let obj = card.as_object_mut().unwrap();
    obj.insert("uid".into(), json!("sog-events-0001"));
    obj.insert("revision".into(), json!(revision));
    obj.remove("repeat_of");
    obj.remove("sender_body");
    obj.insert("channel".into(), json!("email"));
    if let Some(id) = external_id {
        obj.insert("external_id".into(), json!(id));
    }
    obj.insert("status".into(), json!(status));
    if status != "forwarded" {
        obj.remove("forwarding");
        obj.remove("status_name");
    }
    serde_json::to_vec(&card).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sog_cards_register_start_and_forward_the_appeal() {
    let dir = tempfile::tempdir().unwrap();
    let registry_port = free_port();
    let _registry = Sink::start(registry_port).await;
    let listen = format!("127.0.0.1:{}", free_port());
    let routes = format!(
        "{}[[routes]]\nname = \"all\"\nsinks = [\"registry\"]\n",
        http_sink(
            "registry",
            &Sink::url(registry_port, "registry"),
            "http-json"
        ),
    );
    let config = config(dir.path(), &listen, &routes);
    let token = source_token(&dir.path().join("data"), "sog");
    let (hub, addr) = serve::start(config, Default::default()).await.unwrap();
    let addr = addr.to_string();

    let (status, body) = post_mail(
        &addr,
        mail(
            "events-sog@example.ru",
            "Международный проект",
            "Прошу поддержать участие нашей лаборатории в международном научном проекте.",
        ),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let appeal = body["ids"][0].as_str().unwrap().to_string();
    eventually("the appeal is watched", LIMIT, || {
        state(&hub, &appeal) == Some(AppealState::Received)
    })
    .await;

    // Registered in SOG: the card names the hub's id (external_id); in work: the next
    // revision is found by SOG's card uid; forwarded by competence, likewise.
    let steps = [
        (
            card(1, Some(&appeal), "registered"),
            AppealState::Registered,
        ),
        (card(2, None, "in_work"), AppealState::InWork),
        (card(3, None, "forwarded"), AppealState::Forwarded),
    ];
    for (bytes, after) in steps {
        let (status, body) = post_source(&addr, "sog", &token, "application/json", bytes).await;
        assert_eq!(status, 202, "{body}");
        eventually(&format!("the appeal is {}", after.as_str()), LIMIT, || {
            state(&hub, &appeal) == Some(after)
        })
        .await;
    }
    let watched = hub.sla.get(&appeal).unwrap().unwrap();
    let path: Vec<&str> = watched.history.iter().map(|t| t.to.as_str()).collect();
    assert_eq!(path, ["registered", "assigned", "in-work", "forwarded"]);
    assert_eq!(
        watched.executor.as_deref(),
        Some("ivanov"),
        "by the directory"
    );
    assert_eq!(
        watched.forwarded_to.as_deref(),
        Some("Министерство науки и высшего образования Российской Федерации")
    );
    assert!(watched
        .forwarding_reason()
        .is_some_and(|r| r.contains("МПН-05/7781")));
    // The cards are events of the appeal, not appeals of their own.
    assert_eq!(hub.sla.scan().count(), 1);

    // The ССТУ export names where it went (ПВ) and why («Цель напр.»).
    let month = &okno_hub::sla::format_local(watched.received_at, 300)[..7];
    let response = reqwest::Client::new()
        .get(format!("http://{addr}/v1/reports/sstu?month={month}"))
        .header(
            "authorization",
            bearer(&format!("http://{addr}/v1/reports")),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let text = response.text().await.unwrap();
    let row: Vec<&str> = text.lines().nth(1).expect("one row").split(';').collect();
    assert_eq!(row.len(), 25);
    assert_eq!(
        row[12],
        "Министерство науки и высшего образования Российской Федерации"
    );
    assert!(row[21].contains("forwarded by competence"), "{row:?}");
    assert_eq!(row[22], "Направлено по компетенции");
    assert_eq!(row[15], "", "ОЖ: no answer owed once forwarded");
}

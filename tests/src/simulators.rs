//! The ministry systems' simulators (`examples/simulators`) as the end-to-end tests start
//! them, with what stands between them and the hub.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use okno_simulators::edms::{self, AssignmentRule, EdmsHandle, EdmsOptions};

/// The `edms` connector's settings for the simulated ministry: its МЭДО address and the
/// texts its EDMS writes on a report.
pub const EDMS_CONNECTOR_SETTINGS: &str = "[plugins.settings]\norganization = \"Министерство промышленности и науки\"\nsource-uid = \"0f2b6a1e-5c1d-4b8e-9a3f-1c2d3e4f5a6b\"\naddressee = \"Министерство промышленности и науки (СЭД)\"\nmedo-address = \"MINPROM~MEDOGU\"\n\"event.report-accepted\" = \"Доклад принят\"\n\"event.report-rejected\" = \"Доклад отклонён\"";

/// An EDMS that assigns every appeal it registers: executor Сидоров, controller
/// Петрова, 30 days.
pub fn assigning_edms() -> EdmsOptions {
    EdmsOptions {
        assign: Some(AssignmentRule {
            executor: "Сидоров И. И.".into(),
            controller: "Петрова А. А.".into(),
            days: 30,
        }),
        ..EdmsOptions::default()
    }
}

/// The EDMS simulator and the МЭДО gateway in front of it.
pub struct Edms {
    pub simulator: EdmsHandle,
    /// Where the gateway puts the hub's packets for the EDMS (`DIR/edms-in`).
    pub inbox: PathBuf,
    /// Where the EDMS writes its answers (`DIR/edms-out`).
    pub outbox: PathBuf,
    /// The gateway's URL, for the hub's МЭДО sink: `http://127.0.0.1:PORT/medo`.
    pub gateway_url: String,
    /// The idempotency keys of the packets the gateway took, in arrival order.
    pub delivered: Arc<Mutex<Vec<String>>>,
}

#[derive(Clone)]
struct Gateway {
    inbox: PathBuf,
    delivered: Arc<Mutex<Vec<String>>>,
}

/// Starts the EDMS simulator with `options` on `DIR/edms-in` and `DIR/edms-out`, and a
/// МЭДО gateway on loopback that writes each packet the hub posts into the inbox.
pub async fn edms_behind_gateway(dir: &Path, options: EdmsOptions) -> Edms {
    let (inbox, outbox) = (dir.join("edms-in"), dir.join("edms-out"));
    let simulator = edms::start(inbox.clone(), outbox.clone(), options)
        .await
        .expect("the EDMS simulator starts");
    let gateway = Gateway {
        inbox: inbox.clone(),
        delivered: Arc::default(),
    };
    let app = Router::new()
        .route("/medo", post(deliver))
        .with_state(gateway.clone());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("a port for the МЭДО gateway");
    let port = listener.local_addr().expect("the gateway's address").port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Edms {
        simulator,
        inbox,
        outbox,
        gateway_url: format!("http://127.0.0.1:{port}/medo"),
        delivered: gateway.delivered,
    }
}

/// A packet the hub posts, written into the EDMS's inbox as a gateway does: under a
/// temporary name first, so that the EDMS never reads half of it.
async fn deliver(State(g): State<Gateway>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("packet")
        .to_string();
    let temp = g.inbox.join(format!(".{key}.zip.tmp"));
    std::fs::write(&temp, &body).expect("writing a packet into the EDMS's inbox");
    std::fs::rename(&temp, g.inbox.join(format!("{key}.zip")))
        .expect("moving a packet into the EDMS's inbox");
    g.delivered.lock().unwrap().push(key);
    StatusCode::OK
}

//! poll and ack against answers an SMEV adapter gives (the committed samples), natively.

use okno_plugin_epgu::EpguConnector;
use okno_sdk::prelude::*;
use okno_sdk::testing::MockHost;

const ADAPTER: &str = "http://smev-adapter.test:7575/ws";

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../../tests/data/smev/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn host(answer: &str, status: u16) -> MockHost {
    MockHost::new()
        .setting("adapter-url", ADAPTER)
        .http_response(ADAPTER, status, &sample(answer))
}

#[test]
fn a_queued_request_is_one_message_acked_by_its_message_id() {
    let batch = host("own_scrap_licence_request_1.3.xml", 200)
        .run(EpguConnector::poll)
        .unwrap();
    assert_eq!(batch.messages.len(), 1);
    assert_eq!(
        batch.ack.as_deref(),
        Some("1c16b6d2-0b1a-11ef-9876-0242ac120002")
    );
    assert_eq!(batch.messages[0].idempotency_key, batch.ack);
    assert!(batch.more, "a request came: the queue may hold more");

    host("smevka_ack_response.xml", 200)
        .run(|| EpguConnector::ack(batch.ack.unwrap()))
        .unwrap();
}

#[test]
fn an_empty_queue_is_an_empty_batch() {
    let batch = host("smevka_empty_get_response.xml", 200)
        .run(EpguConnector::poll)
        .unwrap();
    assert!(batch.messages.is_empty());
    assert_eq!(batch.ack, None);
    assert!(!batch.more);
}

#[test]
fn a_fault_is_an_upstream_error_with_smevs_code() {
    let err = host("own_fault_signature_verification.xml", 500)
        .run(EpguConnector::poll)
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Upstream);
    assert!(
        err.message.contains("SignatureVerificationFault"),
        "{}",
        err.message
    );
    // An Ack for a message SMEV no longer holds: it is out of the queue, as wanted.
    host("own_fault_target_message_not_found.xml", 500)
        .run(|| EpguConnector::ack("1c16b6d2-0b1a-11ef-9876-0242ac120002".into()))
        .unwrap();
    let err = host("own_fault_signature_verification.xml", 500)
        .run(|| EpguConnector::ack("1c16b6d2-0b1a-11ef-9876-0242ac120002".into()))
        .unwrap_err();
    assert!(
        err.message.contains("SignatureVerificationFault"),
        "{}",
        err.message
    );
}

#[test]
fn an_adapter_that_is_down_is_an_upstream_error() {
    let err = host("smevka_empty_get_response.xml", 503)
        .run(EpguConnector::poll)
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Upstream);
    assert!(err.message.contains("503"), "{}", err.message);
}

#[test]
fn an_unreadable_request_is_refused_to_smev_not_retried_forever() {
    let (result, after) =
        host("hostile_attachment_50gb.xml", 200).run_and_keep(EpguConnector::poll);
    let err = result.unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidInput);
    assert!(
        err.message.contains("8db16273-0b2c-11ef-8d31-0242ac120008")
            && err.message.contains("refused to SMEV")
            && err.message.contains("53687091200"),
        "{}",
        err.message
    );
    assert!(
        format!("{:?}", after.logs).contains("accepted=\\\"false\\\""),
        "{:?}",
        after.logs
    );
}

//! The blob store end to end: the PDF of the example mail (`examples/appeals/09-…`) is kept
//! by its SHA-256 with the raw e-mail, and a sink with `attachments = true` forwards it to
//! the simulated EDMS inside the МЭДО packet, byte for byte.

use std::io::Read as _;
use std::path::PathBuf;
use std::time::Duration;

use okno_hub::cli::serve;
use okno_simulators::edms::{self, EdmsOptions};
use okno_simulators::sog::{self, SogOptions};
use okno_tests::*;

const LIMIT: Duration = Duration::from_secs(60);

/// The plugins this test runs, built for wasm32-wasip2 once.
fn built(name: &str) -> PathBuf {
    okno_tests::reference_plugin("blobs", &["edms", "mail", "priority", "sog"], name)
}

fn sha256_hex(bytes: &[u8]) -> String {
    okno_hub::store::blobs::sha256_hex(bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pdf_of_an_email_reaches_the_edms_intact() {
    let dir = tempfile::tempdir().unwrap();
    let (inbox, outbox) = (dir.path().join("edms-in"), dir.path().join("edms-out"));
    let simulator = edms::start(inbox.clone(), outbox.clone(), EdmsOptions::default())
        .await
        .unwrap();
    let sog = sog::start(SogOptions::default()).await.unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let entry = |name: &str, kind: &str, settings: &str| {
        let path = built(name);
        format!(
            "[[plugins]]\nname = \"{name}\"\nkind = \"{kind}\"\nfile = \"{}\"\nsha256 = \"{}\"\n{settings}\n\n",
            path.display(),
            sha256_of(&path)
        )
    };
    let data = dir.path().join("data");
    let text = format!(
        "[hub]\nlisten = \"{listen}\"\ndata_dir = \"{}\"\nworkers = 2\n\n[hub.blobs]\nmax_blob_bytes = 1048576\nquota_bytes = 10485760\nretention_days = 30\n\n{}{}{}{}\
         [[sources]]\nname = \"mail\"\ntransport = \"http\"\nconnector = \"mail\"\n\n\
         [pipeline]\nclassifiers = []\npolicy = \"priority\"\n\n\
         [[sinks]]\nname = \"edms-out\"\ntransport = \"dir\"\nconnector = \"edms\"\nattachments = true\nmax_attempts = 2\nbackoff_ms = 50\n[sinks.dir]\npath = \"{}\"\n\n\
         [[sinks]]\nname = \"sog\"\ntransport = \"http\"\nurl = \"{}\"\nconnector = \"sog\"\nattachments = true\nmax_attempts = 2\nbackoff_ms = 50\n\n\
         [[routes]]\nname = \"appeals-to-edms\"\nmatch = {{ channel = [\"mail\"] }}\nsinks = [\"edms-out\", \"sog\"]\n",
        data.display(),
        entry("mail", "connector", ""),
        entry("priority", "policy", ""),
        entry(
            "edms",
            "connector",
            "[plugins.settings]\norganization = \"Министерство промышленности и науки\"\nsource-uid = \"0f2b6a1e-5c1d-4b8e-9a3f-1c2d3e4f5a6b\"\naddressee = \"Министерство промышленности и науки (СЭД)\"\nmedo-address = \"MINPROM~MEDOGU\""
        ),
        entry(
            "sog",
            "connector",
            "[plugins.settings]\n\"default-topic-code\" = \"0003.0009.0093.0630\""
        ),
        inbox.display(),
        sog.cards_url(),
    );
    let config = dir.path().join("okno.toml");
    std::fs::write(&config, text).unwrap();
    issue_tokens(&data, &listen);
    let (hub, addr) = serve::start(config, Default::default()).await.unwrap();

    let raw = std::fs::read(
        workspace().join("examples/appeals/09-land-tax-question-cp1251-pdf-attachment.eml"),
    )
    .unwrap();
    let (status, body) = post_mail(&addr.to_string(), raw.clone()).await;
    assert_eq!(status, 202, "{body}");
    let id = body["ids"][0].as_str().unwrap().to_string();

    // Kept: the PDF by its digest, and the raw e-mail it came in.
    let record = hub.store.get(&id).unwrap().unwrap();
    assert_eq!(record.message.attachments.len(), 1);
    let pdf = &record.message.attachments[0];
    assert_eq!(pdf.media_type, "application/pdf");
    let kept = hub
        .store
        .blobs
        .get(&pdf.sha256)
        .unwrap()
        .expect("the PDF is in the blob store");
    assert_eq!(sha256_hex(&kept), pdf.sha256);
    assert_eq!(kept.len() as u64, pdf.size);
    assert!(kept.starts_with(b"%PDF"));
    assert_eq!(
        record.message.metadata_value("okno.raw-sha256"),
        Some(sha256_hex(&raw).as_str())
    );
    assert_eq!(
        hub.store.blobs.get(&sha256_hex(&raw)).unwrap().as_deref(),
        Some(raw.as_slice())
    );
    // The PDF as an independent MIME reader sees it in the e-mail.
    let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
    let original = parsed.attachment(0).expect("the e-mail has an attachment");
    assert_eq!(sha256_hex(original.contents()), pdf.sha256);

    // Forwarded: the EDMS registers the packet, naming the PDF among its files.
    eventually("the EDMS registers the packet", LIMIT, || {
        !simulator.registered().is_empty()
    })
    .await;
    assert_eq!(simulator.errors(), Vec::<String>::new());
    let card = simulator.registered()[0].clone();
    assert!(card.reg_number.is_some(), "{card:?}");
    assert!(card.files.contains(&pdf.name), "{:?}", card.files);
    // The packet as the EDMS received it holds the PDF byte for byte.
    let processed: Vec<PathBuf> = std::fs::read_dir(inbox.join("processed"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(processed.len(), 1, "{processed:?}");
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(std::fs::read(&processed[0]).unwrap())).unwrap();
    let mut content = Vec::new();
    archive
        .by_name(&pdf.name)
        .expect("the packet holds the PDF")
        .read_to_end(&mut content)
        .unwrap();
    assert_eq!(sha256_hex(&content), pdf.sha256);

    // And to SOG: the card carries the file itself.
    eventually("SOG registers the card", LIMIT, || {
        sog.card_by_external_id(&id).is_some()
    })
    .await;
    let card = sog.card_by_external_id(&id).unwrap().card;
    let attached = &card["attachments"][0];
    assert_eq!(attached["sha256"], pdf.sha256.as_str(), "{card}");
    let content = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        attached["content"].as_str().expect("the file's content"),
    )
    .unwrap();
    assert_eq!(sha256_hex(&content), pdf.sha256);
}

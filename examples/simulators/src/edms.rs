//! An EDMS (СЭД) exchanging МЭДО packets through directories, as «Дело», Directum or
//! СЭД «Кодекс» do behind a МЭДО gateway.
//!
//! It picks up packets the hub writes to its inbox (zip containers, or packet folders),
//! answers each with a receipt (`Квитанция`), registers the document under a number of
//! its own and sends the notification `Зарегистрирован` with that number and date — or
//! `Отказано в регистрации` with the reason when the packet lacks a file its document
//! names — then, when told to, issues an assignment (`Назначен исполнитель`: executor,
//! controller, deadline) and passes reports through (`Доклад направлен`, then `Доклад
//! принят`, or `Доклад отклонён` with the controller's reason and a new deadline). Every
//! answer is a zip packet (envelope.ltr and document.xml in windows-1251, as these
//! products write them) put into the outbox atomically: written under a dot name,
//! synced, renamed. A processed packet moves to `inbox/processed/`.
//!
//! The report notifications' types and elements are this simulated product's own; the
//! `edms` connector learns them from its settings (`event.report-accepted = "Доклад
//! принят"`, `event.report-rejected = "Доклад отклонён"`).

use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context};
use quick_xml::events::Event;
use quick_xml::Reader;

const IEDMS: &str = "http://www.infpres.com/IEDMS";

/// How the simulated EDMS behaves.
#[derive(Debug, Clone)]
pub struct EdmsOptions {
    /// Its organisation's name, as it signs notifications.
    pub organization: String,
    /// Its МЭДО participant uid.
    pub source_uid: String,
    /// Registration numbers are this prefix, a running number and the year: `ВХ-7/2026`.
    pub number_prefix: String,
    /// Issue an assignment right after registering each document.
    pub assign: Option<AssignmentRule>,
    /// How often the inbox is looked at.
    pub poll_ms: u64,
}

impl Default for EdmsOptions {
    fn default() -> Self {
        EdmsOptions {
            organization: "Министерство промышленности и науки (СЭД)".into(),
            source_uid: "7d3c9a52-1f0e-4b6a-8c2d-5e4f3a2b1c0d".into(),
            number_prefix: "ВХ-".into(),
            assign: None,
            poll_ms: 50,
        }
    }
}

/// Who executes what the EDMS registers, who controls it, and in how many days.
#[derive(Debug, Clone)]
pub struct AssignmentRule {
    pub executor: String,
    pub controller: String,
    pub days: u32,
}

/// A document the EDMS registered (or refused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// The uid of the document in the packet (`xdms:document/@xdms:uid`).
    pub doc_uid: String,
    /// The sender's number and date of it.
    pub doc_number: String,
    pub doc_date: String,
    pub kind: String,
    pub annotation: String,
    pub source_org: String,
    pub files: Vec<String>,
    /// Set when registered.
    pub reg_number: Option<String>,
    pub reg_date: String,
    /// Set when refused.
    pub refused: Option<String>,
    /// Set once an assignment is issued: (executor, controller, deadline).
    pub assignment: Option<(String, String, String)>,
}

#[derive(Default)]
struct State {
    registered: Vec<Registered>,
    written: Vec<PathBuf>,
    errors: Vec<String>,
    counter: u32,
}

/// The running EDMS. Dropping it stops the inbox loop.
pub struct EdmsHandle {
    state: Arc<Mutex<State>>,
    outbox: PathBuf,
    options: EdmsOptions,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for EdmsHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the EDMS on `inbox` (packets from the hub) and `outbox` (its answers).
pub async fn start(
    inbox: PathBuf,
    outbox: PathBuf,
    options: EdmsOptions,
) -> anyhow::Result<EdmsHandle> {
    std::fs::create_dir_all(inbox.join("processed"))
        .with_context(|| format!("creating {}", inbox.display()))?;
    std::fs::create_dir_all(&outbox).with_context(|| format!("creating {}", outbox.display()))?;
    let state = Arc::new(Mutex::new(State::default()));
    let task = {
        let (state, outbox, options) = (state.clone(), outbox.clone(), options.clone());
        tokio::spawn(async move {
            loop {
                let poll = Duration::from_millis(options.poll_ms);
                let (inbox, outbox, options, state) = (
                    inbox.clone(),
                    outbox.clone(),
                    options.clone(),
                    state.clone(),
                );
                let _ =
                    tokio::task::spawn_blocking(move || scan(&inbox, &outbox, &options, &state))
                        .await;
                tokio::time::sleep(poll).await;
            }
        })
    };
    Ok(EdmsHandle {
        state,
        outbox,
        options,
        task,
    })
}

impl EdmsHandle {
    /// Every document received, in order.
    pub fn registered(&self) -> Vec<Registered> {
        self.state.lock().unwrap().registered.clone()
    }

    /// Every packet written to the outbox, in order.
    pub fn written(&self) -> Vec<PathBuf> {
        self.state.lock().unwrap().written.clone()
    }

    /// Packets it could not read, with the reason.
    pub fn errors(&self) -> Vec<String> {
        self.state.lock().unwrap().errors.clone()
    }

    fn find(&self, reg_number: &str) -> anyhow::Result<Registered> {
        self.registered()
            .into_iter()
            .find(|r| r.reg_number.as_deref() == Some(reg_number))
            .with_context(|| format!("no document is registered under {reg_number}"))
    }

    /// Issues an assignment on a registered document.
    pub fn assign(
        &self,
        reg_number: &str,
        executor: &str,
        controller: &str,
        deadline: &str,
    ) -> anyhow::Result<PathBuf> {
        let doc = self.find(reg_number)?;
        {
            let mut state = self.state.lock().unwrap();
            if let Some(r) = state
                .registered
                .iter_mut()
                .find(|r| r.reg_number.as_deref() == Some(reg_number))
            {
                r.assignment = Some((executor.into(), controller.into(), deadline.into()));
            }
        }
        let body = format!(
            "<xdms:executorAssigned>{}{}<xdms:executor><xdms:person>{}</xdms:person></xdms:executor><xdms:controller><xdms:person>{}</xdms:person></xdms:controller><xdms:deadline>{}</xdms:deadline>{}</xdms:executorAssigned>",
            time_element(),
            foundation(&doc),
            esc(executor),
            esc(controller),
            esc(deadline),
            reg_num(&doc)
        );
        write_notification(
            &self.outbox,
            &self.options,
            &self.state,
            &doc,
            "Назначен исполнитель",
            &body,
        )
    }

    /// The executor reports on the assignment.
    pub fn submit_report(&self, reg_number: &str) -> anyhow::Result<PathBuf> {
        let doc = self.find(reg_number)?;
        let (executor, _, _) = doc
            .assignment
            .clone()
            .context("no assignment was issued on it")?;
        let body = format!(
            "<xdms:reportSent>{}{}<xdms:executor><xdms:person>{}</xdms:person></xdms:executor>{}</xdms:reportSent>",
            time_element(),
            foundation(&doc),
            esc(&executor),
            reg_num(&doc)
        );
        write_notification(
            &self.outbox,
            &self.options,
            &self.state,
            &doc,
            "Доклад направлен",
            &body,
        )
    }

    /// The controller accepts the report.
    pub fn accept_report(&self, reg_number: &str) -> anyhow::Result<PathBuf> {
        let doc = self.find(reg_number)?;
        let (_, controller, _) = doc
            .assignment
            .clone()
            .context("no assignment was issued on it")?;
        let body = format!(
            "<xdms:reportAccepted>{}{}<xdms:controller><xdms:person>{}</xdms:person></xdms:controller>{}</xdms:reportAccepted>",
            time_element(),
            foundation(&doc),
            esc(&controller),
            reg_num(&doc)
        );
        write_notification(
            &self.outbox,
            &self.options,
            &self.state,
            &doc,
            "Доклад принят",
            &body,
        )
    }

    /// The controller rejects the report with a reason and a new deadline.
    pub fn reject_report(
        &self,
        reg_number: &str,
        reason: &str,
        new_deadline: &str,
    ) -> anyhow::Result<PathBuf> {
        let doc = self.find(reg_number)?;
        let (_, controller, _) = doc
            .assignment
            .clone()
            .context("no assignment was issued on it")?;
        let body = format!(
            "<xdms:reportRejected>{}{}<xdms:controller><xdms:person>{}</xdms:person></xdms:controller><xdms:reason>{}</xdms:reason><xdms:deadline>{}</xdms:deadline>{}</xdms:reportRejected>",
            time_element(),
            foundation(&doc),
            esc(&controller),
            esc(reason),
            esc(new_deadline),
            reg_num(&doc)
        );
        write_notification(
            &self.outbox,
            &self.options,
            &self.state,
            &doc,
            "Доклад отклонён",
            &body,
        )
    }
}

fn esc(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

fn today() -> (i64, u32, u32) {
    let days = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
        + 3 * 3600)
        / 86_400;
    civil(days)
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn date_in(days_ahead: u32) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (y, m, d) = civil((now + 3 * 3600) / 86_400 + i64::from(days_ahead));
    format!("{y:04}-{m:02}-{d:02}")
}

fn time_element() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
        + 3 * 3600;
    let (y, m, d) = civil(now / 86_400);
    let s = now % 86_400;
    format!(
        "<xdms:time>{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+03:00</xdms:time>",
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

fn foundation(doc: &Registered) -> String {
    format!(
        "<xdms:foundation><xdms:organization>{}</xdms:organization><xdms:num><xdms:number>{}</xdms:number><xdms:date>{}</xdms:date></xdms:num></xdms:foundation>",
        esc(&doc.source_org),
        esc(&doc.doc_number),
        esc(&doc.doc_date)
    )
}

fn reg_num(doc: &Registered) -> String {
    format!(
        "<xdms:num><xdms:number>{}</xdms:number><xdms:date>{}</xdms:date></xdms:num>",
        esc(doc.reg_number.as_deref().unwrap_or("")),
        esc(&doc.reg_date)
    )
}

fn scan(inbox: &Path, outbox: &Path, options: &EdmsOptions, state: &Arc<Mutex<State>>) {
    let Ok(dir) = std::fs::read_dir(inbox) else {
        return;
    };
    let mut paths: Vec<PathBuf> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        // A packet still being written has a dot name or a temporary suffix.
        if name.starts_with('.')
            || name == "processed"
            || name.ends_with(".tmp")
            || name.ends_with(".part")
        {
            continue;
        }
        let files = if path.is_dir() {
            read_folder(&path)
        } else if name.to_lowercase().ends_with(".zip") {
            std::fs::read(&path)
                .map_err(anyhow::Error::from)
                .and_then(|b| unzip(&b))
        } else {
            continue;
        };
        let result = files.and_then(|files| receive(&files, outbox, options, state));
        if let Err(e) = result {
            state.lock().unwrap().errors.push(format!("{name}: {e:#}"));
        }
        let _ = std::fs::rename(&path, inbox.join("processed").join(&name));
    }
}

fn read_folder(dir: &Path) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_file() {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("")
                .to_string();
            files.push((name, std::fs::read(&path)?));
        }
    }
    Ok(files)
}

fn unzip(bytes: &[u8]) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))?;
    let mut files = Vec::new();
    for i in 0..archive.len().min(256) {
        let mut file = archive.by_index(i)?;
        if file.is_dir() {
            continue;
        }
        let name = file.name()?.rsplit('/').next().unwrap_or("").to_string();
        let mut content = Vec::new();
        (&mut file).take(32 << 20).read_to_end(&mut content)?;
        files.push((name, content));
    }
    Ok(files)
}

/// What the EDMS reads of a document.xml.
#[derive(Default)]
struct Incoming {
    header_type: String,
    header_uid: String,
    source_org: String,
    doc_uid: String,
    kind: String,
    number: String,
    date: String,
    annotation: String,
    files: Vec<String>,
}

fn read_document(bytes: &[u8]) -> anyhow::Result<Incoming> {
    // These products write windows-1251 or UTF-8; the declaration says which.
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(100)]).to_lowercase();
    let text = if head.contains("windows-1251") && std::str::from_utf8(bytes).is_err() {
        encoding_rs::WINDOWS_1251.decode(bytes).0.into_owned()
    } else {
        String::from_utf8(bytes.to_vec()).context("document.xml is not UTF-8")?
    };
    let mut reader = Reader::from_str(&text);
    let mut path: Vec<String> = Vec::new();
    let mut doc = Incoming::default();
    let attr = |e: &quick_xml::events::BytesStart, name: &str| -> Option<String> {
        e.attributes().flatten().find_map(|a| {
            (a.key.local_name().as_ref() == name)
                .then(|| {
                    a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .ok()
                        .map(|v| v.into_owned())
                })
                .flatten()
        })
    };
    loop {
        match reader.read_event()? {
            Event::DocType(_) => bail!("a DOCTYPE in document.xml"),
            Event::Start(e) => {
                let local = e.local_name().as_ref().to_string();
                take_attributes(&e, &local, &text, &mut doc, &attr)?;
                path.push(local);
            }
            Event::Empty(e) => {
                let local = e.local_name().as_ref().to_string();
                take_attributes(&e, &local, &text, &mut doc, &attr)?;
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Text(t) => {
                let value = t.xml10_content().trim().to_string();
                let joined = path.join("/");
                if joined.ends_with("header/source/organization") {
                    doc.source_org = value;
                } else if joined.ends_with("document/kind") {
                    doc.kind = value;
                } else if joined.ends_with("document/num/number") {
                    doc.number = value;
                } else if joined.ends_with("document/num/date") {
                    doc.date = value;
                } else if joined.ends_with("document/annotation") {
                    doc.annotation.push_str(&value);
                }
            }
            Event::GeneralRef(r) => {
                let name = r.xml10_content().into_owned();
                let joined = path.join("/");
                if joined.ends_with("document/annotation") {
                    doc.annotation.push_str(
                        quick_xml::escape::resolve_predefined_entity(&name).unwrap_or(""),
                    );
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(doc)
}

fn take_attributes(
    e: &quick_xml::events::BytesStart,
    local: &str,
    text: &str,
    doc: &mut Incoming,
    attr: &dyn Fn(&quick_xml::events::BytesStart, &str) -> Option<String>,
) -> anyhow::Result<()> {
    match local {
        "communication" if !text.contains(IEDMS) => bail!("document.xml is not МЭДО"),
        "header" => {
            doc.header_type = attr(e, "type").unwrap_or_default();
            doc.header_uid = attr(e, "uid").unwrap_or_default();
        }
        "document" => doc.doc_uid = attr(e, "uid").unwrap_or_default(),
        "file" => doc.files.extend(attr(e, "localName")),
        _ => {}
    }
    Ok(())
}

fn receive(
    files: &[(String, Vec<u8>)],
    outbox: &Path,
    options: &EdmsOptions,
    state: &Arc<Mutex<State>>,
) -> anyhow::Result<()> {
    let find = |name: &str| {
        files
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, b)| b.as_slice())
    };
    let xml = find("document.xml").context("the packet has no document.xml")?;
    let incoming = read_document(xml)?;
    if incoming.header_type != "Документ" {
        bail!(
            "a packet of type «{}»: this EDMS registers documents",
            incoming.header_type
        );
    }
    // The receipt first: the packet arrived and was read.
    let ack = format!(
        "<xdms:acknowledgment xdms:uid=\"{}\">{}<xdms:accepted>true</xdms:accepted></xdms:acknowledgment>",
        esc(&incoming.header_uid),
        time_element()
    );
    write_packet(
        outbox,
        options,
        state,
        "Квитанция",
        &ack,
        &format!("Квитанция {}", incoming.header_uid),
    )?;

    let missing = incoming.files.iter().find(|f| find(f).is_none()).cloned();
    let (y, m, d) = today();
    let mut doc = Registered {
        doc_uid: incoming.doc_uid.clone(),
        doc_number: incoming.number.clone(),
        doc_date: incoming.date.clone(),
        kind: incoming.kind.clone(),
        annotation: incoming.annotation.clone(),
        source_org: incoming.source_org.clone(),
        files: incoming.files.clone(),
        reg_number: None,
        reg_date: format!("{y:04}-{m:02}-{d:02}"),
        refused: None,
        assignment: None,
    };
    if let Some(missing) = missing {
        let reason = format!("В пакете нет файла {missing}");
        doc.refused = Some(reason.clone());
        state.lock().unwrap().registered.push(doc.clone());
        let body = format!(
            "<xdms:documentRefused>{}{}<xdms:reason>{}</xdms:reason></xdms:documentRefused>",
            time_element(),
            foundation(&doc),
            esc(&reason)
        );
        write_notification(
            outbox,
            options,
            state,
            &doc,
            "Отказано в регистрации",
            &body,
        )?;
        return Ok(());
    }
    let number = {
        let mut s = state.lock().unwrap();
        s.counter += 1;
        format!("{}{}/{y}", options.number_prefix, s.counter)
    };
    doc.reg_number = Some(number);
    if let Some(rule) = &options.assign {
        doc.assignment = Some((
            rule.executor.clone(),
            rule.controller.clone(),
            date_in(rule.days),
        ));
    }
    state.lock().unwrap().registered.push(doc.clone());
    let body = format!(
        "<xdms:documentAccepted>{}{}<xdms:correspondent><xdms:organization>{}</xdms:organization></xdms:correspondent>{}</xdms:documentAccepted>",
        time_element(),
        foundation(&doc),
        esc(&options.organization),
        reg_num(&doc)
    );
    write_notification(outbox, options, state, &doc, "Зарегистрирован", &body)?;
    if let Some((executor, controller, deadline)) = &doc.assignment {
        let body = format!(
            "<xdms:executorAssigned>{}{}<xdms:executor><xdms:person>{}</xdms:person></xdms:executor><xdms:controller><xdms:person>{}</xdms:person></xdms:controller><xdms:deadline>{}</xdms:deadline>{}</xdms:executorAssigned>",
            time_element(),
            foundation(&doc),
            esc(executor),
            esc(controller),
            esc(deadline),
            reg_num(&doc)
        );
        write_notification(outbox, options, state, &doc, "Назначен исполнитель", &body)?;
    }
    Ok(())
}

fn write_notification(
    outbox: &Path,
    options: &EdmsOptions,
    state: &Arc<Mutex<State>>,
    doc: &Registered,
    kind: &str,
    body: &str,
) -> anyhow::Result<PathBuf> {
    let xml = format!(
        "<xdms:notification xdms:type=\"{}\" xdms:uid=\"{}\">{body}</xdms:notification>",
        esc(kind),
        esc(&doc.doc_uid)
    );
    write_packet(
        outbox,
        options,
        state,
        "Уведомление",
        &xml,
        &format!(
            "{kind} № {}",
            doc.reg_number.as_deref().unwrap_or(&doc.doc_number)
        ),
    )
}

/// Writes one answer packet into the outbox: a dot name, synced, then renamed.
fn write_packet(
    outbox: &Path,
    options: &EdmsOptions,
    state: &Arc<Mutex<State>>,
    header_type: &str,
    inner: &str,
    subject: &str,
) -> anyhow::Result<PathBuf> {
    let serial = {
        let mut s = state.lock().unwrap();
        s.counter += 1;
        s.counter
    };
    let uid = pseudo_uid(serial, subject);
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"windows-1251\"?>\r\n<xdms:communication xmlns:xdms=\"{IEDMS}\" xdms:version=\"2.2\">\r\n<xdms:header xdms:type=\"{header_type}\" xdms:uid=\"{uid}\">\r\n<xdms:source xdms:uid=\"{}\"><xdms:organization>{}</xdms:organization></xdms:source>\r\n</xdms:header>\r\n{inner}\r\n</xdms:communication>\r\n",
        esc(&options.source_uid),
        esc(&options.organization)
    );
    let envelope = format!(
        "[ПИСЬМО КП ПС СЗИ]\r\nТЕМА={subject}\r\nШИФРОВАНИЕ=0\r\nЭЦП=0\r\n[АДРЕСАТЫ]\r\n0=OKNO~MEDOGU\r\n[ФАЙЛЫ]\r\n0=document.xml\r\n"
    );
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let zip_options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    writer.start_file("envelope.ltr", zip_options)?;
    writer.write_all(&encoding_rs::WINDOWS_1251.encode(&envelope).0)?;
    writer.start_file("document.xml", zip_options)?;
    writer.write_all(&encoding_rs::WINDOWS_1251.encode(&xml).0)?;
    let bytes = writer.finish()?.into_inner();
    let name = format!("edms-{serial:06}.zip");
    let temp = outbox.join(format!(".{name}.tmp"));
    let path = outbox.join(&name);
    {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&temp, &path)?;
    state.lock().unwrap().written.push(path.clone());
    Ok(path)
}

/// A uid for an answer packet, unique within the run.
fn pseudo_uid(serial: u32, salt: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in salt.bytes().chain(serial.to_le_bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        (h >> 32) as u32,
        (h >> 16) as u16,
        h as u16,
        serial as u16,
        nanos & 0xffff_ffff_ffff
    )
}

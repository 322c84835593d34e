//! A checked card → the canonical message. The card's facts the hub routes on, and those
//! `encode` needs to write the card back, go into `sog.*` metadata.

use okno_sdk::prelude::*;

use crate::card::*;
use crate::rules::parse_date;
use crate::settings::{ExecutorField, Settings};

pub fn message(card: Card, settings: &Settings) -> Message {
    let body = card.text.clone().unwrap_or_else(|| card.summary.clone());
    let mut message = Message::new(Channel::Sog, body);
    message.idempotency_key = idempotency_key(&card);
    // The summary is the card's headline; as the subject only when the text is the body.
    if card.text.is_some() {
        message.subject = Some(card.summary.clone());
    }
    message.sent_at = card
        .received_date
        .as_deref()
        .and_then(parse_date)
        .map(okno_sdk::time::start_of_local_day);
    message.client = client(&card.applicant, card.collective == Some(true));
    message.attachments = card
        .attachments
        .iter()
        .flatten()
        .map(|a| Attachment {
            name: a.name.clone(),
            media_type: a.media_type.clone(),
            size: a.size,
            sha256: a.sha256.clone(),
            content_ref: format!("sha256:{}", a.sha256),
        })
        .collect();
    message.thread.repeat_of = card.repeat_of.clone();
    // A card SOG registered from an appeal the hub sent names that appeal.
    message.thread.in_reply_to = card.external_id.clone();
    message.metadata = metadata(&card, settings);
    message
}

/// One change of one card is one message: the card's id with its revision. A card sent
/// without SOG's id (registered elsewhere, forwarded) is keyed by its registration.
fn idempotency_key(card: &Card) -> Option<String> {
    let revision = card.revision.unwrap_or(1);
    if let Some(uid) = &card.uid {
        return Some(format!("sog:{uid}#{revision}"));
    }
    card.registration
        .as_ref()
        .map(|r| format!("sog-reg:{}#{revision}", r.number))
}

fn client(a: &Applicant, collective: bool) -> Client {
    let mut client = Client::default();
    match a.kind {
        ApplicantType::Citizen => {
            client.kind = ClientKind::Citizen;
            let parts: Vec<&str> = [&a.last_name, &a.first_name, &a.middle_name]
                .into_iter()
                .flatten()
                .map(String::as_str)
                .collect();
            client.name = Some(parts.join(" "));
        }
        ApplicantType::Organisation => {
            client.kind = ClientKind::Business;
            client.name = a.organisation.clone();
        }
    }
    let contacts = [
        ("email", &a.email),
        ("phone", &a.phone),
        ("postal-address", &a.address),
        ("inn", &a.inn),
    ];
    for (kind, value) in contacts {
        if let Some(value) = value {
            client.contacts.push(Contact {
                kind: kind.into(),
                value: value.clone(),
            });
        }
    }
    client.segments = a.benefits.clone().unwrap_or_default();
    if collective {
        client.segments.push("collective".into());
    }
    client
}

fn metadata(card: &Card, settings: &Settings) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut put = |key: &str, value: &str| out.push((key.to_string(), value.to_string()));
    if let Some(uid) = &card.uid {
        put("sog.uid", uid);
    }
    if let Some(revision) = card.revision {
        put("sog.revision", &revision.to_string());
    }
    if let Some(r) = &card.registration {
        put("sog.reg-number", &r.number);
        put("sog.reg-date", &r.date);
    }
    put("sog.status", card.status.as_str());
    if let Some(name) = &card.status_name {
        put("sog.status-name", name);
    }
    put("sog.form", form_name(card.form));
    put("sog.channel", channel_name(card.channel));
    for q in &card.questions {
        put("sog.topic-code", &q.code);
    }
    let executor = match settings.executor_field {
        ExecutorField::Executor => &card.executor,
        ExecutorField::Responsible => &card.responsible,
    };
    if let Some(executor) = executor {
        put("sog.department-code", &executor.department);
        if let Some(id) = settings.department_id(&executor.department) {
            put("sog.department", id);
        }
    }
    if let Some(deadline) = &card.deadline {
        put("sog.deadline", deadline);
    }
    if let Some(f) = &card.forwarding {
        put("sog.forwarded-to", &f.body);
        put("sog.forwarding-date", &f.date);
        put("sog.forwarding-number", &f.number);
    }
    if let Some(s) = &card.sender_body {
        put("sog.sender-body", &s.body);
        put("sog.sender-date", &s.date);
        put("sog.sender-number", &s.number);
    }
    if let Some(a) = &card.answer {
        put("sog.answer-date", &a.date);
        put("sog.answer-number", &a.number);
    }
    if let Some(signatures) = card.signatures {
        put("sog.signatures", &signatures.to_string());
    }
    if card.status.is_final() {
        put("sog.final", "true");
    }
    out
}

pub fn form_name(form: Form) -> &'static str {
    match form {
        Form::Written => "written",
        Form::Oral => "oral",
        Form::Electronic => "electronic",
    }
}

pub fn channel_name(channel: ReceiptChannel) -> &'static str {
    match channel {
        ReceiptChannel::Post => "post",
        ReceiptChannel::Courier => "courier",
        ReceiptChannel::EReception => "e_reception",
        ReceiptChannel::Email => "email",
        ReceiptChannel::Epgu => "epgu",
        ReceiptChannel::PersonalReception => "personal_reception",
        ReceiptChannel::Phone => "phone",
        ReceiptChannel::Fax => "fax",
        ReceiptChannel::FromBody => "from_body",
        ReceiptChannel::Medo => "medo",
    }
}

//! A routed message → the card SOG receives. A message that carries SOG's registration
//! (`sog.reg-number`, from a card SOG sent) becomes that card brought up to date: the
//! executor and deadline the hub decided, and the status, answer and forwarding the
//! message's metadata holds. Any other message becomes a new card for SOG to register
//! (no `registration`, status `received`, `external_id` = the hub's id), so SOG's number
//! comes back with the registered card.

use okno_sdk::prelude::*;
use okno_sdk::time;

use crate::card::*;
use crate::rules::{self, format_date};
use crate::settings::{ExecutorField, Settings};

pub fn card(
    message: &Message,
    classification: &Classification,
    decision: &Decision,
    settings: &Settings,
) -> Result<Card, PluginError> {
    let meta = |key: &str| message.metadata_value(key).map(str::to_string);
    let registration =
        match (meta("sog.reg-number"), meta("sog.reg-date")) {
            (Some(number), Some(date)) => Some(Registration { number, date }),
            (Some(_), None) => return Err(PluginError::invalid_input(
                "metadata `sog.reg-number` comes without `sog.reg-date`; a registration has both",
            )),
            _ => None,
        };
    let registered = registration.is_some();

    let questions = questions(message, classification, settings)?;
    let (summary, text) = summary_and_text(message);
    let official = executor(decision, settings)?;
    let (executor, responsible) = match settings.executor_field {
        ExecutorField::Executor => (official, None),
        ExecutorField::Responsible => (None, official),
    };
    let forwarding = match (
        meta("sog.forwarded-to"),
        meta("sog.forwarding-date"),
        meta("sog.forwarding-number"),
    ) {
        (Some(body), Some(date), Some(number)) => Some(Forwarding { body, date, number }),
        _ => None,
    };
    let answer = match (meta("sog.answer-date"), meta("sog.answer-number")) {
        (Some(date), Some(number)) => Some(Answer {
            date,
            number,
            signed_by: meta("sog.answer-signed-by"),
            text: meta("sog.answer-text"),
        }),
        _ => None,
    };
    let status = status(message, registered, &forwarding, &answer, decision)?;

    let card = Card {
        format: FORMAT.into(),
        uid: meta("sog.uid").filter(|_| registered),
        revision: None,
        external_id: Some(message.id.clone()).filter(|id| rules::id("$", id).is_ok()),
        registration,
        received_date: Some(format_date(time::local_date(
            message.sent_at.unwrap_or(message.received_at),
        ))),
        applicant: applicant(&message.client)?,
        collective: message
            .client
            .segments
            .iter()
            .any(|s| s == "collective")
            .then_some(true),
        signatures: meta("sog.signatures").and_then(|s| s.parse().ok()),
        form: form(message.channel),
        channel: receipt_channel(message),
        sender_body: match (
            meta("sog.sender-body"),
            meta("sog.sender-date"),
            meta("sog.sender-number"),
        ) {
            (Some(body), Some(date), Some(number)) => Some(Forwarding { body, date, number }),
            _ => None,
        },
        questions,
        summary,
        text,
        executor,
        responsible,
        deadline: decision
            .answer_deadline
            .map(|at| format_date(time::local_date(at)))
            .or_else(|| meta("sog.deadline")),
        status,
        status_name: settings.status_names.get(status.as_str()).cloned(),
        forwarding,
        answer,
        repeat_of: message
            .thread
            .repeat_of
            .clone()
            .filter(|r| rules::text("$", r, 64).is_ok()),
        attachments: (!message.attachments.is_empty()).then(|| {
            message
                .attachments
                .iter()
                .map(|a| CardAttachment {
                    name: a.name.chars().take(1000).collect(),
                    media_type: if rules::media_type("$", &a.media_type).is_ok() {
                        a.media_type.clone()
                    } else {
                        "application/octet-stream".into()
                    },
                    size: a.size,
                    sha256: a.sha256.clone(),
                    // The file itself, when the sink hands it over (`attachments = true`).
                    content: message
                        .metadata_value(&format!("okno.attachment.{}", a.sha256))
                        .filter(|c| c.len() <= crate::check::MAX_CONTENT_CHARS)
                        .map(str::to_string),
                })
                .collect()
        }),
    };
    // What leaves the plugin is held to the same schema as what comes in.
    crate::check::check_card(&card).map_err(|e| {
        PluginError::new(
            e.kind,
            format!(
                "the card for message {} would not fit examples/formats/sog.schema.json: {}",
                message.id, e.message
            ),
        )
    })?;
    Ok(card)
}

/// The status to write: an answer or a forwarding the message carries wins; a final
/// status SOG gave stays; a registered card the hub has decided on is in work.
fn status(
    message: &Message,
    registered: bool,
    forwarding: &Option<Forwarding>,
    answer: &Option<Answer>,
    decision: &Decision,
) -> Result<Status, PluginError> {
    if !registered {
        return Ok(Status::Received);
    }
    if answer.is_some() {
        return Ok(Status::Answered);
    }
    if forwarding.is_some() {
        return Ok(Status::Forwarded);
    }
    let current = match message.metadata_value("sog.status") {
        None => Status::Registered,
        Some(name) => Status::parse(name).ok_or_else(|| {
            PluginError::invalid_input(format!(
                "metadata `sog.status` is `{}`, not a card status",
                rules::shown(name)
            ))
        })?,
    };
    Ok(match current {
        // An answered or forwarded status without its details cannot be written.
        Status::Answered | Status::Forwarded => Status::InWork,
        s if s.is_final() => s,
        _ if decision.responsible.is_some() || decision.answer_deadline.is_some() => Status::InWork,
        s => s,
    })
}

fn questions(
    message: &Message,
    classification: &Classification,
    settings: &Settings,
) -> Result<Vec<Question>, PluginError> {
    // The codes SOG gave stay first; the hub's topic follows when it differs.
    let mut codes: Vec<String> = message
        .metadata
        .iter()
        .filter(|(k, _)| k == "sog.topic-code")
        .map(|(_, v)| v.clone())
        .collect();
    if let Some(topic) = &classification.topic {
        if !codes.contains(&topic.best.code) && rules::topic_code("$", &topic.best.code).is_ok() {
            codes.push(topic.best.code.clone());
        }
    }
    if codes.is_empty() {
        codes.extend(settings.default_topic_code.clone());
    }
    if codes.is_empty() {
        return Err(PluginError::config(format!(
            "message {} has no topic, and a SOG card needs a classifier code: put a topic classifier in the pipeline or set `default-topic-code`",
            message.id
        )));
    }
    codes.truncate(20);
    Ok(codes
        .into_iter()
        .map(|code| Question { code, text: None })
        .collect())
}

/// The summary is the subject, or the start of the body; the text is the body.
fn summary_and_text(message: &Message) -> (String, Option<String>) {
    let body = message.body.trim();
    let text = (!body.is_empty()).then(|| body.chars().take(200_000).collect::<String>());
    let summary_source = message
        .subject
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .or(Some(body).filter(|b| !b.is_empty()));
    let summary = match summary_source {
        Some(s) => s.chars().take(4000).collect(),
        None => {
            let names: Vec<&str> = message
                .attachments
                .iter()
                .map(|a| a.name.as_str())
                .collect();
            format!("Вложения: {}", names.join(", "))
                .chars()
                .take(4000)
                .collect()
        }
    };
    (summary, text)
}

fn executor(decision: &Decision, settings: &Settings) -> Result<Option<Official>, PluginError> {
    let Some(id) = &decision.responsible else {
        return Ok(None);
    };
    let code = settings.department_code(id).ok_or_else(|| {
        PluginError::config(format!(
            "the hub's department `{}` has no SOG code: add `department.<SOG code> = \"{}\"` to the plugin's settings",
            rules::shown(id),
            rules::shown(id)
        ))
    })?;
    Ok(Some(Official {
        department: code.to_string(),
        name: None,
    }))
}

/// The applicant from the client. A citizen's name is read in the Russian order,
/// Фамилия Имя Отчество, as appeals and the hub's connectors give it.
fn applicant(client: &Client) -> Result<Applicant, PluginError> {
    let contact = |kind: &str| {
        client
            .contacts
            .iter()
            .find(|c| c.kind == kind)
            .map(|c| c.value.clone())
    };
    let name = client
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            PluginError::unsupported(
                "the appeal names no applicant; SOG registers an appeal under its author's name (59-FZ, art. 11)",
            )
        })?;
    let mut applicant = Applicant {
        kind: ApplicantType::Citizen,
        last_name: None,
        first_name: None,
        middle_name: None,
        organisation: None,
        inn: contact("inn").filter(|v| rules::inn("$", v).is_ok()),
        address: contact("postal-address").map(|a| a.chars().take(1000).collect()),
        email: contact("email").filter(|v| rules::email("$", v).is_ok()),
        phone: contact("phone").filter(|v| rules::phone("$", v).is_ok()),
        benefits: Some(
            client
                .segments
                .iter()
                .filter(|s| *s != "collective" && rules::tag("$", s).is_ok())
                .take(20)
                .cloned()
                .collect::<Vec<_>>(),
        )
        .filter(|b| !b.is_empty()),
    };
    if client.kind == ClientKind::Business {
        applicant.kind = ApplicantType::Organisation;
        applicant.organisation = Some(name.chars().take(1000).collect());
        return Ok(applicant);
    }
    let mut words = name.split_whitespace();
    let (last, first) = (words.next(), words.next());
    let rest: Vec<&str> = words.collect();
    match (last, first) {
        (Some(last), Some(first)) => {
            applicant.last_name = Some(last.chars().take(1000).collect());
            applicant.first_name = Some(first.chars().take(1000).collect());
            applicant.middle_name =
                (!rest.is_empty()).then(|| rest.join(" ").chars().take(1000).collect());
            Ok(applicant)
        }
        _ => Err(PluginError::unsupported(
            "the applicant's name is one word; a citizen's SOG card needs a surname and a first name",
        )),
    }
}

fn form(channel: Channel) -> Form {
    match channel {
        Channel::Post | Channel::Edms => Form::Written,
        Channel::Reception | Channel::Phone => Form::Oral,
        _ => Form::Electronic,
    }
}

fn receipt_channel(message: &Message) -> ReceiptChannel {
    // A card that came from SOG keeps the channel SOG recorded.
    let recorded = message.metadata_value("sog.channel").and_then(|name| {
        [
            ReceiptChannel::Post,
            ReceiptChannel::Courier,
            ReceiptChannel::EReception,
            ReceiptChannel::Email,
            ReceiptChannel::Epgu,
            ReceiptChannel::PersonalReception,
            ReceiptChannel::Phone,
            ReceiptChannel::Fax,
            ReceiptChannel::FromBody,
            ReceiptChannel::Medo,
        ]
        .into_iter()
        .find(|c| crate::decode::channel_name(*c) == name)
    });
    if let Some(channel) = recorded {
        return channel;
    }
    match message.channel {
        Channel::Mail => ReceiptChannel::Email,
        Channel::Epgu => ReceiptChannel::Epgu,
        Channel::Edms => ReceiptChannel::Medo,
        Channel::Post => ReceiptChannel::Post,
        Channel::Reception => ReceiptChannel::PersonalReception,
        Channel::Phone => ReceiptChannel::Phone,
        // The site, the KND portal, social networks and the API reach the body online.
        _ => ReceiptChannel::EReception,
    }
}

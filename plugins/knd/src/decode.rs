//! A checked document from the portal → the canonical message. What `encode` needs to
//! answer it (the portal's id, the type, the slots, the meeting format) goes into
//! `knd.*` metadata.

use okno_sdk::prelude::*;

use crate::doc::*;
use crate::rules::parse_time;

pub fn message(doc: Incoming) -> Message {
    let (mut message, id, created_at, applicant) = match &doc {
        Incoming::Question(q) => {
            let mut m = Message::new(Channel::Knd, q.text.clone());
            m.subject = Some(q.subject.clone());
            push(&mut m, "knd.control-kind-code", &q.control_kind.code);
            push(&mut m, "knd.control-kind", &q.control_kind.name);
            push(&mut m, "knd.authority-code", &q.authority.code);
            if let Some(code) = &q.topic_code {
                push(&mut m, "knd.topic-code", code);
            }
            (m, &q.id, &q.created_at, &q.applicant)
        }
        Incoming::VisitRequest(v) => {
            let what = match v.request_kind {
                RequestKind::PreventiveVisit => "Профилактический визит",
                RequestKind::Consultation => "Консультирование",
            };
            let body = match &v.text {
                Some(text) => format!("{}\n\n{text}", v.topic),
                None => v.topic.clone(),
            };
            let mut m = Message::new(Channel::Knd, body);
            m.subject = Some(format!("{what}: {}", v.topic));
            push(
                &mut m,
                "knd.request-kind",
                match v.request_kind {
                    RequestKind::PreventiveVisit => "preventive_visit",
                    RequestKind::Consultation => "consultation",
                },
            );
            push(&mut m, "knd.meeting-format", v.meeting_format.as_str());
            push(&mut m, "knd.control-kind-code", &v.control_kind.code);
            push(&mut m, "knd.control-kind", &v.control_kind.name);
            push(&mut m, "knd.authority-code", &v.authority.code);
            if let Some(object) = &v.control_object {
                push(&mut m, "knd.object-address", &object.address);
                if let Some(name) = &object.name {
                    push(&mut m, "knd.object-name", name);
                }
            }
            for slot in &v.preferred_slots {
                push(
                    &mut m,
                    "knd.preferred-slot",
                    &format!("{}/{}", slot.start, slot.end),
                );
            }
            (m, &v.id, &v.created_at, &v.applicant)
        }
        Incoming::SlotChoice(c) => {
            let mut m = Message::new(
                Channel::Knd,
                format!("Выбрано время: {} — {}", c.slot.start, c.slot.end),
            );
            m.subject = Some("Выбор времени профилактического мероприятия".into());
            m.thread.in_reply_to = Some(c.in_reply_to.clone());
            push(&mut m, "knd.meeting-format", c.meeting_format.as_str());
            push(
                &mut m,
                "knd.preferred-slot",
                &format!("{}/{}", c.slot.start, c.slot.end),
            );
            (m, &c.id, &c.created_at, &c.applicant)
        }
        Incoming::SelfAssessment(s) => {
            let count = |c: Compliance| s.answers.iter().filter(|a| a.answer == c).count();
            // The body lists what is not complied with: that is what an inspector reads.
            let mut body = format!(
                "Самообследование по проверочному листу «{}»: соблюдается {}, не соблюдается {}, неприменимо {}.",
                s.checklist.title,
                count(Compliance::Yes),
                count(Compliance::No),
                count(Compliance::NotApplicable)
            );
            for a in s.answers.iter().filter(|a| a.answer == Compliance::No) {
                body.push_str(&format!("\n— {} ({})", a.question, a.question_id));
                if let Some(comment) = &a.comment {
                    body.push_str(&format!(": {comment}"));
                }
            }
            let mut m = Message::new(Channel::Knd, body);
            m.subject = Some(format!("Самообследование: {}", s.checklist.title));
            push(&mut m, "knd.control-kind-code", &s.control_kind.code);
            push(&mut m, "knd.control-kind", &s.control_kind.name);
            push(&mut m, "knd.authority-code", &s.authority.code);
            push(&mut m, "knd.checklist-id", &s.checklist.id);
            push(
                &mut m,
                "knd.answers-yes",
                &count(Compliance::Yes).to_string(),
            );
            push(&mut m, "knd.answers-no", &count(Compliance::No).to_string());
            push(
                &mut m,
                "knd.answers-not-applicable",
                &count(Compliance::NotApplicable).to_string(),
            );
            if s.declaration_requested == Some(true) {
                push(&mut m, "knd.declaration-requested", "true");
            }
            (m, &s.id, &s.created_at, &s.applicant)
        }
    };
    let kind = match &doc {
        Incoming::Question(_) => "question",
        Incoming::VisitRequest(_) => "visit_request",
        Incoming::SlotChoice(_) => "slot_choice",
        Incoming::SelfAssessment(_) => "self_assessment",
    };
    message.idempotency_key = Some(format!("knd:{id}"));
    message.sent_at = parse_time(created_at);
    message.client = client(applicant);
    message.metadata.insert(0, ("knd.id".into(), id.clone()));
    message.metadata.insert(1, ("knd.type".into(), kind.into()));
    message
}

fn push(m: &mut Message, key: &str, value: &str) {
    m.metadata.push((key.into(), value.into()));
}

fn client(a: &Applicant) -> Client {
    let mut client = Client {
        kind: match a.kind {
            ApplicantKind::Citizen => ClientKind::Citizen,
            _ => ClientKind::Business,
        },
        name: Some(a.name.clone()),
        ..Client::default()
    };
    if a.kind != ApplicantKind::Citizen {
        client.segments.push("entrepreneur".into());
    }
    let contacts = [
        ("email", a.email.as_ref()),
        ("phone", a.phone.as_ref()),
        ("inn", Some(&a.inn)),
        ("ogrn", a.ogrn.as_ref()),
        ("contact-person", a.contact_person.as_ref()),
    ];
    for (kind, value) in contacts {
        if let Some(value) = value {
            client.contacts.push(Contact {
                kind: kind.into(),
                value: value.clone(),
            });
        }
    }
    client
}

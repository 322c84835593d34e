//! The documents of `examples/formats/knd.schema.json` as Rust types: objects refuse
//! fields they do not name, enums values they do not list, and an optional field may be
//! absent but not `null`. What types cannot say is checked in `check.rs`.

use serde::{Deserialize, Deserializer, Serialize};

/// The value of `format` this plugin reads and writes.
pub const FORMAT: &str = "knd/1";

/// The document types, as `type` names them.
pub const TYPES: [&str; 7] = [
    "question",
    "visit_request",
    "slot_choice",
    "self_assessment",
    "answer",
    "slot_offer",
    "appointment_confirmation",
];

/// A document from the portal.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    Question(Question),
    VisitRequest(VisitRequest),
    SlotChoice(SlotChoice),
    SelfAssessment(SelfAssessment),
}

/// A document to the portal.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Outgoing {
    Answer(Answer),
    SlotOffer(SlotOffer),
    Confirmation(Confirmation),
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub format: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub created_at: String,
    pub applicant: Applicant,
    pub control_kind: Coded,
    pub authority: Coded,
    pub subject: String,
    pub text: String,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub topic_code: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VisitRequest {
    pub format: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub created_at: String,
    pub applicant: Applicant,
    pub control_kind: Coded,
    pub authority: Coded,
    pub request_kind: RequestKind,
    pub meeting_format: MeetingFormat,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub control_object: Option<ControlObject>,
    pub topic: String,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub text: Option<String>,
    pub preferred_slots: Vec<Slot>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SlotChoice {
    pub format: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub created_at: String,
    pub in_reply_to: String,
    pub applicant: Applicant,
    pub meeting_format: MeetingFormat,
    pub slot: Slot,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SelfAssessment {
    pub format: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub created_at: String,
    pub applicant: Applicant,
    pub control_kind: Coded,
    pub authority: Coded,
    pub checklist: Checklist,
    pub answers: Vec<ChecklistAnswer>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub declaration_requested: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    pub format: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub created_at: String,
    pub in_reply_to: String,
    pub status: AnswerStatus,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub department: Option<String>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub deadline: Option<String>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub text: Option<String>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub signed_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SlotOffer {
    pub format: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub created_at: String,
    pub in_reply_to: String,
    pub meeting_format: MeetingFormat,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub place: Option<String>,
    pub slots: Vec<Slot>,
    pub valid_until: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Confirmation {
    pub format: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub created_at: String,
    pub in_reply_to: String,
    pub meeting_format: MeetingFormat,
    pub slot: Slot,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub place: Option<String>,
    pub confirmation_number: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicantKind {
    LegalEntity,
    Entrepreneur,
    Citizen,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Applicant {
    pub kind: ApplicantKind,
    pub name: String,
    pub inn: String,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub ogrn: Option<String>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub contact_person: Option<String>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub email: Option<String>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub phone: Option<String>,
}

/// A code with its name: the kind of control (ЕРВК) or the authority.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Coded {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    PreventiveVisit,
    Consultation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MeetingFormat {
    InPerson,
    Video,
    Phone,
}

impl MeetingFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            MeetingFormat::InPerson => "in_person",
            MeetingFormat::Video => "video",
            MeetingFormat::Phone => "phone",
        }
    }

    pub fn parse(name: &str) -> Option<MeetingFormat> {
        [
            MeetingFormat::InPerson,
            MeetingFormat::Video,
            MeetingFormat::Phone,
        ]
        .into_iter()
        .find(|f| f.as_str() == name)
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ControlObject {
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    pub address: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Slot {
    pub start: String,
    pub end: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Checklist {
    pub id: String,
    pub title: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Compliance {
    Yes,
    No,
    NotApplicable,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChecklistAnswer {
    pub question_id: String,
    pub question: String,
    pub answer: Compliance,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerStatus {
    Registered,
    Answered,
}

/// An optional field that, when given, must hold a value: `null` is refused like any
/// other wrong type, as the schema refuses it.
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

//! The form's fields checked, each problem noted, and the appeal made when there is none.

use base64::Engine;
use okno_sdk::config;
use okno_sdk::prelude::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::form::{Fields, Format, Raw};
use crate::problems::{Problem, Problems};

/// The form's limits (settings of the plugin).
#[derive(Clone, Debug)]
pub struct Limits {
    pub max_text_chars: usize,
    pub max_attachments: usize,
    pub max_attachment_bytes: usize,
    pub max_total_attachment_bytes: usize,
    pub attachment_types: Vec<String>,
}

const DEFAULT_TYPES: &[&str] = &[
    "application/pdf",
    "image/jpeg",
    "image/png",
    "image/tiff",
    "text/plain",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/rtf",
    "application/vnd.oasis.opendocument.text",
];

/// Longest name part and postal address, in characters.
const MAX_NAME_CHARS: usize = 100;
const MAX_ADDRESS_CHARS: usize = 500;
const MAX_SUBJECT_CHARS: usize = 300;

fn number(key: &str, default: usize) -> Result<usize, PluginError> {
    match config::get(key) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| {
            PluginError::config(format!(
                "setting `{key}` is `{v}`; write a whole number, e.g. `{default}`"
            ))
        }),
    }
}

impl Limits {
    pub fn from_config() -> Result<Limits, PluginError> {
        let attachment_types = match config::get("attachment-types") {
            None => DEFAULT_TYPES.iter().map(|t| t.to_string()).collect(),
            Some(list) => list
                .split(',')
                .map(|t| t.trim().to_ascii_lowercase())
                .filter(|t| !t.is_empty())
                .collect(),
        };
        Ok(Limits {
            max_text_chars: number("max-text-chars", 20_000)?,
            max_attachments: number("max-attachments", 5)?,
            max_attachment_bytes: number("max-attachment-bytes", 5 * 1024 * 1024)?,
            max_total_attachment_bytes: number("max-total-attachment-bytes", 10 * 1024 * 1024)?,
            attachment_types,
        })
    }
}

/// A text field: absent, empty and whitespace alike are "not given"; a JSON value that
/// is not a string is invalid.
fn text<'a>(fields: &'a Fields, key: &str, problems: &mut Problems) -> Option<&'a str> {
    match fields.get(key) {
        None => None,
        Some(Raw::Text(s)) => Some(s.trim()).filter(|s| !s.is_empty()),
        Some(Raw::Json(Value::Null)) => None,
        Some(Raw::Json(_)) => {
            problems.add(key, Problem::Invalid, "ожидается текст", "expected text");
            None
        }
    }
}

fn required<'a>(
    fields: &'a Fields,
    key: &str,
    ru_name: &str,
    problems: &mut Problems,
) -> Option<&'a str> {
    let value = text(fields, key, problems);
    // A field already reported (not UTF-8, not text) is not also "missing".
    if value.is_none() && !problems.0.iter().any(|p| p.field == key) {
        problems.add(
            key,
            Problem::Missing,
            format!("поле «{ru_name}» обязательно"),
            format!("{} is required", key.replace('_', " ")),
        );
    }
    value
}

fn name_part(value: Option<&str>, key: &str, problems: &mut Problems) -> Option<String> {
    let value = value?;
    if value.chars().count() > MAX_NAME_CHARS {
        problems.add(
            key,
            Problem::TooLarge,
            format!("не длиннее {MAX_NAME_CHARS} символов"),
            format!("at most {MAX_NAME_CHARS} characters"),
        );
        return None;
    }
    if value.chars().any(|c| c.is_ascii_digit() || c.is_control()) {
        problems.add(
            key,
            Problem::Invalid,
            "цифры и управляющие символы недопустимы",
            "digits and control characters are not allowed",
        );
        return None;
    }
    Some(value.to_string())
}

fn valid_email(value: &str) -> bool {
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    value.len() <= 254
        && !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn valid_phone(value: &str) -> bool {
    let digits = value.chars().filter(char::is_ascii_digit).count();
    (10..=15).contains(&digits)
        && value
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '(' | ')' | '-'))
}

fn consent_given(fields: &Fields, problems: &mut Problems) -> bool {
    let given = match fields.get("consent") {
        Some(Raw::Json(Value::Bool(b))) => *b,
        Some(Raw::Json(Value::Number(n))) => n.as_i64() == Some(1),
        Some(Raw::Text(s)) => matches!(
            s.trim().to_lowercase().as_str(),
            "true" | "on" | "yes" | "1" | "да"
        ),
        _ => false,
    };
    if !given {
        problems.add(
            "consent",
            Problem::Missing,
            "необходимо согласие на обработку персональных данных",
            "consent to the processing of personal data is required",
        );
    }
    given
}

fn attachments(
    fields: &Fields,
    format: Format,
    limits: &Limits,
    problems: &mut Problems,
) -> Vec<Attachment> {
    let list = match fields.get("attachments") {
        None | Some(Raw::Json(Value::Null)) => return Vec::new(),
        Some(Raw::Json(Value::Array(list))) if format == Format::Json => list,
        Some(_) => {
            problems.add(
                "attachments",
                Problem::Invalid,
                "файлы передаются списком в JSON: name, media_type, content (base64)",
                "files come as a JSON list of name, media_type, content (base64)",
            );
            return Vec::new();
        }
    };
    if list.len() > limits.max_attachments {
        problems.add(
            "attachments",
            Problem::TooLarge,
            format!("не более {} файлов", limits.max_attachments),
            format!("at most {} files", limits.max_attachments),
        );
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut total = 0usize;
    for (i, item) in list.iter().enumerate() {
        let at = |part: &str| format!("attachments[{i}].{part}");
        let field = |part: &str| {
            item.get(part)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        let name = field("name");
        let media_type = field("media_type").map(str::to_ascii_lowercase);
        let content = field("content");
        if name.is_none() {
            problems.add(
                &at("name"),
                Problem::Missing,
                "нет имени файла",
                "the file has no name",
            );
        }
        match &media_type {
            None => problems.add(
                &at("media_type"),
                Problem::Missing,
                "не указан тип файла",
                "the file's media type is missing",
            ),
            Some(t) if !limits.attachment_types.contains(t) => problems.add(
                &at("media_type"),
                Problem::Invalid,
                format!("файлы типа {t} не принимаются"),
                format!("files of type {t} are not accepted"),
            ),
            Some(_) => {}
        }
        let bytes = match content.map(|c| base64::engine::general_purpose::STANDARD.decode(c)) {
            None => {
                problems.add(
                    &at("content"),
                    Problem::Missing,
                    "файл пуст",
                    "the file is empty",
                );
                None
            }
            Some(Err(_)) => {
                problems.add(
                    &at("content"),
                    Problem::Invalid,
                    "содержимое не в base64",
                    "the content is not base64",
                );
                None
            }
            Some(Ok(bytes)) if bytes.len() > limits.max_attachment_bytes => {
                problems.add(
                    &at("content"),
                    Problem::TooLarge,
                    format!("файл больше {} байт", limits.max_attachment_bytes),
                    format!("the file is over {} bytes", limits.max_attachment_bytes),
                );
                None
            }
            Some(Ok(bytes)) => Some(bytes),
        };
        let (Some(name), Some(media_type), Some(bytes)) = (name, media_type, bytes) else {
            continue;
        };
        total += bytes.len();
        let sha256: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        out.push(Attachment {
            name: name.to_string(),
            media_type,
            size: bytes.len() as u64,
            content_ref: format!("sha256:{sha256}"),
            sha256,
        });
    }
    if total > limits.max_total_attachment_bytes {
        problems.add(
            "attachments",
            Problem::TooLarge,
            format!(
                "файлы вместе больше {} байт",
                limits.max_total_attachment_bytes
            ),
            format!(
                "the files together are over {} bytes",
                limits.max_total_attachment_bytes
            ),
        );
    }
    out
}

/// The appeal, or every problem of the form in one error.
pub fn appeal(
    fields: &Fields,
    mut problems: Problems,
    limits: &Limits,
    format: Format,
) -> Result<Message, PluginError> {
    let surname = required(fields, "surname", "Фамилия", &mut problems);
    let surname = name_part(surname, "surname", &mut problems);
    let name = required(fields, "name", "Имя", &mut problems);
    let name = name_part(name, "name", &mut problems);
    let patronymic = text(fields, "patronymic", &mut problems);
    let patronymic = name_part(patronymic, "patronymic", &mut problems);

    let email = text(fields, "email", &mut problems);
    let address = text(fields, "postal_address", &mut problems);
    if email.is_none()
        && address.is_none()
        && !problems
            .0
            .iter()
            .any(|p| p.field == "email" || p.field == "postal_address")
    {
        problems.add(
            "email",
            Problem::Missing,
            "укажите адрес электронной почты или почтовый адрес для ответа",
            "give an e-mail or a postal address for the answer",
        );
    }
    if email.is_some_and(|e| !valid_email(e)) {
        problems.add(
            "email",
            Problem::Invalid,
            "адрес электронной почты указан неверно",
            "the e-mail address is not valid",
        );
    }
    if address.is_some_and(|a| a.chars().count() > MAX_ADDRESS_CHARS) {
        problems.add(
            "postal_address",
            Problem::TooLarge,
            format!("не длиннее {MAX_ADDRESS_CHARS} символов"),
            format!("at most {MAX_ADDRESS_CHARS} characters"),
        );
    }
    let phone = text(fields, "phone", &mut problems);
    if phone.is_some_and(|p| !valid_phone(p)) {
        problems.add(
            "phone",
            Problem::Invalid,
            "номер телефона: от 10 до 15 цифр",
            "a phone number has 10 to 15 digits",
        );
    }
    let organisation = text(fields, "organisation", &mut problems);
    let subject = text(fields, "subject", &mut problems);
    if subject.is_some_and(|s| s.chars().count() > MAX_SUBJECT_CHARS) {
        problems.add(
            "subject",
            Problem::TooLarge,
            format!("не длиннее {MAX_SUBJECT_CHARS} символов"),
            format!("at most {MAX_SUBJECT_CHARS} characters"),
        );
    }
    let body = required(fields, "text", "Текст обращения", &mut problems);
    if body.is_some_and(|b| b.chars().count() > limits.max_text_chars) {
        problems.add(
            "text",
            Problem::TooLarge,
            format!("текст не длиннее {} символов", limits.max_text_chars),
            format!("the text is at most {} characters", limits.max_text_chars),
        );
    }
    consent_given(fields, &mut problems);
    let files = attachments(fields, format, limits, &mut problems);
    let form_id = match fields.get("id") {
        Some(Raw::Json(Value::Number(n))) => Some(n.to_string()),
        _ => text(fields, "id", &mut problems).map(String::from),
    };

    if !problems.is_empty() {
        return Err(problems.into_error());
    }
    let (Some(surname), Some(name), Some(body)) = (surname, name, body) else {
        return Err(PluginError::internal(
            "a required field passed without a problem noted",
        ));
    };
    let mut m = Message::new(Channel::Site, body);
    m.client.kind = if organisation.is_some() {
        ClientKind::Business
    } else {
        ClientKind::Citizen
    };
    let full_name = [
        Some(surname.as_str()),
        Some(name.as_str()),
        patronymic.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    m.client.name = Some(full_name);
    for (kind, value) in [
        ("email", email),
        ("postal-address", address),
        ("phone", phone),
    ] {
        if let Some(value) = value {
            m.client.contacts.push(Contact {
                kind: kind.into(),
                value: value.into(),
            });
        }
    }
    m.subject = Some(
        subject
            .unwrap_or("Обращение через интернет-приёмную")
            .to_string(),
    );
    m.attachments = files;
    m.metadata.push(("site.consent".into(), "true".into()));
    m.metadata.push((
        "site.format".into(),
        match format {
            Format::Json => "json",
            Format::UrlEncoded => "urlencoded",
        }
        .into(),
    ));
    if let Some(org) = organisation {
        m.metadata.push(("site.organisation".into(), org.into()));
    }
    if let Some(id) = form_id {
        m.idempotency_key = Some(format!("site:{id}"));
        m.metadata.push(("site.form-id".into(), id));
    }
    Ok(m)
}

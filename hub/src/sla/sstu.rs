//! The monthly export for the federal appeals statistics (ССТУ.РФ): CSV in the «Мастер
//! обзоров» import layout — UTF-8 with a BOM, CRLF line ends, `;` between fields, the 25
//! columns below in this order, dates `DD.MM.YYYY`. One row per appeal received in the
//! month (in the body's time zone); a value the hub does not know is left empty.
//!
//! The layout names its columns without defining them; the hub reads the three it fills
//! from an appeal's life as: ПВ «переадресовано в» (the body a forwarded appeal went
//! to), ОЖ «ожидается ответ» (the answer deadline while an answer is owed) and «Цель
//! напр.» (why a forwarded appeal went there, as its forwarding says).

use serde::{Deserialize, Serialize};

use super::{Appeal, AppealState};
use crate::model::{AppealKind, Channel, ClientKind, Timestamp};
use crate::store::Record;

pub const COLUMNS: [&str; 25] = [
    "ГруппаГ",
    "Округ",
    "Регион",
    "Район",
    "Город",
    "Кол-во",
    "Номер",
    "Дата",
    "Код",
    "Наименование",
    "Тип",
    "Комп",
    "ПВ",
    "Орган",
    "Группа",
    "ОЖ",
    "Контр",
    "Сотрудник",
    "Вид письма",
    "ОрганССТУ",
    "ГруппаССТУ",
    "Цель напр.",
    "Событие",
    "Повторность",
    "Приемная",
];

/// `[sla.sstu]`: what the body writes in every row.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SstuConfig {
    /// Федеральный округ, e.g. «Уральский федеральный округ».
    pub district: String,
    /// Субъект, e.g. «Свердловская область».
    pub region: String,
    /// The body's name.
    pub organ: String,
    /// The body as ССТУ.РФ names it, and its group there.
    pub organ_sstu: String,
    pub group_sstu: String,
}

/// A calendar month `YYYY-MM`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Month {
    pub year: i32,
    pub month: u8,
}

impl Month {
    pub fn parse(text: &str) -> Result<Month, String> {
        let err = || format!("month {text:?} is not YYYY-MM, e.g. 2026-10");
        let (y, m) = text.trim().split_once('-').ok_or_else(err)?;
        let year: i32 = y.parse().map_err(|_| err())?;
        let month: u8 = m.parse().map_err(|_| err())?;
        if y.len() != 4 || m.len() != 2 || !(1..=12).contains(&month) {
            return Err(err());
        }
        Ok(Month { year, month })
    }

    /// `[start, end)` in ms, in a time zone `utc_offset_minutes` east of UTC.
    pub fn range(self, utc_offset_minutes: i32) -> (Timestamp, Timestamp) {
        let first = okno_calendar::Day::new(self.year, self.month, 1);
        let next = if self.month == 12 {
            okno_calendar::Day::new(self.year + 1, 1, 1)
        } else {
            okno_calendar::Day::new(self.year, self.month + 1, 1)
        };
        let offset = i64::from(utc_offset_minutes) * 60_000;
        (
            first.to_days() * 86_400_000 - offset,
            next.to_days() * 86_400_000 - offset,
        )
    }
}

fn date(at: Timestamp, utc_offset_minutes: i32) -> String {
    let day = okno_calendar::Day::from_days(
        (at + i64::from(utc_offset_minutes) * 60_000).div_euclid(86_400_000),
    );
    format!("{:02}.{:02}.{:04}", day.day, day.month, day.year)
}

fn kind_name(kind: AppealKind) -> &'static str {
    match kind {
        AppealKind::Proposal => "Предложение",
        AppealKind::Statement => "Заявление",
        AppealKind::Complaint => "Жалоба",
        AppealKind::Inquiry => "Запрос",
        AppealKind::Gratitude => "Благодарность",
        AppealKind::Other => "Иное",
    }
}

fn letter(channel: Channel) -> &'static str {
    match channel {
        Channel::Reception | Channel::Phone => "Устное",
        Channel::Post => "Письменное",
        Channel::Social => "Социальные сети",
        _ => "В форме электронного документа",
    }
}

fn event(state: AppealState) -> &'static str {
    match state {
        AppealState::Answered | AppealState::Closed => "Рассмотрено",
        AppealState::Forwarded => "Направлено по компетенции",
        AppealState::Extended => "Срок рассмотрения продлён",
        _ => "Находится на рассмотрении",
    }
}

/// A field as the layout takes it: no `;` or line breaks inside (they would break the
/// columns; the import has no quoting), trimmed.
fn field(text: &str) -> String {
    text.replace([';', '\r', '\n'], " ").trim().to_string()
}

/// One appeal's row.
pub fn row(
    appeal: &Appeal,
    record: Option<&Record>,
    config: &SstuConfig,
    department_name: Option<&str>,
    utc_offset_minutes: i32,
) -> [String; 25] {
    let message = record.map(|r| &r.message);
    let meta = |key: &str| {
        message
            .and_then(|m| m.metadata_value(key))
            .map(field)
            .unwrap_or_default()
    };
    let classification = record.and_then(|r| r.classification.as_ref());
    let topic = classification.and_then(|c| c.topic.as_ref());
    let kind = classification.and_then(|c| c.kind.as_ref());
    let number = ["edms.reg-number", "sog.reg-number", "epgu.order-number"]
        .iter()
        .map(|k| meta(k))
        .find(|v| !v.is_empty())
        .unwrap_or_else(|| appeal.id.clone());
    let group = match message.map(|m| m.client.kind) {
        Some(ClientKind::Citizen) => "Граждане",
        Some(ClientKind::Business) => "Юридические лица",
        _ => "",
    };
    [
        group.into(),
        field(&config.district),
        field(&config.region),
        meta("address.district"),
        meta("address.city"),
        "1".into(),
        number,
        date(
            appeal.registered_at.unwrap_or(appeal.received_at),
            utc_offset_minutes,
        ),
        appeal.topic.clone().map(|t| field(&t)).unwrap_or_default(),
        topic.map(|t| field(&t.best.name)).unwrap_or_default(),
        kind.map(|k| kind_name(k.kind).to_string())
            .unwrap_or_default(),
        if appeal.state == AppealState::Forwarded {
            "Нет"
        } else {
            "Да"
        }
        .into(),
        // ПВ, «переадресовано в»: the body a forwarded appeal went to.
        if appeal.state == AppealState::Forwarded {
            appeal
                .forwarded_to
                .as_deref()
                .map(field)
                .unwrap_or_else(|| meta("sog.forwarded-to"))
        } else {
            String::new()
        },
        field(&config.organ),
        department_name.map(field).unwrap_or_default(),
        // ОЖ, «ожидается ответ»: the answer deadline, while an answer is owed.
        appeal
            .answer_deadline
            .filter(|_| !appeal.state.is_done())
            .map(|d| date(d, utc_offset_minutes))
            .unwrap_or_default(),
        if appeal.state.is_done() {
            "Нет"
        } else {
            "Да"
        }
        .into(),
        appeal.executor.as_deref().map(field).unwrap_or_default(),
        letter(appeal.channel).into(),
        field(&config.organ_sstu),
        field(&config.group_sstu),
        // «Цель напр.»: why a forwarded appeal went there, as the forwarding says.
        if appeal.state == AppealState::Forwarded {
            appeal.forwarding_reason().map(field).unwrap_or_default()
        } else {
            String::new()
        },
        event(appeal.state).into(),
        if kind.is_some_and(|k| k.repeat) {
            "Повторное"
        } else {
            "Первичное"
        }
        .into(),
        if appeal.channel == Channel::Reception {
            "Да"
        } else {
            ""
        }
        .into(),
    ]
}

/// The file: BOM, header, rows, each line ending in CRLF.
pub fn export(rows: impl IntoIterator<Item = [String; 25]>) -> Vec<u8> {
    let mut out = "\u{feff}".to_string();
    out.push_str(&COLUMNS.join(";"));
    out.push_str("\r\n");
    for row in rows {
        out.push_str(&row.join(";"));
        out.push_str("\r\n");
    }
    out.into_bytes()
}

/// The month's export from the store: appeals received in it, in arrival order.
pub fn export_month(
    sla: &super::Sla,
    store: &crate::store::Store,
    config: &crate::config::Config,
    month: Month,
) -> anyhow::Result<Vec<u8>> {
    let offset = config.hub.utc_offset_minutes;
    let (start, end) = month.range(offset);
    let mut rows = Vec::new();
    for appeal in sla.scan() {
        let appeal = appeal?;
        if appeal.received_at < start || appeal.received_at >= end {
            continue;
        }
        let record = store.get(&appeal.id)?;
        let department = appeal.department.as_deref().map(|id| {
            config
                .departments
                .iter()
                .find(|d| d.id == id)
                .map_or(id, |d| {
                    if d.name.is_empty() {
                        id
                    } else {
                        d.name.as_str()
                    }
                })
        });
        rows.push(row(
            &appeal,
            record.as_ref(),
            &config.sla.sstu,
            department,
            offset,
        ));
    }
    Ok(export(rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_and_span_local_time() {
        assert_eq!(
            Month::parse("2026-10"),
            Ok(Month {
                year: 2026,
                month: 10
            })
        );
        assert!(Month::parse("2026-13").is_err());
        assert!(Month::parse("10.2026").is_err());
        let (start, end) = Month {
            year: 2026,
            month: 12,
        }
        .range(300);
        assert_eq!(date(start, 300), "01.12.2026");
        assert_eq!(date(end - 1, 300), "31.12.2026");
        assert_eq!(date(end, 300), "01.01.2027");
    }

    #[test]
    fn fields_cannot_break_the_columns() {
        assert_eq!(field(" a;b\r\nc "), "a b  c");
        let bytes = export([std::array::from_fn(|i| i.to_string())]);
        assert!(bytes.starts_with("\u{feff}ГруппаГ;Округ;".as_bytes()));
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(text.matches("\r\n").count(), 2);
        assert_eq!(text.lines().nth(1).unwrap().split(';').count(), 25);
    }
}

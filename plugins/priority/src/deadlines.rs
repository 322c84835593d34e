//! Registration and answer deadlines, by channel, as the ministry's order and 59-FZ set
//! them.

use okno_sdk::prelude::*;
use okno_sdk::{calendar, time};

use crate::settings::PolicySettings;
use crate::words;

/// 59-FZ art. 8 part 3: a written appeal is registered within three days of receipt.
pub const REGISTRATION_WORKING_DAYS: u32 = 3;
/// 59-FZ art. 12 part 1: answered within 30 days of registration.
pub const ANSWER_DAYS: i64 = 30;

const MS_PER_HOUR: i64 = 3_600_000;

#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Deadlines {
    pub registration: Option<Timestamp>,
    pub answer: Option<Timestamp>,
    /// Set when the answer deadline is counted in hours rather than days.
    pub answer_hours: Option<u32>,
}

/// What a social-network message is, by the connector's metadata `social.kind`.
#[derive(Clone, Copy, Debug, PartialEq)]
enum SocialKind {
    Mention,
    Appeal,
    Comment,
}

pub(crate) fn deadlines(
    message: &Message,
    settings: &PolicySettings,
    to_deputy_minister: bool,
    reasons: &mut Vec<String>,
) -> Result<Deadlines, PluginError> {
    let received = time::local_date(message.received_at);
    let mut out = Deadlines::default();

    let social = match message.channel {
        Channel::Social => Some(social_kind(message)?),
        _ => None,
    };
    if social != Some(SocialKind::Mention) {
        let due = calendar::add_working_days(received, REGISTRATION_WORKING_DAYS);
        out.registration = Some(time::end_of_local_day(due));
        reasons.push(format!(
            "Регистрация — в течение {REGISTRATION_WORKING_DAYS} рабочих дней с даты поступления \
             (59-ФЗ, ст. 8): не позднее {}",
            words::date(due)
        ));
    }

    // Whether an answer was already given where the appeal was made, so none is owed.
    let mut answered = false;
    match (message.channel, social) {
        (Channel::Social, Some(kind)) => {
            let (hours, what) = match kind {
                SocialKind::Mention => (
                    settings.social_mention_hours,
                    "Упоминание в социальной сети или мессенджере",
                ),
                SocialKind::Appeal => (
                    settings.social_appeal_hours,
                    "Официальное обращение в социальной сети или мессенджере",
                ),
                SocialKind::Comment => (
                    settings.social_appeal_hours,
                    "Комментарий к официальной публикации",
                ),
            };
            let due = message.received_at + i64::from(hours) * MS_PER_HOUR;
            out.answer = Some(due);
            out.answer_hours = Some(hours);
            let registration = if kind == SocialKind::Mention {
                "; регистрация не требуется"
            } else {
                ""
            };
            reasons.push(format!(
                "{what}: ответ в течение {} (приказ министерства), до {}{registration}",
                words::hours_genitive(hours),
                words::moment(due)
            ));
        }
        (Channel::Phone, _) if flag(message, "phone.answered-on-call")? => {
            answered = true;
            reasons.push(
                "Обращение по телефону: ответ дан во время звонка, письменный ответ не требуется"
                    .into(),
            );
        }
        (Channel::Reception, _) if flag(message, "reception.answered-on-spot")? => {
            answered = true;
            reasons.push(
                "Устное обращение: ответ дан на личном приёме с согласия заявителя (59-ФЗ, ст. 13), \
                 письменный ответ не требуется"
                    .into(),
            );
        }
        _ => {
            let what = match message.channel {
                Channel::Reception => "Устное обращение на личном приёме: письменный ответ",
                Channel::Phone => "Обращение по телефону: ответ, как на письменное обращение,",
                _ => "Письменное обращение: ответ",
            };
            out.answer = Some(thirty_days(out.registration, received, what, reasons));
        }
    }

    if to_deputy_minister && !answered {
        // «Considered the same day, at the latest the next working day»: received on a
        // day off, the same day is the next working day, and the latest the one after.
        let due_day = calendar::add_working_days(received, 1);
        let due = time::end_of_local_day(due_day);
        if out.answer.is_none_or(|answer| due < answer) {
            out.answer = Some(due);
            out.answer_hours = None;
            reasons.push(format!(
                "Обращение адресовано заместителю министра: рассматривается в день поступления, \
                 не позднее следующего рабочего дня — до конца дня {}",
                words::date(due_day)
            ));
        }
    }

    // An appeal cannot be answered before it is registered, so a short answer deadline
    // (social networks, a deputy minister) brings registration forward with it.
    if let (Some(registration), Some(answer)) = (out.registration, out.answer) {
        if answer < registration {
            out.registration = Some(answer);
            reasons.push(format!(
                "Срок ответа наступает раньше срока регистрации: зарегистрировать до {}",
                words::moment(answer)
            ));
        }
    }
    Ok(out)
}

/// 59-FZ counts the 30 days from registration. The hub decides before the appeal is
/// registered, so it counts from the last day registration may take: the deadline it
/// sets then holds however late within its term the appeal is registered. A 30th day
/// that is not a working day moves to the next working day (Civil Code art. 193).
fn thirty_days(
    registration: Option<Timestamp>,
    received: Date,
    what: &str,
    reasons: &mut Vec<String>,
) -> Timestamp {
    let from = registration.map_or(received, time::local_date);
    let thirtieth = time::add_days(from, ANSWER_DAYS);
    let due = calendar::add_working_days(thirtieth, 0);
    reasons.push(format!(
        "{what} в течение {ANSWER_DAYS} дней с даты регистрации (59-ФЗ, ст. 12), считая от \
         последнего дня срока регистрации {}: не позднее {}",
        words::date(from),
        words::date(due)
    ));
    if time::days_from_civil(due) != time::days_from_civil(thirtieth) {
        reasons.push(format!(
            "{ANSWER_DAYS}-й день, {}, — нерабочий: срок ответа перенесён на следующий рабочий \
             день, {}",
            words::date(thirtieth),
            words::date(due)
        ));
    }
    time::end_of_local_day(due)
}

fn social_kind(message: &Message) -> Result<SocialKind, PluginError> {
    match message.metadata_value("social.kind").map(str::trim) {
        None | Some("appeal") => Ok(SocialKind::Appeal),
        Some("mention") => Ok(SocialKind::Mention),
        Some("comment") => Ok(SocialKind::Comment),
        Some(other) => Err(PluginError::invalid_input(format!(
            "metadata `social.kind` = `{other}`: expected `mention`, `appeal` or `comment`"
        ))),
    }
}

/// A yes/no fact from the connector; anything but `true`/`false` is the connector's
/// mistake, and guessing would set a wrong deadline.
fn flag(message: &Message, key: &str) -> Result<bool, PluginError> {
    match message.metadata_value(key).map(str::trim) {
        None => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(other) => Err(PluginError::invalid_input(format!(
            "metadata `{key}` = `{other}`: expected `true` or `false`"
        ))),
    }
}

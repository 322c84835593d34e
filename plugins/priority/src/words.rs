//! How the policy's reasons write priorities, dates and times in Russian.

use okno_sdk::prelude::*;
use okno_sdk::time;

/// «приоритет высокий».
pub(crate) fn nominative(priority: Priority) -> &'static str {
    match priority {
        Priority::Low => "низкий",
        Priority::Normal => "обычный",
        Priority::High => "высокий",
        Priority::Urgent => "срочный",
    }
}

/// «повышен до высокого».
pub(crate) fn genitive(priority: Priority) -> &'static str {
    match priority {
        Priority::Low => "низкого",
        Priority::Normal => "обычного",
        Priority::High => "высокого",
        Priority::Urgent => "срочного",
    }
}

pub(crate) fn kind(kind: AppealKind) -> &'static str {
    match kind {
        AppealKind::Proposal => "предложение",
        AppealKind::Statement => "заявление",
        AppealKind::Complaint => "жалоба",
        AppealKind::Inquiry => "запрос",
        AppealKind::Gratitude => "благодарность",
        AppealKind::Other => "иное",
    }
}

/// The well-known segments in words; others as the connector tagged them.
pub(crate) fn segment(segment: &str) -> &str {
    match segment {
        "senior" => "гражданин старшего возраста",
        "disabled" => "инвалидность",
        "large-family" => "многодетная семья",
        "veteran" => "ветеран",
        "entrepreneur" => "предприниматель",
        "self-employed" => "самозанятый",
        "representative" => "представитель заявителя",
        "organisation" => "организация",
        other => other,
    }
}

/// `13.01.2027`.
pub(crate) fn date(date: Date) -> String {
    format!("{:02}.{:02}.{}", date.day, date.month, date.year)
}

/// `14:30 12.01.2026`, hub-local.
pub(crate) fn moment(at: Timestamp) -> String {
    let local = at + i64::from(okno_sdk::clock::utc_offset_minutes()) * 60_000;
    let minutes_of_day = local.rem_euclid(86_400_000) / 60_000;
    format!(
        "{:02}:{:02} {}",
        minutes_of_day / 60,
        minutes_of_day % 60,
        date(time::local_date(at))
    )
}

/// After «в течение»: `1 часа`, `2 часов`, `21 часа`.
pub(crate) fn hours_genitive(n: u32) -> String {
    let word = if n % 10 == 1 && n % 100 != 11 {
        "часа"
    } else {
        "часов"
    };
    format!("{n} {word}")
}

/// `-0,72`: a Russian reader expects a decimal comma.
pub(crate) fn score(score: f32) -> String {
    format!("{score:.2}").replace('.', ",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_agree_with_the_number() {
        let words: Vec<String> = [1, 2, 4, 11, 21, 111]
            .into_iter()
            .map(hours_genitive)
            .collect();
        assert_eq!(
            words,
            [
                "1 часа",
                "2 часов",
                "4 часов",
                "11 часов",
                "21 часа",
                "111 часов"
            ]
        );
        assert_eq!(score(-0.8), "-0,80");
    }

    #[test]
    fn moment_is_hub_local() {
        let at = time::timestamp_from_rfc3339("2026-01-12T23:30:00Z").unwrap();
        let text = okno_sdk::testing::MockHost::new().run(|| moment(at));
        assert_eq!(text, "02:30 13.01.2026");
    }
}

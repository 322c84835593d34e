//! The вид обращения of the federal typology (the order of the Presidential Administration's
//! directorate for citizens' appeals: 1 предложение, 2 заявление, 3 жалоба, 4 не обращение,
//! 5 запрос информации, 6 запрос, 7 запрос прокуратуры, 8 устное сообщение, 9 сообщение о
//! коррупции). The 59-FZ form read by [`crate::assign`] gives вид 1, 2, 3 and 5 (and 4 for
//! thanks and texts with no request); the others are told by who writes and how, so their
//! cues come first: a report of a bribe is вид 9 whatever it asks for.
//!
//! The cues are written from the typology's definitions and everyday wording, not fitted to
//! any evaluation set (see README, "Kind").

use okno_sdk::prelude::{AppealKind, WitName};

use super::{compile, find, quote, Word};

/// A вид of the federal typology.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FederalKind {
    Proposal,
    Statement,
    Complaint,
    NotAnAppeal,
    InformationRequest,
    OfficialRequest,
    ProsecutorInquiry,
    OralMessage,
    CorruptionReport,
}

impl FederalKind {
    pub const ALL: [FederalKind; 9] = [
        FederalKind::Proposal,
        FederalKind::Statement,
        FederalKind::Complaint,
        FederalKind::NotAnAppeal,
        FederalKind::InformationRequest,
        FederalKind::OfficialRequest,
        FederalKind::ProsecutorInquiry,
        FederalKind::OralMessage,
        FederalKind::CorruptionReport,
    ];

    /// The label used in the tag `kind:<label>`.
    pub fn label(self) -> &'static str {
        match self {
            FederalKind::Proposal => "proposal",
            FederalKind::Statement => "statement",
            FederalKind::Complaint => "complaint",
            FederalKind::NotAnAppeal => "not-an-appeal",
            FederalKind::InformationRequest => "information-request",
            FederalKind::OfficialRequest => "official-request",
            FederalKind::ProsecutorInquiry => "prosecutor-inquiry",
            FederalKind::OralMessage => "oral-message",
            FederalKind::CorruptionReport => "corruption-report",
        }
    }

    /// The вид number of the typology, 1–9.
    pub fn number(self) -> u8 {
        FederalKind::ALL
            .iter()
            .position(|k| *k == self)
            .map_or(0, |i| i as u8 + 1)
    }

    /// The вид as the typology names it.
    pub fn name(self) -> &'static str {
        match self {
            FederalKind::Proposal => "Предложение",
            FederalKind::Statement => "Заявление",
            FederalKind::Complaint => "Жалоба",
            FederalKind::NotAnAppeal => "Не обращение",
            FederalKind::InformationRequest => "Запрос информации",
            FederalKind::OfficialRequest => "Запрос",
            FederalKind::ProsecutorInquiry => "Запрос прокуратуры",
            FederalKind::OralMessage => "Устное сообщение",
            FederalKind::CorruptionReport => "Сообщение о коррупции",
        }
    }
}

/// Cues of the вид that the 59-FZ form does not tell, strongest first: the first that
/// occurs decides. Word patterns as in `cues.rs`.
const CUES: &[(FederalKind, &[&str])] = &[
    // A bribe, a kickback, extortion by an official: 273-FZ's corruption.
    (
        FederalKind::CorruptionReport,
        &["взятк|взяточ|мздоим|откат"],
    ),
    (FederalKind::CorruptionReport, &["коррупц|коррупцион"]),
    (
        FederalKind::CorruptionReport,
        &["незаконн|неофициальн", "вознагражд|оплат"],
    ),
    (
        FederalKind::CorruptionReport,
        &["вымога|вымогал", "деньг|денежн|сумм|плат"],
    ),
    // The prosecutor's office writes in the third person and asks or demands.
    (
        FederalKind::ProsecutorInquiry,
        &[
            "прокуратура|прокурор",
            "просит|требует|запрашивает|направляет|поручает|предлагает|проводит",
        ],
    ),
    (
        FederalKind::ProsecutorInquiry,
        &["запрос|требовани", "прокуратур|прокурор"],
    ),
    // Another body or an official (a deputy, a court, a ministry) asks for information.
    (
        FederalKind::OfficialRequest,
        &["направля|направл", "запрос"],
    ),
    (FederalKind::OfficialRequest, &["межведомствен"]),
    (
        FederalKind::OfficialRequest,
        &["депутатск", "запрос|обращени"],
    ),
    (
        FederalKind::OfficialRequest,
        &["просим", "предостав|направ|сообщ", "информац|сведени|копи"],
    ),
    // Said aloud, at a reception or on the phone, and written down by an official.
    (FederalKind::OralMessage, &["устн"]),
    (
        FederalKind::OralMessage,
        &["на|в", "личном|личного", "прием|приема|приеме"],
    ),
    // Not an appeal: spam, invitations, greetings, condolences.
    (
        FederalKind::NotAnAppeal,
        &["приглаша|приглас", "вас|принять|посетить|на"],
    ),
    (FederalKind::NotAnAppeal, &["поздравля|поздрав"]),
    (FederalKind::NotAnAppeal, &["соболезн"]),
    (
        FederalKind::NotAnAppeal,
        &["реклам|скидк|распродаж|выигр|казино|розыгрыш"],
    ),
    (FederalKind::NotAnAppeal, &["коммерческ", "предложени"]),
];

/// The вид of the text, and the cue that decided it.
pub(crate) fn federal(words: &[Word], form: AppealKind) -> (FederalKind, String) {
    for (kind, patterns) in CUES {
        // A complaint or a statement that also greets or invites is still an appeal.
        if *kind == FederalKind::NotAnAppeal
            && matches!(form, AppealKind::Complaint | AppealKind::Statement)
        {
            continue;
        }
        if let Some((from, to)) = find(&compile(patterns), words) {
            return (*kind, quote(words, from, to));
        }
    }
    let kind = match form {
        AppealKind::Proposal => FederalKind::Proposal,
        AppealKind::Statement => FederalKind::Statement,
        AppealKind::Complaint => FederalKind::Complaint,
        AppealKind::Inquiry => FederalKind::InformationRequest,
        // Thanks without a request, and a text asking nothing, are not appeals.
        AppealKind::Gratitude | AppealKind::Other => FederalKind::NotAnAppeal,
    };
    (kind, format!("the form: {}", form.as_str()))
}

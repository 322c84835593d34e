//! The business content of a request (`MessagePrimaryContent`) mapped to the canonical
//! message: who applies (an organisation with INN/OGRN, an entrepreneur, a citizen),
//! how to reach them, what they ask for, and the text officials and classifiers read.
//!
//! Every service on EPGU has its own schema, so fields are found by element name, not by
//! path: each field has a list of names (the defaults cover the licence for scrap of
//! ferrous and non-ferrous metals, appeals, and the common EPGU forms), and a deployment
//! adds or replaces names with `fields.<field>` settings.

use okno_sdk::prelude::*;

use crate::xml::Element;

/// A field of an application that the canonical message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Organisation,
    Inn,
    Ogrn,
    Ogrnip,
    Kpp,
    LastName,
    FirstName,
    MiddleName,
    Phone,
    Email,
    Address,
    LicenceKind,
    RequestKind,
    AppealText,
    OrderNumber,
    ServiceCode,
}

impl Field {
    pub const ALL: [Field; 16] = [
        Field::Organisation,
        Field::Inn,
        Field::Ogrn,
        Field::Ogrnip,
        Field::Kpp,
        Field::LastName,
        Field::FirstName,
        Field::MiddleName,
        Field::Phone,
        Field::Email,
        Field::Address,
        Field::LicenceKind,
        Field::RequestKind,
        Field::AppealText,
        Field::OrderNumber,
        Field::ServiceCode,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Field::Organisation => "organisation",
            Field::Inn => "inn",
            Field::Ogrn => "ogrn",
            Field::Ogrnip => "ogrnip",
            Field::Kpp => "kpp",
            Field::LastName => "last-name",
            Field::FirstName => "first-name",
            Field::MiddleName => "middle-name",
            Field::Phone => "phone",
            Field::Email => "email",
            Field::Address => "address",
            Field::LicenceKind => "licence-kind",
            Field::RequestKind => "request-kind",
            Field::AppealText => "appeal-text",
            Field::OrderNumber => "order-number",
            Field::ServiceCode => "service-code",
        }
    }

    pub fn parse(text: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.as_str() == text.trim())
    }

    /// Element names looked for by default (compared without regard to case).
    fn default_names(self) -> &'static [&'static str] {
        match self {
            Field::Organisation => &[
                "FullName",
                "OrgFullName",
                "FullOrgName",
                "OrganizationName",
                "OrganisationName",
                "OrgName",
                "ULName",
                "CompanyName",
            ],
            Field::Inn => &["INN", "ИНН"],
            Field::Ogrn => &["OGRN", "ОГРН"],
            Field::Ogrnip => &["OGRNIP", "ОГРНИП"],
            Field::Kpp => &["KPP", "КПП"],
            Field::LastName => &["LastName", "FamilyName", "Surname", "sur"],
            Field::FirstName => &["FirstName", "GivenName", "nam"],
            Field::MiddleName => &["Patronymic", "MiddleName", "SecondName", "pat"],
            Field::Phone => &[
                "Phone",
                "PhoneNumber",
                "MobilePhone",
                "ContactPhone",
                "fl_phone",
            ],
            Field::Email => &["Email", "EMail", "E-mail", "ContactEmail", "fl_email"],
            Field::Address => &[
                "PostalAddress",
                "PostAddress",
                "LegalAddress",
                "Address",
                "address",
            ],
            Field::LicenceKind => &[
                "LicenceKind",
                "LicenseKind",
                "LicenceType",
                "LicenseType",
                "ActivityKind",
            ],
            Field::RequestKind => &["RequestKind", "RequestType", "ApplicationType"],
            Field::AppealText => &["AppealText", "AppealContent", "AppealBody", "Text"],
            Field::OrderNumber => &["OrderNumber", "OrderId", "orderId", "CaseNumber"],
            Field::ServiceCode => &["ServiceCode", "serviceCode", "TargetCode"],
        }
    }

    /// How the field is labelled in the message body.
    fn label(self) -> &'static str {
        match self {
            Field::Organisation => "Организация",
            Field::Inn => "ИНН",
            Field::Ogrn => "ОГРН",
            Field::Ogrnip => "ОГРНИП",
            Field::Kpp => "КПП",
            Field::LastName => "Фамилия",
            Field::FirstName => "Имя",
            Field::MiddleName => "Отчество",
            Field::Phone => "Телефон",
            Field::Email => "Электронная почта",
            Field::Address => "Адрес",
            Field::LicenceKind => "Вид работ по лицензии",
            Field::RequestKind => "Вид заявления",
            Field::AppealText => "Текст обращения",
            Field::OrderNumber => "Номер заявления на ЕПГУ",
            Field::ServiceCode => "Код услуги",
        }
    }
}

/// The element names read for each field; settings replace a field's list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldNames {
    overrides: Vec<(Field, Vec<String>)>,
}

impl FieldNames {
    pub fn set(&mut self, field: Field, names: Vec<String>) {
        self.overrides.retain(|(f, _)| *f != field);
        self.overrides.push((field, names));
    }

    fn matches(&self, field: Field, name: &str) -> bool {
        match self.overrides.iter().find(|(f, _)| *f == field) {
            Some((_, names)) => names.iter().any(|n| n.eq_ignore_ascii_case(name)),
            None => field
                .default_names()
                .iter()
                .any(|n| n.eq_ignore_ascii_case(name)),
        }
    }

    fn field_of(&self, name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| self.matches(*f, name))
    }
}

/// The subject of applications whose payload root has no `subject.<Root>` setting.
const SCRAP_LICENCE_SUBJECT: &str =
    "Лицензирование заготовки, хранения, переработки и реализации лома черных и цветных металлов";

/// Payload roots known without settings, and their subjects.
fn known_subject(root: &str) -> Option<&'static str> {
    let lower = root.to_ascii_lowercase();
    if lower.contains("scrap") || lower.contains("lom") {
        Some(SCRAP_LICENCE_SUBJECT)
    } else if lower.contains("appeal") || lower.contains("obrasch") || lower.contains("complaint") {
        Some("Обращение через ЕПГУ")
    } else {
        None
    }
}

/// The parts of a message read from the business content.
#[derive(Debug, Default)]
pub struct Application {
    pub client: Client,
    pub subject: Option<String>,
    pub body: String,
    pub metadata: Vec<(String, String)>,
}

/// Leaves of the content shown in the body, at most: a form has tens, not thousands.
const MAX_BODY_LINES: usize = 400;

/// Maps the payload (the element inside `MessagePrimaryContent`).
pub fn read(
    payload: &Element,
    names: &FieldNames,
    subjects: &[(String, String)],
    fallback_kind: ClientKind,
) -> Application {
    let mut found: Vec<(Field, String)> = Vec::new();
    let mut lines: Vec<String> = Vec::new();
    let mut representative = false;
    for element in payload.descendants() {
        let lower = element.name.to_ascii_lowercase();
        if lower.contains("representative")
            || lower.contains("delegate")
            || lower.contains("trustee")
        {
            representative = true;
        }
        if !element.children.is_empty() {
            continue;
        }
        let value = element.text.trim();
        if value.is_empty() {
            continue;
        }
        let field = names.field_of(&element.name);
        if let Some(field) = field {
            found.push((field, value.to_string()));
        }
        if field != Some(Field::AppealText) && lines.len() < MAX_BODY_LINES {
            let label = match field {
                Some(field) => field.label(),
                None => element.name.as_str(),
            };
            lines.push(format!("{label}: {}", one_line(value)));
        }
    }
    let first = |field: Field| {
        found
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, v)| v.clone())
    };

    let organisation = first(Field::Organisation);
    let inn = first(Field::Inn);
    let ogrn = first(Field::Ogrn);
    let ogrnip = first(Field::Ogrnip);
    let person: Vec<String> = [Field::LastName, Field::FirstName, Field::MiddleName]
        .into_iter()
        .filter_map(first)
        .collect();

    let mut segments = Vec::new();
    let kind = if ogrnip.is_some() {
        segments.push("entrepreneur".to_string());
        ClientKind::Business
    } else if organisation.is_some()
        || ogrn.is_some()
        || inn.as_deref().is_some_and(|i| i.len() == 10)
    {
        ClientKind::Business
    } else if !person.is_empty() {
        ClientKind::Citizen
    } else {
        fallback_kind
    };
    if representative {
        segments.push("representative".to_string());
    }
    let name = organisation
        .clone()
        .or_else(|| (!person.is_empty()).then(|| person.join(" ")));
    let mut contacts = Vec::new();
    for (field, kind) in [
        (Field::Email, "email"),
        (Field::Phone, "phone"),
        (Field::Address, "postal-address"),
    ] {
        if let Some(value) = first(field) {
            contacts.push(Contact {
                kind: kind.into(),
                value,
            });
        }
    }

    let root = payload.name.as_str();
    let title = subjects
        .iter()
        .find(|(r, _)| r == root)
        .map(|(_, s)| s.clone())
        .or_else(|| known_subject(root).map(str::to_string));
    let licence_kind = first(Field::LicenceKind);
    let subject = match (&title, &licence_kind) {
        (Some(title), Some(kind)) => Some(format!("{title}: {}", one_line(kind))),
        (Some(title), None) => Some(title.clone()),
        (None, _) => Some(format!("Заявление с ЕПГУ ({root})")),
    };

    let mut body = String::new();
    if let Some(subject) = &subject {
        body.push_str(subject);
        body.push_str("\n\n");
    }
    let texts: Vec<&str> = found
        .iter()
        .filter(|(f, _)| *f == Field::AppealText)
        .map(|(_, v)| v.as_str())
        .collect();
    for text in &texts {
        body.push_str(text.trim());
        body.push_str("\n\n");
    }
    if !lines.is_empty() {
        body.push_str("Сведения заявления:\n");
        for line in &lines {
            body.push_str(line);
            body.push('\n');
        }
    }

    let mut metadata = vec![
        ("smev.content.namespace".to_string(), payload.ns.clone()),
        ("smev.content.root".to_string(), root.to_string()),
    ];
    let mut put = |key: &str, value: Option<String>| {
        if let Some(value) = value {
            metadata.push((key.to_string(), one_line(&value)));
        }
    };
    put("epgu.service", title.is_some().then(|| service_id(root)));
    put("applicant.inn", inn.clone());
    put(
        "applicant.inn-valid",
        inn.as_deref().map(|i| inn_is_valid(i).to_string()),
    );
    put("applicant.ogrn", ogrn.or(ogrnip));
    put("applicant.kpp", first(Field::Kpp));
    put("epgu.licence-kind", licence_kind);
    put("epgu.request-kind", first(Field::RequestKind));
    put("epgu.order-number", first(Field::OrderNumber));
    put("epgu.service-code", first(Field::ServiceCode));

    Application {
        client: Client {
            kind,
            name,
            contacts,
            segments,
        },
        subject,
        body: body.trim_end().to_string(),
        metadata,
    }
}

/// `scrap-metal-licence`, `appeal`, or the payload root's own name.
fn service_id(root: &str) -> String {
    match known_subject(root) {
        Some(SCRAP_LICENCE_SUBJECT) => "scrap-metal-licence".into(),
        Some(_) => "appeal".into(),
        None => root.to_string(),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The check digits of a 10-digit (organisation) or 12-digit (person) INN.
pub fn inn_is_valid(inn: &str) -> bool {
    let digits: Vec<u32> = inn.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() != inn.len() {
        return false;
    }
    let check = |weights: &[u32]| -> u32 {
        weights.iter().zip(&digits).map(|(w, d)| w * d).sum::<u32>() % 11 % 10
    };
    match digits.len() {
        10 => check(&[2, 4, 10, 3, 5, 9, 4, 6, 8]) == digits[9],
        12 => {
            check(&[7, 2, 4, 10, 3, 5, 9, 4, 6, 8]) == digits[10]
                && check(&[3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8]) == digits[11]
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml;

    #[test]
    fn an_organisation_applies_for_a_licence() {
        let payload = xml::parse(
            r#"<r:ScrapMetalLicenceApplication xmlns:r="urn:x"><r:Applicant><r:FullName>ООО «Втормет»</r:FullName><r:INN>7707083893</r:INN><r:OGRN>1027700132195</r:OGRN><r:Phone>+7 495 000-00-00</r:Phone><r:Email>info@vtormet.example.ru</r:Email></r:Applicant><r:LicenceKind>заготовка, хранение лома черных металлов</r:LicenceKind></r:ScrapMetalLicenceApplication>"#,
        )
        .unwrap();
        let app = read(&payload, &FieldNames::default(), &[], ClientKind::Unknown);
        assert_eq!(app.client.kind, ClientKind::Business);
        assert_eq!(app.client.name.as_deref(), Some("ООО «Втормет»"));
        assert_eq!(app.client.contacts.len(), 2);
        assert!(app
            .subject
            .unwrap()
            .contains("лома черных и цветных металлов: заготовка"));
        assert!(app.body.contains("ИНН: 7707083893"), "{}", app.body);
        let meta = |k: &str| {
            app.metadata
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(meta("applicant.inn-valid"), Some("true"));
        assert_eq!(meta("epgu.service"), Some("scrap-metal-licence"));
    }

    #[test]
    fn settings_rename_fields() {
        let payload = xml::parse("<Form><ИмяОрг>АО «Лом»</ИмяОрг></Form>").unwrap();
        let mut names = FieldNames::default();
        names.set(Field::Organisation, vec!["ИмяОрг".into()]);
        let app = read(
            &payload,
            &names,
            &[("Form".into(), "Лицензия".into())],
            ClientKind::Unknown,
        );
        assert_eq!(app.client.name.as_deref(), Some("АО «Лом»"));
        assert_eq!(app.subject.as_deref(), Some("Лицензия"));
    }

    #[test]
    fn inn_check_digits() {
        assert!(inn_is_valid("7707083893"));
        assert!(!inn_is_valid("7707083894"));
        assert!(inn_is_valid("500100732259"));
        assert!(!inn_is_valid("77070838"));
    }
}

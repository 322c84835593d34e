//! The rules an admin writes in the plugin's settings, checked and stemmed.
//!
//! ```toml
//! [plugins.settings]
//! rules.heating.words = "отопление, батарея, теплоснабжение, холодно"
//! rules.heating.topic = "0005.0005.0056.1156"
//! rules.heating.tags = "housing, heating"
//! rules.roads.words = "дорога, яма, асфальт, дорожное покрытие"
//! rules.roads.tags = "roads"
//! ```
//! `words` and `tags` are comma-separated; a TOML array flattened to `words.0`,
//! `words.1`, … is read the same way. A word with spaces is a phrase: it matches when its
//! words stand one after another in the text.

use std::collections::BTreeMap;

use okno_sdk::prelude::PluginError;

use crate::catalog;
use crate::text::Stems;

/// All rules, in the order of their names.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    pub(crate) rules: Vec<Rule>,
}

#[derive(Clone, Debug)]
pub(crate) struct Rule {
    pub name: String,
    /// Distinct stem sequences: two configured forms of one word count once.
    pub entries: Vec<Vec<String>>,
    pub topic: Option<TopicRef>,
    pub tags: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TopicRef {
    pub code: String,
    /// The official wording of the code.
    pub name: String,
}

#[derive(Default)]
struct Draft<'a> {
    words: Vec<&'a str>,
    topic: Option<&'a str>,
    tags: Vec<&'a str>,
}

impl Rules {
    /// Reads the rules from the plugin's settings (as `okno_sdk::config::get_all` gives
    /// them). No settings give no rules: the classifier then passes messages through.
    pub fn from_settings(settings: &[(String, String)]) -> Result<Rules, PluginError> {
        let mut drafts: BTreeMap<&str, Draft> = BTreeMap::new();
        for (key, value) in settings {
            let (name, field) = split_key(key)?;
            let draft = drafts.entry(name).or_default();
            match field {
                Field::Words => draft.words.push(value),
                Field::Tags => draft.tags.push(value),
                Field::Topic => draft.topic = Some(value.trim()),
            }
        }

        let codes: Vec<&str> = drafts.values().filter_map(|d| d.topic).collect();
        let mut names = catalog::official_names(&codes).into_iter();

        let stems = Stems::russian();
        let mut rules = Vec::with_capacity(drafts.len());
        for (name, draft) in drafts {
            let topic = match draft.topic {
                None => None,
                Some(code) => match names.next().flatten() {
                    Some(official) => Some(TopicRef {
                        code: code.to_string(),
                        name: official,
                    }),
                    None => {
                        return Err(PluginError::config(format!(
                            "setting `rules.{name}.topic`: code `{code}` is not in the official \
                             thematic classifier; use a full code such as `0005.0005.0056.1156`"
                        )))
                    }
                },
            };
            rules.push(Rule {
                name: name.to_string(),
                entries: entries(name, &draft.words, &stems)?,
                topic,
                tags: tags(&draft.tags),
            });
        }
        for rule in &rules {
            if rule.topic.is_none() && rule.tags.is_empty() {
                return Err(PluginError::config(format!(
                    "rule `{}` sets neither `topic` nor `tags`, so a match would change nothing; \
                     add `rules.{}.topic` or `rules.{}.tags`",
                    rule.name, rule.name, rule.name
                )));
            }
        }
        Ok(Rules { rules })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }
}

enum Field {
    Words,
    Topic,
    Tags,
}

/// `rules.<name>.<field>` or `rules.<name>.<field>.<index>` (a flattened array).
fn split_key(key: &str) -> Result<(&str, Field), PluginError> {
    let Some(rest) = key.strip_prefix("rules.") else {
        return Err(PluginError::config(format!(
            "setting `{key}` is not one the keywords classifier reads; it takes only \
             `rules.<name>.words`, `rules.<name>.topic` and `rules.<name>.tags`"
        )));
    };
    let mut parts = rest.splitn(3, '.');
    let name = parts.next().unwrap_or_default();
    let field = parts.next();
    let index = parts.next();
    if name.is_empty() {
        return Err(PluginError::config(format!(
            "setting `{key}`: the rule has no name"
        )));
    }
    let field = match (field, index) {
        (Some("words"), _) => Field::Words,
        (Some("tags"), _) => Field::Tags,
        (Some("topic"), None) => Field::Topic,
        (Some("topic"), Some(_)) => {
            return Err(PluginError::config(format!(
                "setting `{key}`: a rule has one topic code, not a list"
            )))
        }
        (Some(other), _) => {
            return Err(PluginError::config(format!(
                "setting `{key}`: rule `{name}` has no field `{other}`; a rule takes `words`, \
                 `topic` and `tags`"
            )))
        }
        (None, _) => {
            return Err(PluginError::config(format!(
                "setting `{key}`: say which field of rule `{name}` this is (`words`, `topic` or \
                 `tags`)"
            )))
        }
    };
    Ok((name, field))
}

fn entries(name: &str, values: &[&str], stems: &Stems) -> Result<Vec<Vec<String>>, PluginError> {
    let mut entries: Vec<Vec<String>> = Vec::new();
    for word in values.iter().flat_map(|v| v.split(',')).map(str::trim) {
        if word.is_empty() {
            continue;
        }
        let entry = stems.stems(word);
        if entry.is_empty() {
            return Err(PluginError::config(format!(
                "setting `rules.{name}.words`: «{word}» has no letters or digits to match"
            )));
        }
        if !entries.contains(&entry) {
            entries.push(entry);
        }
    }
    if entries.is_empty() {
        return Err(PluginError::config(format!(
            "rule `{name}` has no words; add `rules.{name}.words = \"слово, другое слово\"`"
        )));
    }
    Ok(entries)
}

fn tags(values: &[&str]) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    for tag in values.iter().flat_map(|v| v.split(',')).map(str::trim) {
        if !tag.is_empty() && !tags.iter().any(|t| t == tag) {
            tags.push(tag.to_string());
        }
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reads_rules_with_official_names() {
        let rules = Rules::from_settings(&settings(&[
            ("rules.heating.tags", "housing, heating, housing"),
            ("rules.heating.topic", " 0005.0005.0056.1156 "),
            (
                "rules.heating.words",
                "отопление, батарея, батареи, , горячая вода",
            ),
            ("rules.roads.tags", "roads"),
            ("rules.roads.words.0", "дорога"),
            ("rules.roads.words.1", "яма"),
        ]))
        .unwrap();
        assert_eq!(rules.len(), 2);
        let heating = &rules.rules[0];
        assert_eq!(heating.name, "heating");
        assert_eq!(
            heating.entries.len(),
            3,
            "батарея and батареи are one stem: {:?}",
            heating.entries
        );
        assert_eq!(heating.entries[2].len(), 2, "a phrase keeps its words");
        assert_eq!(heating.tags, ["housing", "heating"]);
        let topic = heating.topic.as_ref().unwrap();
        assert_eq!(topic.code, "0005.0005.0056.1156");
        assert_eq!(topic.name, "Перебои в теплоснабжении");
        assert_eq!(rules.rules[1].entries.len(), 2);
        assert_eq!(rules.rules[1].topic, None);
    }

    #[test]
    fn unknown_code_names_rule_and_code() {
        let err = Rules::from_settings(&settings(&[
            ("rules.heating.topic", "0005.0005.0056.1156"),
            ("rules.heating.words", "отопление"),
            ("rules.water.topic", "0005.0005.9999.0000"),
            ("rules.water.words", "вода"),
        ]))
        .unwrap_err();
        assert_eq!(err.kind, okno_sdk::prelude::ErrorKind::Config);
        assert!(err.message.contains("rules.water.topic"), "{}", err.message);
        assert!(
            err.message.contains("0005.0005.9999.0000"),
            "{}",
            err.message
        );
    }

    #[test]
    fn rejects_mistyped_and_useless_settings() {
        for (pairs, needle) in [
            (vec![("rules.heating.word", "отопление")], "no field `word`"),
            (
                vec![("rule.heating.words", "отопление")],
                "`rule.heating.words`",
            ),
            (vec![("rules.heating", "отопление")], "which field"),
            (
                vec![("rules.heating.topic.0", "0005.0005.0056.1156")],
                "one topic code",
            ),
            (
                vec![("rules.heating.words", "отопление")],
                "neither `topic` nor `tags`",
            ),
            (vec![("rules.heating.tags", "housing")], "has no words"),
            (
                vec![
                    ("rules.heating.tags", "housing"),
                    ("rules.heating.words", "—"),
                ],
                "no letters",
            ),
        ] {
            let err = Rules::from_settings(&settings(&pairs)).unwrap_err();
            assert!(err.message.contains(needle), "{pairs:?}: {}", err.message);
        }
    }

    #[test]
    fn no_settings_no_rules() {
        assert!(Rules::from_settings(&[]).unwrap().is_empty());
    }
}

//! Route matching: a structured match, every condition of which must hold. A list means
//! "any of these". Routes are tried in order; every matching route adds its sinks; a
//! `final` route stops the search; the `default` route applies when nothing else matched.
//!
//! ```toml
//! [[routes]]
//! name = "urgent-housing"
//! match = { topic_prefix = ["0005.0005"], priority_at_least = "high" }
//! sinks = ["housing-edms", "duty-officer"]
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{
    AppealKind, Channel, Classification, Decision, Message, Priority, SentimentLabel,
};

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Match {
    pub channel: Vec<Channel>,
    pub source: Vec<String>,
    /// Topic code prefixes, e.g. `0005.0005` (a тематика) or a full code.
    pub topic_prefix: Vec<String>,
    pub kind: Vec<AppealKind>,
    pub sentiment: Vec<SentimentLabel>,
    pub priority_at_least: Option<Priority>,
    /// Client segments, e.g. `senior`.
    pub segment: Vec<String>,
    /// Classification tags or decision route tags.
    pub tag: Vec<String>,
    /// Metadata keys that must have these values.
    pub metadata: BTreeMap<String, String>,
    /// True: matches only messages the topic classifier was unsure about.
    pub low_confidence: Option<bool>,
}

/// Why a route did or did not match.
#[derive(Debug, Clone, Serialize)]
pub struct RouteExplanation {
    pub route: String,
    pub matched: bool,
    pub reasons: Vec<String>,
    pub sinks: Vec<String>,
}

impl Match {
    /// The match of a route without a `match` key.
    pub const EVERYTHING: Match = Match {
        channel: Vec::new(),
        source: Vec::new(),
        topic_prefix: Vec::new(),
        kind: Vec::new(),
        sentiment: Vec::new(),
        priority_at_least: None,
        segment: Vec::new(),
        tag: Vec::new(),
        metadata: BTreeMap::new(),
        low_confidence: None,
    };

    pub fn is_empty(&self) -> bool {
        self.channel.is_empty()
            && self.source.is_empty()
            && self.topic_prefix.is_empty()
            && self.kind.is_empty()
            && self.sentiment.is_empty()
            && self.priority_at_least.is_none()
            && self.segment.is_empty()
            && self.tag.is_empty()
            && self.metadata.is_empty()
            && self.low_confidence.is_none()
    }

    pub fn check(&self) -> Result<(), String> {
        for prefix in &self.topic_prefix {
            let well_formed = prefix
                .split('.')
                .all(|block| block.len() == 4 && block.chars().all(|c| c.is_ascii_digit()));
            if !well_formed {
                return Err(format!("topic_prefix {prefix:?} is not blocks of four digits joined by dots, e.g. \"0005.0005\""));
            }
        }
        Ok(())
    }

    /// Each condition's verdict, in words.
    pub fn evaluate(&self, m: &Message, c: &Classification, d: &Decision) -> (bool, Vec<String>) {
        let mut ok = true;
        let mut reasons = Vec::new();
        let mut verdict = |holds: bool, text: String| {
            ok &= holds;
            reasons.push(format!("{} {text}", if holds { "✓" } else { "✗" }));
        };
        if !self.channel.is_empty() {
            verdict(
                self.channel.contains(&m.channel),
                format!("channel {} in {:?}", m.channel.as_str(), self.channel),
            );
        }
        if !self.source.is_empty() {
            verdict(
                self.source.contains(&m.source),
                format!("source {:?} in {:?}", m.source, self.source),
            );
        }
        if !self.topic_prefix.is_empty() {
            let code = c.topic.as_ref().map(|t| t.best.code.as_str());
            let holds = code.is_some_and(|code| {
                self.topic_prefix
                    .iter()
                    .any(|p| code.starts_with(p.as_str()))
            });
            verdict(
                holds,
                format!(
                    "topic {} starts with one of {:?}",
                    code.unwrap_or("(none)"),
                    self.topic_prefix
                ),
            );
        }
        if !self.kind.is_empty() {
            let kind = c.kind.as_ref().map(|k| k.kind);
            verdict(
                kind.is_some_and(|k| self.kind.contains(&k)),
                format!("kind {:?} in {:?}", kind, self.kind),
            );
        }
        if !self.sentiment.is_empty() {
            let label = c.sentiment.as_ref().map(|s| s.label);
            verdict(
                label.is_some_and(|l| self.sentiment.contains(&l)),
                format!("sentiment {:?} in {:?}", label, self.sentiment),
            );
        }
        if let Some(min) = self.priority_at_least {
            verdict(
                d.priority >= min,
                format!("priority {} at least {}", d.priority.as_str(), min.as_str()),
            );
        }
        if !self.segment.is_empty() {
            let holds = m.client.segments.iter().any(|s| self.segment.contains(s));
            verdict(
                holds,
                format!(
                    "client segments {:?} include one of {:?}",
                    m.client.segments, self.segment
                ),
            );
        }
        if !self.tag.is_empty() {
            let holds = c
                .tags
                .iter()
                .chain(&d.route_tags)
                .any(|t| self.tag.contains(t));
            verdict(holds, format!("tags include one of {:?}", self.tag));
        }
        for (key, want) in &self.metadata {
            let have = m.metadata_value(key);
            verdict(
                have == Some(want.as_str()),
                format!("metadata {key} = {:?} (is {:?})", want, have),
            );
        }
        if let Some(want) = self.low_confidence {
            let have = c.topic.as_ref().is_some_and(|t| t.low_confidence);
            verdict(have == want, format!("topic low confidence is {want}"));
        }
        if reasons.is_empty() {
            reasons.push("✓ matches every message".into());
        }
        (ok, reasons)
    }
}

impl super::Config {
    /// Every route with its verdict; the sinks a message goes to are those of the
    /// matched ones.
    pub fn explain_routes(
        &self,
        m: &Message,
        c: &Classification,
        d: &Decision,
    ) -> Vec<RouteExplanation> {
        let mut out = Vec::new();
        let mut any = false;
        let mut stopped: Option<String> = None;
        for route in self.routes.iter().filter(|r| !r.default) {
            let sinks = route.sinks.iter().map(|s| s.get_ref().clone()).collect();
            if let Some(by) = &stopped {
                out.push(RouteExplanation {
                    route: route.name.get_ref().clone(),
                    matched: false,
                    reasons: vec![format!("not tried: final route {by:?} matched earlier")],
                    sinks,
                });
                continue;
            }
            let (matched, reasons) = route.match_rule().evaluate(m, c, d);
            any |= matched;
            if matched && route.is_final {
                stopped = Some(route.name.get_ref().clone());
            }
            out.push(RouteExplanation {
                route: route.name.get_ref().clone(),
                matched,
                reasons,
                sinks,
            });
        }
        if let Some(default) = self.routes.iter().find(|r| r.default) {
            let sinks = default.sinks.iter().map(|s| s.get_ref().clone()).collect();
            let reason = if any {
                "not used: another route matched"
            } else {
                "used: no other route matched"
            };
            out.push(RouteExplanation {
                route: default.name.get_ref().clone(),
                matched: !any,
                reasons: vec![reason.into()],
                sinks,
            });
        }
        out
    }

    /// The sinks a message goes to, each once, in route order.
    pub fn route(
        &self,
        m: &Message,
        c: &Classification,
        d: &Decision,
    ) -> (Vec<String>, Vec<String>) {
        let mut sinks: Vec<String> = Vec::new();
        let mut routes = Vec::new();
        for e in self
            .explain_routes(m, c, d)
            .into_iter()
            .filter(|e| e.matched)
        {
            routes.push(e.route);
            for s in e.sinks {
                if !sinks.contains(&s) {
                    sinks.push(s);
                }
            }
        }
        (routes, sinks)
    }
}

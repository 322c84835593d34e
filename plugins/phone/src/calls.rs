//! Legs grouped into calls, each call's transfers counted and its outcome told.
//!
//! **Grouping.** Legs with the same call key (Asterisk's `linkedid`, FreeSWITCH's
//! `call_uuid`) are one call. Without one: legs with the same `uniqueid` (Asterisk keeps
//! the caller's across the CDRs of its transfers), a leg dialing the `;1` half of a Local
//! channel with the leg running on its `;2` half (started within a minute: channel
//! numbers restart with the PBX), and FreeSWITCH legs that name each other
//! (`bleg_uuid`, `bridge_uuid`). Rows repeated verbatim count once.
//!
//! **Transfers.** Where the records state them (FreeSWITCH's `transfer_history`, CEL's
//! transfer events), the largest count among the call's legs. Otherwise each time the
//! call is answered by another party than the last one that answered it: the answering
//! parties of its answered legs in order of start, Local halves and voicemail left out,
//! `SIP/301-0000000c` read as `SIP/301`. Parallel ringing (a ring group) that nobody
//! answered is no transfer; a call answered by 301, then 154, then 301 again was
//! transferred twice.
//!
//! **Outcome.** `answered` when a party answered (or, with no party, the PBX itself: an
//! IVR, an echo test); `busy` when a leg was busy; `abandoned` when the caller hung up
//! while it rang (FreeSWITCH's ORIGINATOR_CANCEL, CEL's dial status CANCEL, or a
//! ring shorter than `Dial`'s timeout); `missed` when it rang out, or reached only the
//! voicemail; `failed` otherwise.

use std::collections::BTreeMap;

use crate::leg::{Disposition, Leg};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Answered,
    Missed,
    Abandoned,
    Busy,
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Answered => "answered",
            Outcome::Missed => "missed",
            Outcome::Abandoned => "abandoned",
            Outcome::Busy => "busy",
            Outcome::Failed => "failed",
        }
    }

    /// What the Russian summary says.
    pub fn in_russian(self) -> &'static str {
        match self {
            Outcome::Answered => "отвечен",
            Outcome::Missed => "пропущен",
            Outcome::Abandoned => "сброшен звонящим до ответа",
            Outcome::Busy => "занято",
            Outcome::Failed => "не состоялся",
        }
    }
}

/// One call: its legs in order of start, and what they add up to.
#[derive(Clone, Debug)]
pub struct Call {
    pub id: String,
    pub legs: Vec<Leg>,
    pub transfers: u32,
    /// The parties that answered, in order, each once.
    pub operators: Vec<String>,
    pub outcome: Outcome,
    pub start: Option<i64>,
    pub end: Option<i64>,
    /// From the first ring to the last hang-up, in seconds.
    pub duration_s: i64,
    /// Talking time with the operators, in seconds.
    pub talk_s: i64,
}

impl Call {
    /// The caller's leg: the one whose id is the call's (Asterisk's first channel,
    /// FreeSWITCH's a-leg), else the first that does not run on a Local half.
    pub fn caller_leg(&self) -> &Leg {
        self.legs
            .iter()
            .find(|l| l.id == self.id)
            .or_else(|| self.legs.iter().find(|l| !Leg::is_local(&l.channel)))
            .unwrap_or(&self.legs[0])
    }

    pub fn note(&self) -> Option<&str> {
        self.legs.iter().find_map(|l| l.note.as_deref())
    }
}

struct Sets(Vec<usize>);

impl Sets {
    fn find(&mut self, i: usize) -> usize {
        let mut root = i;
        while self.0[root] != root {
            root = self.0[root];
        }
        let mut at = i;
        while self.0[at] != root {
            let next = self.0[at];
            self.0[at] = root;
            at = next;
        }
        root
    }

    fn join(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            self.0[a.max(b)] = a.min(b);
        }
    }
}

/// A Local channel's name without its half: `Local/ch1@TimeDelay-00000000;1` → `…-00000000`.
fn local_pair(channel: &str, half: &str) -> Option<String> {
    channel
        .strip_suffix(half)
        .filter(|_| Leg::is_local(channel))
        .map(String::from)
}

pub fn group(legs: Vec<Leg>) -> Vec<Call> {
    // Rows repeated verbatim (a file appended twice) count once.
    let mut unique: Vec<Leg> = Vec::with_capacity(legs.len());
    for leg in legs {
        if !unique.iter().rev().take(64).any(|u| same_row(u, &leg)) {
            unique.push(leg);
        }
    }
    let legs = unique;
    let mut sets = Sets((0..legs.len()).collect());
    let mut by_key: BTreeMap<(u8, &str), usize> = BTreeMap::new();
    for (i, leg) in legs.iter().enumerate() {
        let mut keys: Vec<(u8, &str)> = Vec::new();
        match &leg.call_key {
            Some(key) => keys.push((0, key)),
            None => keys.push((1, &leg.id)),
        }
        if let Some(peer) = &leg.peer_id {
            keys.push((1, peer));
            keys.push((1, &leg.id));
        }
        for key in keys {
            match by_key.get(&key) {
                Some(&j) => sets.join(i, j),
                None => {
                    by_key.insert(key, i);
                }
            }
        }
    }
    // Local pairs: the leg dialing `;1` and the legs running on `;2`.
    let mut halves: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, leg) in legs.iter().enumerate() {
        if let Some(name) = local_pair(&leg.channel, ";2") {
            halves.entry(name).or_default().push(i);
        }
    }
    for (i, leg) in legs.iter().enumerate() {
        let Some(name) = local_pair(&leg.dst_channel, ";1") else {
            continue;
        };
        for &j in halves.get(&name).into_iter().flatten() {
            let close = match (leg.start, legs[j].start) {
                (Some(a), Some(b)) => (a - b).abs() <= 60_000,
                _ => true,
            };
            if close {
                sets.join(i, j);
            }
        }
    }
    let mut grouped: BTreeMap<usize, Vec<Leg>> = BTreeMap::new();
    for (i, leg) in legs.into_iter().enumerate() {
        let root = sets.find(i);
        grouped.entry(root).or_default().push(leg);
    }
    let mut calls: Vec<Call> = grouped.into_values().map(call_of).collect();
    calls.sort_by_key(|c| (c.start, c.legs[0].line));
    calls
}

fn same_row(a: &Leg, b: &Leg) -> bool {
    Leg {
        line: 0,
        ..a.clone()
    } == Leg {
        line: 0,
        ..b.clone()
    }
}

fn call_of(mut legs: Vec<Leg>) -> Call {
    // By start, then end: a leg that ends first handed the call on.
    legs.sort_by_key(|l| (l.start, l.end, l.line));
    let mut operators: Vec<String> = Vec::new();
    let mut changes = 0u32;
    for leg in &legs {
        if let Some(party) = leg.answering_party() {
            if operators.last().map(String::as_str) != Some(party) {
                if !operators.is_empty() {
                    changes += 1;
                }
                if !operators.iter().any(|o| o == party) {
                    operators.push(party.to_string());
                } else {
                    // Back to an earlier operator: still a transfer; keep them listed once.
                    operators.retain(|o| o != party);
                    operators.push(party.to_string());
                }
            }
        }
    }
    let stated = legs.iter().filter_map(|l| l.transfers).max();
    let transfers = stated.unwrap_or(changes);
    let start = legs.iter().filter_map(|l| l.start).min();
    let end = legs
        .iter()
        .filter_map(|l| l.end.or(l.start.map(|s| s + l.duration_s * 1000)))
        .max();
    // Times may be to the minute only (a CSV re-saved by a spreadsheet): the legs' own
    // durations count too.
    let longest_leg = legs.iter().map(|l| l.duration_s).max().unwrap_or(0);
    let duration_s = match (start, end) {
        (Some(s), Some(e)) => ((e - s).max(0) / 1000).max(longest_leg),
        _ => longest_leg,
    };
    let talk_s = legs
        .iter()
        .filter(|l| l.answering_party().is_some())
        .map(|l| l.billsec)
        .sum();
    let outcome = outcome(&legs, !operators.is_empty());
    let id = legs
        .iter()
        .find_map(|l| l.call_key.clone())
        .unwrap_or_else(|| legs[0].id.clone());
    Call {
        id,
        legs,
        transfers,
        operators,
        outcome,
        start,
        end,
        duration_s,
        talk_s,
    }
}

fn outcome(legs: &[Leg], operator_answered: bool) -> Outcome {
    let has = |d: Disposition| legs.iter().any(|l| l.disposition == Some(d));
    if operator_answered {
        return Outcome::Answered;
    }
    if legs.iter().any(|l| {
        l.app.eq_ignore_ascii_case("VoiceMail") && l.disposition == Some(Disposition::Answered)
    }) {
        return Outcome::Missed;
    }
    if has(Disposition::Busy) {
        return Outcome::Busy;
    }
    if has(Disposition::Cancelled) {
        return Outcome::Abandoned;
    }
    if has(Disposition::NoAnswer) {
        // The caller's own legs that rang with a timeout: rang out, or hung up before?
        let rang: Vec<&Leg> = legs
            .iter()
            .filter(|l| l.disposition == Some(Disposition::NoAnswer) && !Leg::is_local(&l.channel))
            .filter(|l| l.dial_timeout_s().is_some())
            .collect();
        if rang.is_empty() {
            return Outcome::Missed;
        }
        let longest = rang.iter().map(|l| l.duration_s).max().unwrap_or(0);
        let timeout = rang
            .iter()
            .filter_map(|l| l.dial_timeout_s())
            .min()
            .unwrap_or(0);
        return if longest + 1 >= timeout {
            Outcome::Missed
        } else {
            Outcome::Abandoned
        };
    }
    if has(Disposition::Answered) {
        // Answered by the PBX itself (an IVR, an echo test): served, though by no operator.
        return Outcome::Answered;
    }
    Outcome::Failed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leg(id: &str, dst: &str, start: i64, disposition: Disposition) -> Leg {
        Leg {
            id: id.into(),
            channel: "SIP/trunk-00000001".into(),
            dst_channel: dst.into(),
            app: "Dial".into(),
            start: Some(start),
            billsec: if disposition == Disposition::Answered {
                10
            } else {
                0
            },
            disposition: Some(disposition),
            ..Leg::default()
        }
    }

    #[test]
    fn each_new_answering_party_is_a_transfer() {
        let legs = vec![
            leg("1.1", "SIP/301-0000000a", 0, Disposition::Answered),
            leg("1.1", "SIP/154-0000000b", 10_000, Disposition::Answered),
            leg("1.1", "SIP/200-0000000c", 20_000, Disposition::NoAnswer),
            leg("1.1", "SIP/301-0000000d", 30_000, Disposition::Answered),
            leg("1.1", "SIP/158-0000000e", 40_000, Disposition::Answered),
        ];
        let calls = group(legs);
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].transfers, 3);
        assert_eq!(calls[0].operators, ["SIP/154", "SIP/301", "SIP/158"]);
        assert_eq!(calls[0].outcome, Outcome::Answered);
    }

    #[test]
    fn a_ring_group_nobody_answered_is_missed_or_abandoned_by_its_timeout() {
        let mut a = leg("2.1", "SIP/301-0000000a", 0, Disposition::NoAnswer);
        a.app_data = "SIP/301&SIP/200,60,t".into();
        a.duration_s = 60;
        let calls = group(vec![a.clone()]);
        assert_eq!((calls[0].transfers, calls[0].outcome), (0, Outcome::Missed));
        a.duration_s = 12;
        assert_eq!(group(vec![a])[0].outcome, Outcome::Abandoned);
    }
}

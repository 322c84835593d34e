//! One leg of a call, the same whatever PBX wrote it: what the grouping, the transfer
//! count and the outcome read.

/// How a leg ended, as the PBX put it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    Answered,
    NoAnswer,
    Busy,
    Failed,
    /// The caller hung up before anyone answered (FreeSWITCH's ORIGINATOR_CANCEL,
    /// Asterisk CEL's dial status CANCEL).
    Cancelled,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Leg {
    /// Where it came from, for errors: a line of a CSV file, a record of a JSON file.
    pub line: u64,
    /// What ties it to its call directly (Asterisk's `linkedid`, FreeSWITCH's `call_uuid`).
    pub call_key: Option<String>,
    /// Its own id (Asterisk's `uniqueid`, FreeSWITCH's `uuid`).
    pub id: String,
    /// The other leg's id, when the PBX names it (FreeSWITCH's `bleg_uuid`).
    pub peer_id: Option<String>,
    pub caller_number: String,
    pub caller_name: String,
    pub destination: String,
    /// The calling side's channel (`SIP/211553-00000003`, `Local/ch1@TimeDelay-00000000;2`).
    pub channel: String,
    /// The called side's channel; for FreeSWITCH, the destination number.
    pub dst_channel: String,
    pub app: String,
    pub app_data: String,
    /// Milliseconds since the epoch.
    pub start: Option<i64>,
    pub answer: Option<i64>,
    pub end: Option<i64>,
    pub duration_s: i64,
    pub billsec: i64,
    pub disposition: Option<Disposition>,
    /// The operator's note, where the PBX carries one (see the crate docs).
    pub note: Option<String>,
    /// Transfers the record states itself (FreeSWITCH's `transfer_history`, CEL's
    /// transfer events); `None` where they are counted from the legs.
    pub transfers: Option<u32>,
    /// `Asterisk cdr`, `Asterisk cel`, `FreeSWITCH json` ...
    pub format: &'static str,
}

impl Leg {
    /// The endpoint behind a channel name: `SIP/301-0000000c` → `SIP/301`.
    pub fn endpoint(channel: &str) -> &str {
        match channel.rfind('-') {
            Some(at)
                if at > 0
                    && channel[at + 1..]
                        .trim_end_matches(";1")
                        .trim_end_matches(";2")
                        .chars()
                        .all(|c| c.is_ascii_hexdigit()) =>
            {
                &channel[..at]
            }
            _ => channel,
        }
    }

    pub fn is_local(channel: &str) -> bool {
        channel.starts_with("Local/")
    }

    /// The party that answered this leg, if a party did: an answered leg to a channel
    /// that is not a Local half, and not the voicemail box.
    pub fn answering_party(&self) -> Option<&str> {
        if self.disposition != Some(Disposition::Answered)
            || self.dst_channel.is_empty()
            || Leg::is_local(&self.dst_channel)
            || self.app.eq_ignore_ascii_case("VoiceMail")
            || (self.billsec == 0 && self.answer.is_none())
        {
            return None;
        }
        Some(Leg::endpoint(&self.dst_channel))
    }

    /// The ring timeout the dialplan gave `Dial` (`SIP/301&SIP/200@pbx,60,t` → 60 s).
    pub fn dial_timeout_s(&self) -> Option<i64> {
        if !self.app.eq_ignore_ascii_case("Dial") && !self.app.eq_ignore_ascii_case("Queue") {
            return None;
        }
        self.app_data.split(',').nth(1)?.trim().parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_lose_the_channel_counter() {
        assert_eq!(Leg::endpoint("SIP/301-0000000c"), "SIP/301");
        assert_eq!(Leg::endpoint("PJSIP/client2-00000003"), "PJSIP/client2");
        assert_eq!(
            Leg::endpoint("Local/ch1@TimeDelay-00000000;2"),
            "Local/ch1@TimeDelay"
        );
        assert_eq!(
            Leg::endpoint("SIP/172.19.45.122:5020-00000001"),
            "SIP/172.19.45.122:5020"
        );
        assert_eq!(Leg::endpoint("1002"), "1002");
    }

    #[test]
    fn the_dial_timeout_is_its_second_argument() {
        let leg = Leg {
            app: "Dial".into(),
            app_data: "SIP/301&SIP/200@stadionpbx,60,t".into(),
            ..Leg::default()
        };
        assert_eq!(leg.dial_timeout_s(), Some(60));
    }
}

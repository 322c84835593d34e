//! The plugin's settings (the `settings` table of its `[[plugins]]` entry), read and
//! checked per call so that a hot-reloaded config takes effect at once.

use okno_sdk::config;
use okno_sdk::prelude::*;

use crate::charset;
use crate::mime;

/// What `decode` needs.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeSettings {
    /// `client-kind`: the kind given to every sender.
    pub client_kind: ClientKind,
    /// `fallback-charset`: how to read 8-bit text that declares no charset.
    pub fallback_charset: Option<String>,
}

impl DecodeSettings {
    pub fn from_config() -> Result<Self, PluginError> {
        let client_kind = match config::get("client-kind").as_deref().map(str::trim) {
            None | Some("citizen") => ClientKind::Citizen,
            Some("business") => ClientKind::Business,
            Some("internal") => ClientKind::Internal,
            Some("unknown") => ClientKind::Unknown,
            Some(other) => {
                return Err(PluginError::config(format!(
                    "setting `client-kind` is `{other}`; use one of `citizen`, `business`, `internal`, `unknown`"
                )))
            }
        };
        let fallback_charset = match config::get("fallback-charset") {
            None => None,
            Some(name) if name.trim().eq_ignore_ascii_case("auto") => None,
            Some(name) => {
                let name = name.trim().to_ascii_lowercase();
                if !charset::is_known(&name) {
                    return Err(PluginError::config(format!(
                        "setting `fallback-charset` is `{name}`, which this plugin cannot decode; \
                         use `auto` (guess windows-1251 or koi8-r), `windows-1251`, `koi8-r` or another \
                         IANA charset name"
                    )));
                }
                Some(name)
            }
        };
        Ok(DecodeSettings {
            client_kind,
            fallback_charset,
        })
    }
}

/// How the reply body is put on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferEncoding {
    QuotedPrintable,
    Base64,
}

/// `reply-language`: which language replies are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyLanguage {
    /// The appeal's own (`mail.language`): English for English, else Russian.
    Auto,
    Russian,
    English,
}

/// What `encode` needs.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodeSettings {
    /// `from`: the address replies come from.
    pub from: String,
    /// `from-name`: the display name beside it.
    pub from_name: Option<String>,
    /// `signature`: lines that close the reply.
    pub signature: Option<String>,
    /// `signature-en`: the same for replies in English (default: `signature`).
    pub signature_en: Option<String>,
    /// `reply-language`.
    pub reply_language: ReplyLanguage,
    /// `transfer-encoding`.
    pub transfer_encoding: TransferEncoding,
}

impl EncodeSettings {
    pub fn from_config() -> Result<Self, PluginError> {
        let from = config::get("from")
            .map(|f| f.trim().to_string())
            .ok_or_else(|| {
                PluginError::config(
                    "setting `from` is missing: replies need a sender address, \
                 e.g. `from = \"priemnaya@minsoc.example.ru\"`",
                )
            })?;
        if !mime::is_plain_address(&from) {
            return Err(PluginError::config(format!(
                "setting `from` is `{from}`, which is not a plain address like `priemnaya@minsoc.example.ru` \
                 (no display name, spaces or angle brackets; put the name in `from-name`)"
            )));
        }
        let non_empty = |key: &str| {
            config::get(key)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let transfer_encoding = match config::get("transfer-encoding").as_deref().map(str::trim) {
            None | Some("quoted-printable") => TransferEncoding::QuotedPrintable,
            Some("base64") => TransferEncoding::Base64,
            Some(other) => {
                return Err(PluginError::config(format!(
                    "setting `transfer-encoding` is `{other}`; use `quoted-printable` or `base64`"
                )))
            }
        };
        let reply_language = match config::get("reply-language").as_deref().map(str::trim) {
            None | Some("auto") => ReplyLanguage::Auto,
            Some("ru") => ReplyLanguage::Russian,
            Some("en") => ReplyLanguage::English,
            Some(other) => {
                return Err(PluginError::config(format!(
                    "setting `reply-language` is `{other}`; use `auto` (the appeal's), `ru` or `en`"
                )))
            }
        };
        Ok(EncodeSettings {
            from,
            from_name: non_empty("from-name"),
            signature: non_empty("signature"),
            signature_en: non_empty("signature-en"),
            reply_language,
            transfer_encoding,
        })
    }

    /// The signature for a reply in `language`.
    pub fn signature(&self, language: crate::reply::Language) -> Option<&str> {
        match language {
            crate::reply::Language::English => {
                self.signature_en.as_deref().or(self.signature.as_deref())
            }
            crate::reply::Language::Russian => self.signature.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use okno_sdk::testing::MockHost;

    #[test]
    fn decode_defaults_to_citizens_and_guessing() {
        let settings = MockHost::new().run(DecodeSettings::from_config).unwrap();
        assert_eq!(
            settings,
            DecodeSettings {
                client_kind: ClientKind::Citizen,
                fallback_charset: None
            }
        );
    }

    #[test]
    fn rejects_unknown_client_kind_and_charset() {
        let err = MockHost::new()
            .setting("client-kind", "person")
            .run(DecodeSettings::from_config)
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Config);
        assert!(
            err.message.contains("`client-kind` is `person`"),
            "{}",
            err.message
        );

        let err = MockHost::new()
            .setting("fallback-charset", "klingon")
            .run(DecodeSettings::from_config)
            .unwrap_err();
        assert!(
            err.message.contains("`fallback-charset` is `klingon`"),
            "{}",
            err.message
        );

        let ok = MockHost::new()
            .setting("fallback-charset", "KOI8-R")
            .run(DecodeSettings::from_config)
            .unwrap();
        assert_eq!(ok.fallback_charset.as_deref(), Some("koi8-r"));
    }

    #[test]
    fn encode_needs_a_plain_from_address() {
        let err = MockHost::new()
            .run(EncodeSettings::from_config)
            .unwrap_err();
        assert!(err.message.contains("`from` is missing"), "{}", err.message);

        let err = MockHost::new()
            .setting("from", "Приёмная <priemnaya@minsoc.example.ru>")
            .run(EncodeSettings::from_config)
            .unwrap_err();
        assert!(
            err.message.contains("not a plain address"),
            "{}",
            err.message
        );

        let err = MockHost::new()
            .setting("from", "priemnaya@minsoc.example.ru")
            .setting("transfer-encoding", "8bit")
            .run(EncodeSettings::from_config)
            .unwrap_err();
        assert!(
            err.message.contains("`transfer-encoding` is `8bit`"),
            "{}",
            err.message
        );
    }
}

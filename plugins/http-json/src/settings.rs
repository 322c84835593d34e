//! The plugin's settings, read and checked per call so that a reloaded config applies at once.

use okno_sdk::config;
use okno_sdk::prelude::*;

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `mask-pii`: replace personal data before it leaves the hub.
    pub mask_pii: bool,
    /// `default-channel`: the channel of posted appeals that name none.
    pub default_channel: Channel,
    /// `allow-unknown-fields`: ignore fields this plugin does not know instead of failing.
    pub allow_unknown_fields: bool,
}

impl Settings {
    pub fn from_config() -> Result<Self, PluginError> {
        let default_channel = match config::get("default-channel") {
            None => Channel::Api,
            Some(name) => Channel::parse(name.trim()).map_err(|known| {
                PluginError::config(format!(
                    "setting `default-channel` is `{}`; use one of {known}",
                    name.trim()
                ))
            })?,
        };
        Ok(Settings {
            mask_pii: flag("mask-pii")?,
            default_channel,
            allow_unknown_fields: flag("allow-unknown-fields")?,
        })
    }
}

fn flag(key: &str) -> Result<bool, PluginError> {
    match config::get(key).as_deref().map(str::trim) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(PluginError::config(format!(
            "setting `{key}` is `{other}`; use `true` or `false`"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use okno_sdk::testing::MockHost;

    #[test]
    fn defaults() {
        let settings = MockHost::new().run(Settings::from_config).unwrap();
        assert_eq!(
            settings,
            Settings {
                mask_pii: false,
                default_channel: Channel::Api,
                allow_unknown_fields: false
            }
        );
    }

    #[test]
    fn rejects_bad_values_naming_the_key() {
        let err = MockHost::new()
            .setting("mask-pii", "yes")
            .run(Settings::from_config)
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Config);
        assert!(
            err.message.contains("`mask-pii` is `yes`"),
            "{}",
            err.message
        );

        let err = MockHost::new()
            .setting("default-channel", "fax")
            .run(Settings::from_config)
            .unwrap_err();
        assert!(
            err.message.contains("`default-channel` is `fax`"),
            "{}",
            err.message
        );
        assert!(err.message.contains("`site`"), "{}", err.message);

        let ok = MockHost::new()
            .setting("default-channel", "site")
            .run(Settings::from_config)
            .unwrap();
        assert_eq!(ok.default_channel, Channel::Site);
    }
}

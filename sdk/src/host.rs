//! The host capabilities a plugin may use. In a component they call the hub; natively
//! (unit tests, benchmarks) they call the [`crate::testing::MockHost`] of the current
//! thread, and panic if none is installed, since a test should say what its host holds.

#[cfg(target_arch = "wasm32")]
use crate::bindings::host::okno::plugin as wit;

/// The hub's log. Never pass personal data (names, contacts, appeal text) here.
pub mod log {
    pub use crate::bindings::host::okno::plugin::log::Level;

    pub fn log(level: Level, message: &str) {
        #[cfg(target_arch = "wasm32")]
        super::wit::log::log(level, message);
        #[cfg(not(target_arch = "wasm32"))]
        crate::testing::with_host(|host| host.log(level, message));
    }

    pub fn debug(message: &str) {
        log(Level::Debug, message)
    }
    pub fn info(message: &str) {
        log(Level::Info, message)
    }
    pub fn warn(message: &str) {
        log(Level::Warn, message)
    }
}

/// The plugin's settings from the hub config.
pub mod config {
    pub fn get(key: &str) -> Option<String> {
        #[cfg(target_arch = "wasm32")]
        return super::wit::config::get(key);
        #[cfg(not(target_arch = "wasm32"))]
        crate::testing::with_host(|host| host.settings.get(key).cloned())
    }

    pub fn get_all() -> Vec<(String, String)> {
        #[cfg(target_arch = "wasm32")]
        return super::wit::config::get_all();
        #[cfg(not(target_arch = "wasm32"))]
        crate::testing::with_host(|host| {
            host.settings
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
    }
}

/// The plugin's persistent key/value store.
pub mod kv {
    pub use crate::bindings::host::okno::plugin::kv::KvError;

    pub fn get(key: &str) -> Result<Option<Vec<u8>>, KvError> {
        #[cfg(target_arch = "wasm32")]
        return super::wit::kv::get(key);
        #[cfg(not(target_arch = "wasm32"))]
        crate::testing::with_host(|host| Ok(host.kv.get(key).cloned()))
    }

    pub fn set(key: &str, value: &[u8]) -> Result<(), KvError> {
        #[cfg(target_arch = "wasm32")]
        return super::wit::kv::set(key, value);
        #[cfg(not(target_arch = "wasm32"))]
        crate::testing::with_host(|host| {
            host.kv.insert(key.to_string(), value.to_vec());
            Ok(())
        })
    }

    pub fn delete(key: &str) -> Result<(), KvError> {
        #[cfg(target_arch = "wasm32")]
        return super::wit::kv::delete(key);
        #[cfg(not(target_arch = "wasm32"))]
        crate::testing::with_host(|host| {
            host.kv.remove(key);
            Ok(())
        })
    }

    pub fn list_keys(prefix: &str, limit: u32) -> Result<Vec<String>, KvError> {
        #[cfg(target_arch = "wasm32")]
        return super::wit::kv::list_keys(prefix, limit);
        #[cfg(not(target_arch = "wasm32"))]
        crate::testing::with_host(|host| {
            Ok(host
                .kv
                .range(prefix.to_string()..)
                .take_while(|(k, _)| k.starts_with(prefix))
                .take(limit as usize)
                .map(|(k, _)| k.clone())
                .collect())
        })
    }
}

/// The hub's clock and time zone.
pub mod clock {
    use crate::types::Timestamp;

    pub fn now() -> Timestamp {
        #[cfg(target_arch = "wasm32")]
        return super::wit::clock::now();
        #[cfg(not(target_arch = "wasm32"))]
        crate::testing::with_host(|host| host.now)
    }

    pub fn utc_offset_minutes() -> i32 {
        #[cfg(target_arch = "wasm32")]
        return super::wit::clock::utc_offset_minutes();
        #[cfg(not(target_arch = "wasm32"))]
        crate::testing::with_host(|host| host.utc_offset_minutes)
    }
}

/// Working days by the Russian production calendar.
pub mod calendar {
    use crate::types::Date;

    pub fn is_working_day(day: Date) -> bool {
        #[cfg(target_arch = "wasm32")]
        return super::wit::calendar::is_working_day(day);
        #[cfg(not(target_arch = "wasm32"))]
        crate::production_calendar::is_working_day(day)
    }

    pub fn add_working_days(start: Date, days: u32) -> Date {
        #[cfg(target_arch = "wasm32")]
        return super::wit::calendar::add_working_days(start, days);
        #[cfg(not(target_arch = "wasm32"))]
        crate::production_calendar::add_working_days(start, days)
    }
}

/// Outgoing HTTP to the hosts granted to the plugin.
pub mod http {
    pub use crate::bindings::host::okno::plugin::http::{HttpError, Request, Response};

    pub fn send(request: &Request) -> Result<Response, HttpError> {
        #[cfg(target_arch = "wasm32")]
        return super::wit::http::send(request);
        #[cfg(not(target_arch = "wasm32"))]
        crate::testing::with_host(|host| host.send(request))
    }

    /// What went wrong, in words for an operator's log: which setting of the plugin's
    /// `[[plugins]]` entry to look at where one decides it.
    pub fn describe(error: &HttpError) -> String {
        match error {
            HttpError::Denied(why) => format!("not allowed: {why} (see `http_allow`)"),
            HttpError::InvalidRequest(why) => format!("not a valid request: {why}"),
            HttpError::Timeout => "no answer in time".into(),
            HttpError::TooLarge(max) => format!(
                "the answer is over this plugin's limit of {max} bytes \
                 (raise `http_max_response_bytes`, with `memory_mib` at least twice it)"
            ),
            HttpError::Transport(why) => format!("connection failed: {why}"),
        }
    }
}

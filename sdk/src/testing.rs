//! A stand-in for the hub, so plugin logic runs natively in `cargo test` and benchmarks.
//!
//! ```
//! use okno_sdk::testing::MockHost;
//! let host = MockHost::new().setting("greeting", "привет");
//! let value = host.run(|| okno_sdk::config::get("greeting"));
//! assert_eq!(value.as_deref(), Some("привет"));
//! ```

use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::host::http::{HttpError, Request, Response};
use crate::host::log::Level;
use crate::types::Timestamp;

/// What the host holds for one plugin: settings, kv, clock, canned HTTP answers, and
/// the log lines the plugin wrote.
#[derive(Clone, Debug)]
pub struct MockHost {
    pub settings: BTreeMap<String, String>,
    pub kv: BTreeMap<String, Vec<u8>>,
    pub now: Timestamp,
    pub utc_offset_minutes: i32,
    /// URL → (status, body). Any other URL is denied, as an ungranted host would be.
    pub http: BTreeMap<String, (u16, Vec<u8>)>,
    pub logs: Vec<(Level, String)>,
}

thread_local! {
    static CURRENT: RefCell<Option<MockHost>> = const { RefCell::new(None) };
}

impl Default for MockHost {
    fn default() -> Self {
        Self::new()
    }
}

impl MockHost {
    /// No settings, empty kv, Moscow time, the clock at 2026-01-12T09:00:00+03:00.
    pub fn new() -> Self {
        MockHost {
            settings: BTreeMap::new(),
            kv: BTreeMap::new(),
            now: 1_768_197_600_000,
            utc_offset_minutes: 180,
            http: BTreeMap::new(),
            logs: Vec::new(),
        }
    }

    pub fn setting(mut self, key: &str, value: &str) -> Self {
        self.settings.insert(key.into(), value.into());
        self
    }

    pub fn now(mut self, now: Timestamp) -> Self {
        self.now = now;
        self
    }

    pub fn http_response(mut self, url: &str, status: u16, body: &[u8]) -> Self {
        self.http.insert(url.into(), (status, body.to_vec()));
        self
    }

    /// Runs `f` with this host installed for the current thread.
    pub fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        self.run_and_keep(f).0
    }

    /// Like [`MockHost::run`], and returns the host as the plugin left it (kv, logs).
    pub fn run_and_keep<T>(&self, f: impl FnOnce() -> T) -> (T, MockHost) {
        let previous = CURRENT.with(|c| c.replace(Some(self.clone())));
        let result = f();
        let after = CURRENT
            .with(|c| c.replace(previous))
            .expect("mock host present");
        (result, after)
    }

    pub(crate) fn log(&mut self, level: Level, message: &str) {
        self.logs.push((level, message.to_string()));
    }

    pub(crate) fn send(&mut self, request: &Request) -> Result<Response, HttpError> {
        match self.http.get(&request.url) {
            Some((status, body)) => Ok(Response {
                status: *status,
                headers: vec![],
                body: body.clone(),
            }),
            None => Err(HttpError::Denied(format!(
                "{} is not granted in this MockHost",
                request.url
            ))),
        }
    }
}

pub(crate) fn with_host<T>(f: impl FnOnce(&mut MockHost) -> T) -> T {
    CURRENT.with(|c| {
        let mut current = c.borrow_mut();
        let host = current.as_mut().expect(
            "a host capability was called natively without a host: wrap the call in okno_sdk::testing::MockHost::new().run(|| ...)",
        );
        f(host)
    })
}

//! Logging setup, and masking of personal data for anything that reaches a log.

use tracing_subscriber::EnvFilter;

/// Replaces phone numbers, e-mail addresses, SNILS, INN, passport and card numbers,
/// addresses and full names with `[kind]`, by the same rules as the `pii` plugin.
pub fn mask_personal_data(text: &str) -> String {
    okno_plugin_pii::mask_all(text)
}

/// `RUST_LOG` wins; otherwise `default` (e.g. "info").
pub fn init_logging(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

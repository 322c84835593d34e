//! The schema's field rules: the SDK's (`okno_sdk::fields`), and the classifier codes this
//! plugin's build script makes into a static table from `wit/classifier.csv`.

use okno_sdk::prelude::*;

pub use okno_sdk::fields::*;

mod codes {
    include!(concat!(env!("OUT_DIR"), "/codes.rs"));
}

/// A code of the official thematic classifier that exists in it.
pub fn topic_code(path: &str, value: &str) -> Result<(), PluginError> {
    okno_sdk::fields::topic_code(path, value, &codes::CODES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_come_from_the_classifier() {
        assert!(topic_code("$", "0001.0002.0025.0098").is_ok());
        assert!(topic_code("$", "0001.0002.0025.9999")
            .unwrap_err()
            .message
            .contains("not in the official"));
        assert!(topic_code("$", "1.2.3.4").is_err());
    }
}

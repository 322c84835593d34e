//! Reads /etc/passwd: linking `wasi:filesystem` makes the hub refuse it at load.

use okno_sdk::prelude::*;

struct FsReader;

impl Classifier for FsReader {
    fn classify(
        _message: Message,
        mut current: Classification,
    ) -> Result<Classification, PluginError> {
        let text = std::fs::read_to_string("/etc/passwd")
            .map_err(|e| PluginError::internal(e.to_string()))?;
        current.tags.push(format!("read-{}", text.len()));
        Ok(current)
    }
}

okno_sdk::export_classifier!(FsReader);

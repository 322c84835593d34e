//! Reads /etc/passwd. The hub links `wasi:filesystem` with no preopened directory, so the
//! plugin loads and its open fails: no file is reachable.

use okno_sdk::prelude::*;

struct FsReader;

impl Classifier for FsReader {
    fn classify(
        _message: Message,
        mut current: Classification,
    ) -> Result<Classification, PluginError> {
        let text = std::fs::read_to_string("/etc/passwd")
            .map_err(|e| PluginError::internal(format!("opening /etc/passwd: {e}")))?;
        current.tags.push(format!("read-{}", text.len()));
        Ok(current)
    }
}

okno_sdk::export_classifier!(FsReader);

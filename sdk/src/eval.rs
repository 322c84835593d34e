//! Labelled sets for measuring a plugin natively: JSON Lines files, one labelled text a
//! line (the `eval-*` examples of the reference plugins read `tests/data/*.jsonl`).

/// One line of a labelled set, with where it stands for error messages.
pub struct Labelled<'a> {
    path: &'a str,
    /// 1-based, as editors count.
    pub line: usize,
    pub value: serde_json::Value,
}

impl Labelled<'_> {
    /// `PATH:LINE: message`.
    pub fn error(&self, message: &str) -> String {
        format!("{}:{}: {message}", self.path, self.line)
    }

    /// The string field `key`, or an error naming it.
    pub fn string(&self, key: &str) -> Result<String, String> {
        self.value[key]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| self.error(&format!("no {key}")))
    }
}

/// Reads the set at `path`, skipping blank lines; a line that is not JSON is an error
/// naming the file and line.
pub fn read_jsonl(path: &str) -> Result<Vec<Labelled<'_>>, String> {
    let data = std::fs::read_to_string(path).map_err(|e| format!("reading {path}: {e}"))?;
    data.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| {
            let value = serde_json::from_str(line).map_err(|e| format!("{path}:{}: {e}", n + 1))?;
            Ok(Labelled {
                path,
                line: n + 1,
                value,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_lines_and_names_the_line_of_an_error() {
        let dir = std::env::temp_dir().join(format!("okno-sdk-eval-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("set.jsonl");
        std::fs::write(&file, "{\"text\": \"a\"}\n\n{\"code\": 1}\nnot json\n").unwrap();
        let path = file.to_str().unwrap();
        let err = read_jsonl(path).err().unwrap();
        assert_eq!(err, format!("{path}:4: expected ident at line 1 column 2"));
        std::fs::write(&file, "{\"text\": \"a\"}\n\n{\"code\": 1}\n").unwrap();
        let set = read_jsonl(path).unwrap();
        assert_eq!(set.len(), 2);
        assert_eq!(set[0].string("text").unwrap(), "a");
        assert_eq!(set[1].line, 3);
        assert_eq!(
            set[1].string("text").unwrap_err(),
            format!("{path}:3: no text")
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}

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

/// How one label fared on a set: texts labelled with it (`gold`), answers that gave it
/// (`found`), and both at once (`hits`).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Tally {
    pub hits: usize,
    pub found: usize,
    pub gold: usize,
}

impl Tally {
    /// Counts one text: whether it is labelled with the label, whether the answer gave it.
    pub fn add(&mut self, gold: bool, found: bool) {
        self.gold += usize::from(gold);
        self.found += usize::from(found);
        self.hits += usize::from(gold && found);
    }

    pub fn precision(&self) -> f64 {
        ratio(self.hits, self.found)
    }

    pub fn recall(&self) -> f64 {
        ratio(self.hits, self.gold)
    }

    /// The header of the table whose rows [`Tally::row`] prints; `first` names its
    /// first column.
    pub fn header(first: &str) -> String {
        format!(
            "{first:10} {:>9} {:>9} {:>6} {:>6}",
            "precision", "recall", "found", "gold"
        )
    }

    /// One row of the table: `name`, precision, recall, found, gold.
    pub fn row(&self, name: &str) -> String {
        format!(
            "{name:10} {:>9.3} {:>9.3} {:>6} {:>6}",
            self.precision(),
            self.recall(),
            self.found,
            self.gold
        )
    }
}

impl std::ops::AddAssign for Tally {
    fn add_assign(&mut self, other: Tally) {
        self.hits += other.hits;
        self.found += other.found;
        self.gold += other.gold;
    }
}

/// `a / b`, and 1 when there is nothing to divide (no answers: none was wrong).
pub fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        1.0
    } else {
        a as f64 / b as f64
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
    fn a_tally_counts_hits_answers_and_labels() {
        let mut t = Tally::default();
        t.add(true, true);
        t.add(true, false);
        t.add(false, true);
        t.add(false, false);
        assert_eq!(
            t,
            Tally {
                hits: 1,
                found: 2,
                gold: 2
            }
        );
        assert_eq!((t.precision(), t.recall()), (0.5, 0.5));
        assert_eq!(Tally::default().precision(), 1.0);
        assert_eq!(t.row("x"), "x              0.500     0.500      2      2");
    }

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

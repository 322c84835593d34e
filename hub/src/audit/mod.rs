//! The audit log: every admin and operator action, one JSON line each in
//! `DATA_DIR/audit.jsonl`, each entry carrying the hash of the one before it.
//!
//! An entry's `hash` is the SHA-256 of the entry serialized without its `hash` field, and
//! that serialization includes `prev`, the previous entry's hash. Changing an entry breaks
//! its own hash; removing or reordering entries breaks the `seq` count or the `prev`
//! link of the next one. Removing entries at the end leaves a shorter chain that is
//! whole, so the last entry's `seq` and `hash` are also kept in `audit.head`, and
//! `okno audit verify` compares the two. Someone who can rewrite both files can rewrite
//! history; against that, copy the head (`okno audit verify` prints it) somewhere the hub
//! cannot write, and verify against it later with `--expect-head`.
//!
//! The hub and `okno token ...` append to the same log, under the lock of `files::lock`.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::files;

/// The `prev` of the first entry.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AuditEntry {
    /// 1, 2, 3, … without gaps.
    pub seq: u64,
    /// RFC 3339, UTC.
    pub time: String,
    /// The token's name, or `cli:USER` for a command run on the hub's machine.
    pub actor: String,
    pub role: String,
    /// e.g. `reload`, `replay`, `discard`, `correct`, `import`, `token.create`.
    pub action: String,
    /// What the action was applied to: a message id, a token name, the config file.
    pub target: String,
    /// What changed.
    pub changes: Value,
    pub prev: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hash: String,
}

impl AuditEntry {
    fn computed_hash(&self) -> String {
        let mut unhashed = self.clone();
        unhashed.hash = String::new();
        let bytes = serde_json::to_vec(&unhashed).unwrap_or_default();
        hex::encode(Sha256::digest(bytes))
    }
}

/// An action to record.
pub struct Action<'a> {
    pub actor: &'a str,
    pub role: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub changes: Value,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
struct Head {
    seq: u64,
    hash: String,
}

pub struct AuditLog {
    path: PathBuf,
    head_path: PathBuf,
}

impl AuditLog {
    pub fn open(data_dir: &Path) -> AuditLog {
        AuditLog {
            path: data_dir.join("audit.jsonl"),
            head_path: data_dir.join("audit.head"),
        }
    }

    /// Appends one entry and syncs it to disk before returning it.
    pub fn append(&self, action: Action) -> anyhow::Result<AuditEntry> {
        let _lock = files::lock(&self.path)?;
        let head = self.read_head()?;
        let mut entry = AuditEntry {
            seq: head.seq + 1,
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            actor: action.actor.into(),
            role: action.role.into(),
            action: action.action.into(),
            target: action.target.into(),
            changes: action.changes,
            prev: if head.seq == 0 {
                GENESIS.into()
            } else {
                head.hash.clone()
            },
            hash: String::new(),
        };
        entry.hash = entry.computed_hash();
        let mut line = serde_json::to_vec(&entry)?;
        line.push(b'\n');
        let mut file = files::private_options()
            .create(true)
            .append(true)
            .open(&self.path)
            .with_context(|| format!("opening {}", self.path.display()))?;
        file.write_all(&line)
            .and_then(|()| file.sync_data())
            .with_context(|| format!("appending to {}", self.path.display()))?;
        if head.seq == 0 {
            files::sync_dir(&self.path)?;
        }
        let new_head = Head {
            seq: entry.seq,
            hash: entry.hash.clone(),
        };
        files::write_atomic(&self.head_path, &serde_json::to_vec(&new_head)?)?;
        Ok(entry)
    }

    fn read_head(&self) -> anyhow::Result<Head> {
        match std::fs::read(&self.head_path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is unreadable", self.head_path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if self.path.exists() {
                    bail!(
                        "{} exists but its head {} is missing: run `okno audit verify`",
                        self.path.display(),
                        self.head_path.display()
                    );
                }
                Ok(Head::default())
            }
            Err(e) => Err(e).with_context(|| format!("reading {}", self.head_path.display())),
        }
    }

    /// Entries with `seq` greater than `after`, at most `limit`.
    pub fn page(&self, after: u64, limit: usize) -> anyhow::Result<Vec<AuditEntry>> {
        let file = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("opening {}", self.path.display())),
        };
        let mut out = Vec::new();
        for (index, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line = line?;
            let entry: AuditEntry = serde_json::from_str(&line).with_context(|| {
                format!(
                    "{} line {}: not an audit entry",
                    self.path.display(),
                    index + 1
                )
            })?;
            if entry.seq > after {
                out.push(entry);
                if out.len() == limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Checks the whole chain; returns the number of entries and the head's hash, or every
    /// problem found, each naming the line.
    pub fn verify(&self, expect_head: Option<&str>) -> Result<(u64, String), Vec<String>> {
        let mut problems = Vec::new();
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(vec![format!("reading {}: {e}", self.path.display())]),
        };
        let mut expected_seq = 1;
        let mut prev = GENESIS.to_string();
        for (index, line) in text.lines().enumerate() {
            let at = format!("line {}", index + 1);
            let entry: AuditEntry = match serde_json::from_str(line) {
                Ok(e) => e,
                Err(e) => {
                    problems.push(format!("{at}: not an audit entry ({e})"));
                    continue;
                }
            };
            if entry.seq != expected_seq {
                problems.push(format!(
                    "{at}: entry {} where entry {expected_seq} should be (entries removed or reordered)",
                    entry.seq
                ));
            }
            if entry.prev != prev {
                problems.push(format!(
                    "{at}: entry {} does not follow the entry before it (its prev hash differs: entries removed, reordered or altered)",
                    entry.seq
                ));
            }
            let computed = entry.computed_hash();
            if computed != entry.hash {
                problems.push(format!(
                    "{at}: entry {} was altered (its content does not match its hash)",
                    entry.seq
                ));
            }
            expected_seq = entry.seq + 1;
            prev = entry.hash;
        }
        let count = expected_seq - 1;
        match self.read_head() {
            Ok(head) if head.seq != count || (count > 0 && head.hash != prev) => {
                problems.push(format!(
                    "{} says the log ends at entry {} ({}), the log ends at entry {count}: entries removed at the end, or the head altered",
                    self.head_path.display(),
                    head.seq,
                    short(&head.hash)
                ));
            }
            Ok(_) => {}
            Err(e) => problems.push(format!("{e:#}")),
        }
        if let Some(expected) = expect_head {
            if expected != prev {
                problems.push(format!(
                    "the chain ends in {} but --expect-head is {}",
                    short(&prev),
                    short(expected)
                ));
            }
        }
        if problems.is_empty() {
            Ok((count, prev))
        } else {
            Err(problems)
        }
    }
}

fn short(hash: &str) -> &str {
    hash.get(..16).unwrap_or(hash)
}

/// The actor name for a command run on the hub's machine.
pub fn cli_actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn log_with_five(dir: &Path) -> AuditLog {
        let log = AuditLog::open(dir);
        for i in 0..5 {
            log.append(Action {
                actor: "ops",
                role: "operator",
                action: "correct",
                target: &format!("m{i}"),
                changes: json!({"code": format!("0001.0001.0001.000{i}")}),
            })
            .unwrap();
        }
        log
    }

    fn lines(dir: &Path) -> Vec<String> {
        std::fs::read_to_string(dir.join("audit.jsonl"))
            .unwrap()
            .lines()
            .map(String::from)
            .collect()
    }

    fn write_lines(dir: &Path, lines: &[String]) {
        std::fs::write(dir.join("audit.jsonl"), lines.join("\n") + "\n").unwrap();
    }

    #[test]
    fn an_intact_log_verifies_and_pages() {
        let dir = tempfile::tempdir().unwrap();
        let log = log_with_five(dir.path());
        let (count, head) = log.verify(None).unwrap();
        assert_eq!(count, 5);
        assert!(log.verify(Some(&head)).is_ok());
        assert!(log.verify(Some(GENESIS)).is_err());
        let page = log.page(2, 2).unwrap();
        assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![3, 4]);
        assert_eq!(page[0].prev, log.page(1, 1).unwrap()[0].hash);
    }

    #[test]
    fn an_altered_entry_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let log = log_with_five(dir.path());
        let mut lines = lines(dir.path());
        lines[2] = lines[2].replace("0001.0001.0001.0002", "0005.0005.0005.0005");
        write_lines(dir.path(), &lines);
        let problems = log.verify(None).unwrap_err();
        assert!(
            problems
                .iter()
                .any(|p| p.contains("line 3: entry 3 was altered")),
            "{problems:?}"
        );
    }

    #[test]
    fn a_removed_entry_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let log = log_with_five(dir.path());
        let mut lines = lines(dir.path());
        lines.remove(1);
        write_lines(dir.path(), &lines);
        let problems = log.verify(None).unwrap_err();
        assert!(
            problems
                .iter()
                .any(|p| p.contains("line 2: entry 3 where entry 2 should be")),
            "{problems:?}"
        );
    }

    #[test]
    fn reordered_entries_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let log = log_with_five(dir.path());
        let mut lines = lines(dir.path());
        lines.swap(1, 2);
        write_lines(dir.path(), &lines);
        let problems = log.verify(None).unwrap_err();
        assert!(
            problems
                .iter()
                .any(|p| p.contains("line 2") && p.contains("removed or reordered")),
            "{problems:?}"
        );
    }

    #[test]
    fn entries_cut_from_the_end_are_found_by_the_head() {
        let dir = tempfile::tempdir().unwrap();
        let log = log_with_five(dir.path());
        let mut lines = lines(dir.path());
        lines.truncate(3);
        write_lines(dir.path(), &lines);
        let problems = log.verify(None).unwrap_err();
        assert!(
            problems.iter().any(|p| p.contains("removed at the end")),
            "{problems:?}"
        );
    }

    #[test]
    fn an_entry_recomputed_after_an_edit_still_breaks_the_next_link() {
        let dir = tempfile::tempdir().unwrap();
        let log = log_with_five(dir.path());
        let mut lines = lines(dir.path());
        let mut entry: AuditEntry = serde_json::from_str(&lines[1]).unwrap();
        entry.target = "someone-else".into();
        entry.hash = entry.computed_hash();
        lines[1] = serde_json::to_string(&entry).unwrap();
        write_lines(dir.path(), &lines);
        let problems = log.verify(None).unwrap_err();
        assert!(
            problems
                .iter()
                .any(|p| p.contains("line 3: entry 3 does not follow")),
            "{problems:?}"
        );
    }
}

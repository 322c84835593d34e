//! A readable difference of two JSON values: one line per differing leaf, named by its
//! path (`[0].classification.tags[1]`), for `okno plugin test`.

use serde_json::Value;

/// The longest value shown in a difference line; a longer one is cut, with its length.
const SHOWN_CHARS: usize = 160;

/// Every difference between `expected` and `actual`, in document order.
pub fn diff(expected: &Value, actual: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk("", expected, actual, &mut out);
    out
}

fn walk(path: &str, expected: &Value, actual: &Value, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (key, ev) in e {
                let child = join(path, key);
                match a.get(key) {
                    Some(av) => walk(&child, ev, av, out),
                    None => out.push(format!("{child}: expected {}, missing", show(ev))),
                }
            }
            for (key, av) in a {
                if !e.contains_key(key) {
                    out.push(format!(
                        "{}: not expected, got {}",
                        join(path, key),
                        show(av)
                    ));
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            for (i, ev) in e.iter().enumerate() {
                let child = format!("{path}[{i}]");
                match a.get(i) {
                    Some(av) => walk(&child, ev, av, out),
                    None => out.push(format!("{child}: expected {}, missing", show(ev))),
                }
            }
            for (i, av) in a.iter().enumerate().skip(e.len()) {
                out.push(format!("{path}[{i}]: not expected, got {}", show(av)));
            }
        }
        (e, a) if e == a => {}
        (e, a) => {
            let at = if path.is_empty() {
                "the top level"
            } else {
                path
            };
            out.push(format!("{at}: expected {}, got {}", show(e), show(a)));
        }
    }
}

fn join(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (path.is_empty(), plain) {
        (true, true) => key.to_string(),
        (false, true) => format!("{path}.{key}"),
        (_, false) => format!("{path}[{key:?}]"),
    }
}

fn show(value: &Value) -> String {
    let text = value.to_string();
    let chars = text.chars().count();
    if chars <= SHOWN_CHARS {
        return text;
    }
    let cut: String = text.chars().take(SHOWN_CHARS).collect();
    format!("{cut}… ({chars} characters)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_each_difference_by_path() {
        let expected = json!([{"tags": ["a", "b"], "topic": {"code": "1"}, "gone": 1}]);
        let actual = json!([{"tags": ["a"], "topic": {"code": "2"}, "new": true}]);
        let mut lines = diff(&expected, &actual);
        lines.sort();
        assert_eq!(
            lines,
            vec![
                "[0].gone: expected 1, missing",
                "[0].new: not expected, got true",
                "[0].tags[1]: expected \"b\", missing",
                "[0].topic.code: expected \"1\", got \"2\"",
            ]
        );
        assert!(diff(&expected, &expected).is_empty());
        assert_eq!(
            diff(&json!(1), &json!("1")),
            vec!["the top level: expected 1, got \"1\""]
        );
    }
}

//! A classifier that misbehaves as its `mode` setting says, so tests can check that the
//! hub contains it: `loop`, `alloc` (1 GiB), `panic`, `http` (GETs `url`, with a header
//! for each `header.NAME` setting, and tags the message `http-STATUS`), `bad-code`
//! (returns a topic code not in the classifier), `by-body` (panics on a body containing
//! `[panic]`, loops on `[loop]`, behaves otherwise), `kv-fill` (writes 256 KiB values
//! under new keys until the kv refuses one, and tags the message `kv-quota-exceeded-N`
//! after N writes, or `kv-store-error`), or anything else to behave (tag the message
//! `hostile-ok`).

use okno_sdk::prelude::*;

struct Hostile;

impl Classifier for Hostile {
    fn classify(
        message: Message,
        mut current: Classification,
    ) -> Result<Classification, PluginError> {
        let mut mode = okno_sdk::config::get("mode").unwrap_or_default();
        if mode == "by-body" {
            mode = if message.body.contains("[panic]") {
                "panic".into()
            } else if message.body.contains("[loop]") {
                "loop".into()
            } else {
                "ok".into()
            };
        }
        match mode.as_str() {
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "alloc" => {
                let big: Vec<u8> = vec![1; 1 << 30];
                current
                    .tags
                    .push(format!("allocated-{}", std::hint::black_box(big).len()));
            }
            "panic" => panic!("hostile plugin panicked on purpose"),
            "http" => {
                let url =
                    okno_sdk::config::get("url").unwrap_or_else(|| "http://example.org/".into());
                let headers = okno_sdk::config::get_all()
                    .into_iter()
                    .filter_map(|(k, v)| {
                        k.strip_prefix("header.").map(|name| (name.to_string(), v))
                    })
                    .collect();
                let request = okno_sdk::http::Request {
                    method: "GET".into(),
                    url,
                    headers,
                    body: None,
                };
                match okno_sdk::http::send(&request) {
                    Ok(response) => current.tags.push(format!("http-{}", response.status)),
                    Err(e) => return Err(PluginError::upstream(format!("http refused: {e:?}"))),
                }
            }
            "bad-code" => {
                current.topic = Some(TopicAssignment {
                    best: Topic {
                        code: "9999.9999.9999.9999".into(),
                        name: "nothing".into(),
                        confidence: 0.9,
                    },
                    alternatives: vec![],
                    low_confidence: false,
                    reasons: vec![],
                });
            }
            "kv-fill" => {
                let value = vec![7u8; 256 << 10];
                let mut outcome = "kv-never-refused".to_string();
                for n in 0..4096 {
                    match okno_sdk::kv::set(&format!("fill/{n}"), &value) {
                        Ok(()) => {}
                        Err(okno_sdk::kv::KvError::QuotaExceeded(_)) => {
                            outcome = format!("kv-quota-exceeded-{n}");
                            break;
                        }
                        Err(okno_sdk::kv::KvError::Store(_)) => {
                            outcome = "kv-store-error".into();
                            break;
                        }
                    }
                }
                current.tags.push(outcome);
            }
            _ => current.tags.push("hostile-ok".into()),
        }
        Ok(current)
    }
}

okno_sdk::export_classifier!(Hostile);

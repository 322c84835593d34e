// urgency-js: tags an appeal that asks for urgent help, for the priority policy.
//
// The same logic as the `urgency-py` plugin and the Rust `tests/plugins/urgency` (the
// three are compared in tests/benches/plugin_languages.rs):
//
// - setting `words`: comma-separated words or phrases, matched case-insensitively anywhere
//   in the subject and body (a stem such as `аварийн` matches `аварийный`); the default
//   list is DEFAULT_WORDS;
// - setting `tag`: the tag added when any of them is found (default `urgent`; the
//   `priority` policy makes a message tagged `urgent` or `emergency` urgent).
//
// The message text is never logged: only how many words matched.

import { get } from "okno:plugin/config@0.1.1";
import { log } from "okno:plugin/log@0.1.1";

const DEFAULT_WORDS =
  "срочно,срочная,срочное,немедленно,авария,аварийн,угроза жизни," +
  "пожар,затоплен,нет отопления,нет воды,нет света";

function settingWords() {
  const raw = get("words");
  const words = (raw ?? DEFAULT_WORDS)
    .split(",")
    .map((w) => w.trim().toLowerCase())
    .filter((w) => w.length > 0);
  if (words.length === 0) {
    // A thrown value is the `plugin-error` of the result.
    throw {
      kind: "config",
      message: "setting `words` lists no word (give comma-separated words or phrases)",
    };
  }
  return words;
}

function matches(words, message) {
  const text = ((message.subject ?? "") + "\n" + message.body).toLowerCase();
  return words.filter((w) => text.includes(w)).length;
}

export function classify(message, current) {
  const words = settingWords();
  const tag = (get("tag") ?? "").trim() || "urgent";
  const found = matches(words, message);
  if (found > 0) {
    log("debug", `${found} urgency word(s) matched`);
    if (!current.tags.includes(tag)) {
      current.tags.push(tag);
    }
  }
  return current;
}

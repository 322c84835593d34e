"""urgency-py: tags an appeal that asks for urgent help, for the priority policy.

The same logic as the `urgency-js` plugin and the Rust `tests/plugins/urgency` (the three
are compared in `tests/benches/plugin_languages.rs`):

- settings `words`: comma-separated words or phrases, matched case-insensitively anywhere
  in the subject and body (a stem such as `аварийн` matches `аварийный`); the default list
  is `DEFAULT_WORDS`;
- settings `tag`: the tag added when any of them is found (default `urgent`; the
  `priority` policy makes a message tagged `urgent` or `emergency` urgent).

The message text is never logged: only how many words matched.
"""

from componentize_py_types import Err
import wit_world
from wit_world.imports import config, log, types

DEFAULT_WORDS = (
    "срочно,срочная,срочное,немедленно,авария,аварийн,угроза жизни,"
    "пожар,затоплен,нет отопления,нет воды,нет света"
)


def setting_words() -> list[str]:
    raw = config.get("words")
    words = [w.strip().lower() for w in (raw if raw is not None else DEFAULT_WORDS).split(",")]
    words = [w for w in words if w]
    if not words:
        raise Err(
            types.PluginError(
                kind=types.ErrorKind.CONFIG,
                message="setting `words` lists no word (give comma-separated words or phrases)",
            )
        )
    return words


def matches(words: list[str], message: types.Message) -> int:
    text = ((message.subject or "") + "\n" + message.body).lower()
    return sum(1 for w in words if w in text)


class WitWorld(wit_world.WitWorld):
    def classify(
        self, message: types.Message, current: types.Classification
    ) -> types.Classification:
        words = setting_words()
        tag = (config.get("tag") or "").strip() or "urgent"
        found = matches(words, message)
        if found:
            log.log(log.Level.DEBUG, f"{found} urgency word(s) matched")
            if tag not in current.tags:
                current.tags.append(tag)
        return current

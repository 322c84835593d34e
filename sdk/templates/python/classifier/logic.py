"""{{name}}: tags an appeal when its subject or body names one of the words of its `words`
setting (comma-separated, case-insensitive)."""

from typing import Optional

# The words looked for when the config gives none.
DEFAULT_WORDS = "срочно,авария"

# The tag added when a word is found.
TAG = "{{name}}"


class ConfigError(Exception):
    """A setting the plugin cannot use."""


def found_word(subject: Optional[str], body: str, words_setting: Optional[str]) -> Optional[str]:
    """The first configured word the subject or body names, if any."""
    words = [w.strip().lower() for w in (words_setting if words_setting is not None else DEFAULT_WORDS).split(",")]
    words = [w for w in words if w]
    if not words:
        raise ConfigError("`words` names no word")
    text = f"{subject or ''} {body}".lower()
    return next((w for w in words if w in text), None)

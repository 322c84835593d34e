"""{{name}}: a connector for plain-text appeals. `decode` reads UTF-8 text whose first
line is the subject and the rest the body; `encode` writes the message's id, priority and
subject as one line of text for a sink."""

from typing import Optional

# The largest input decoded, in bytes: anything longer is refused, not truncated.
MAX_INPUT_BYTES = 1 << 20


class InvalidInput(Exception):
    """Input the connector cannot read."""


def decode_text(data: bytes) -> tuple[Optional[str], str]:
    """The subject (None when there is none) and the body of a text appeal."""
    if len(data) > MAX_INPUT_BYTES:
        raise InvalidInput(f"the input is {len(data)} bytes; at most {MAX_INPUT_BYTES} are read")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InvalidInput(f"the input is not UTF-8: {e}")
    first, newline, rest = text.partition("\n")
    subject, body = (first.strip(), rest.strip()) if newline else ("", text.strip())
    if not subject and not body:
        raise InvalidInput("the input is empty")
    return (subject or None, body)


def encode_line(message_id: str, priority: str, subject: Optional[str]) -> bytes:
    """One line for a sink."""
    return f"{message_id} {priority} {subject or ''}\n".encode("utf-8")

// {{name}}: a connector for plain-text appeals. `decode` reads UTF-8 text whose first line
// is the subject and the rest the body; `encode` writes the message's id, priority and
// subject as one line of text for a sink.

/** The largest input decoded, in bytes: anything longer is refused, not truncated. */
export const MAX_INPUT_BYTES = 1 << 20;

function invalid(message) {
  return { kind: "invalid-input", message };
}

/** The messages in `input` (an inbound record), received at `now`. */
export function decodeText(input, now) {
  if (input.bytes.length > MAX_INPUT_BYTES) {
    throw invalid(`the input is ${input.bytes.length} bytes; at most ${MAX_INPUT_BYTES} are read`);
  }
  let text;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(input.bytes);
  } catch (e) {
    throw invalid(`the input is not UTF-8: ${e}`);
  }
  const newline = text.indexOf("\n");
  const subject = newline < 0 ? "" : text.slice(0, newline).trim();
  const body = (newline < 0 ? text : text.slice(newline + 1)).trim();
  if (subject === "" && body === "") {
    throw invalid("the input is empty");
  }
  return [
    {
      id: "",
      idempotencyKey: undefined,
      channel: "api",
      source: "",
      receivedAt: now,
      sentAt: undefined,
      client: { kind: "unknown", name: undefined, contacts: [], segments: [] },
      subject: subject === "" ? undefined : subject,
      body,
      attachments: [],
      // Metadata the source passed in (e.g. a sender's id) is kept on the message.
      metadata: input.metadata,
      thread: { inReplyTo: undefined, repeatOf: undefined },
    },
  ];
}

/** One line for a sink. */
export function encodeLine(message, decision) {
  const line = `${message.id} ${decision.priority} ${message.subject ?? ""}\n`;
  return {
    bytes: new TextEncoder().encode(line),
    contentType: "text/plain; charset=utf-8",
    headers: [],
  };
}

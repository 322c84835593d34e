// {{name}}: tags an appeal when its subject or body names one of the words of its
// `words` setting (comma-separated, case-insensitive).

/** The words looked for when the config gives none. */
export const DEFAULT_WORDS = "срочно,авария";

/** The tag added when a word is found. */
export const TAG = "{{name}}";

/**
 * Returns `current` with TAG added when the message names a word. `setting(key)` gives a
 * setting or undefined; `debug(text)` logs (never the appeal's text: it is personal data).
 */
export function tagged(message, current, setting, debug) {
  const words = (setting("words") ?? DEFAULT_WORDS)
    .split(",")
    .map((w) => w.trim().toLowerCase())
    .filter((w) => w.length > 0);
  if (words.length === 0) {
    throw { kind: "config", message: "`words` names no word" };
  }
  const text = `${message.subject ?? ""} ${message.body}`.toLowerCase();
  const found = words.find((w) => text.includes(w));
  if (found !== undefined) {
    debug(`found ${JSON.stringify(found)}`);
    if (!current.tags.includes(TAG)) {
      current.tags.push(TAG);
    }
  }
  return current;
}

// `npm test`: the logic on its own, no hub needed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeText, encodeLine } from "./logic.js";

const inbound = (bytes) => ({ bytes, contentType: undefined, metadata: [] });

test("decodes subject and body", () => {
  const messages = decodeText(inbound(new TextEncoder().encode("Нет воды\nТретий день нет воды в доме 5.")), 42);
  assert.equal(messages.length, 1);
  assert.equal(messages[0].subject, "Нет воды");
  assert.equal(messages[0].body, "Третий день нет воды в доме 5.");
  assert.equal(messages[0].receivedAt, 42);
});

test("refuses what is not text", () => {
  assert.throws(() => decodeText(inbound(new Uint8Array([0xff, 0xfe])), 0), (e) => e.kind === "invalid-input");
});

test("encodes one line", () => {
  const out = encodeLine({ id: "m-1", subject: "Нет воды" }, { priority: "high" });
  assert.equal(new TextDecoder().decode(out.bytes), "m-1 high Нет воды\n");
});

// `npm test`: the logic with settings given here, no hub needed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { tagged, TAG } from "./logic.js";

const classification = () => ({ tags: [], pii: [] });
const settings = (values) => (key) => values[key];
const quiet = () => {};

test("tags a message naming a word", () => {
  const out = tagged({ body: "СРОЧНО: нет воды третий день" }, classification(), settings({}), quiet);
  assert.deepEqual(out.tags, [TAG]);
});

test("leaves other messages alone", () => {
  const out = tagged({ body: "Прошу разъяснить порядок приёма" }, classification(), settings({}), quiet);
  assert.deepEqual(out.tags, []);
});

test("the words come from the config", () => {
  const words = settings({ words: "отопление" });
  assert.deepEqual(tagged({ body: "Отопление не работает" }, classification(), words, quiet).tags, [TAG]);
  assert.deepEqual(tagged({ body: "срочно" }, classification(), words, quiet).tags, []);
  assert.throws(
    () => tagged({ body: "срочно" }, classification(), settings({ words: " , " }), quiet),
    (e) => e.kind === "config",
  );
});

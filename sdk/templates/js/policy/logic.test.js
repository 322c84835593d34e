// `npm test`: the logic with a host given here, no hub needed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decision, localDate } from "./logic.js";

// A calendar where Saturdays and Sundays are the only days off (the hub's follows the
// official production calendar).
function addWorkingDays(start, days) {
  const d = new Date(Date.UTC(start.year, start.month - 1, start.day));
  const working = () => d.getUTCDay() !== 0 && d.getUTCDay() !== 6;
  while (!working()) d.setUTCDate(d.getUTCDate() + 1);
  for (let left = days; left > 0; ) {
    d.setUTCDate(d.getUTCDate() + 1);
    if (working()) left -= 1;
  }
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

const host = (settings) => ({ setting: (k) => settings[k], addWorkingDays, offsetMinutes: 180 });
// Thursday 26 November 2026, 10:00 Moscow time.
const message = { receivedAt: Date.parse("2026-11-26T07:00:00Z"), body: "..." };

test("the deadline counts working days", () => {
  const out = decision(message, { tags: [] }, host({ days: "2" }));
  // Thursday + 2 working days = Monday 30 November, to its end in Moscow.
  assert.deepEqual(localDate(out.answerDeadline, 180), { year: 2026, month: 11, day: 30 });
  assert.equal(out.answerDeadline, Date.parse("2026-11-30T20:59:59.999Z"));
  assert.equal(out.priority, "normal");
});

test("urgent appeals are high", () => {
  const out = decision(message, { tags: ["urgent"] }, host({}));
  assert.equal(out.priority, "high");
  assert.deepEqual(out.reasons, ["10 working days", "tagged urgent"]);
});

test("a bad `days` is a config error", () => {
  assert.throws(() => decision(message, { tags: [] }, host({ days: "ten" })), (e) => e.kind === "config");
});

// {{name}}: gives an appeal an answer deadline of `days` working days (10 unless the
// config says otherwise) on the production calendar, and a high priority when a
// classifier tagged it `urgent`.

const MS_PER_DAY = 86_400_000;

/** The hub-local date of a timestamp (milliseconds since the epoch, UTC). */
export function localDate(at, offsetMinutes) {
  const d = new Date(at + offsetMinutes * 60_000);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

/** The last millisecond of a hub-local date: a deadline "by the end of that day". */
export function endOfLocalDay(date, offsetMinutes) {
  return Date.UTC(date.year, date.month - 1, date.day) + MS_PER_DAY - 1 - offsetMinutes * 60_000;
}

/**
 * The decision. `host` gives `setting(key)`, the calendar's `addWorkingDays(date, days)`
 * and the hub's `offsetMinutes`.
 */
export function decision(message, classification, host) {
  const text = host.setting("days");
  const days = text === undefined ? 10 : Number(text.trim());
  if (!Number.isInteger(days) || days < 0) {
    throw { kind: "config", message: `\`days\` must be a whole number, got ${JSON.stringify(text)}` };
  }
  const urgent = classification.tags.includes("urgent");
  const due = host.addWorkingDays(localDate(message.receivedAt, host.offsetMinutes), days);
  const reasons = [`${days} working days`];
  if (urgent) {
    reasons.push("tagged urgent");
  }
  return {
    priority: urgent ? "high" : "normal",
    registrationDeadline: undefined,
    answerDeadline: endOfLocalDay(due, host.offsetMinutes),
    responsible: undefined,
    routeTags: [],
    reasons,
  };
}

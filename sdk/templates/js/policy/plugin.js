// {{name}}: the component's entry. It binds the contract (okno:plugin@{{contract_version}},
// world `{{world}}`) to the logic in logic.js, which `npm test` tests without the hub.
//
// A value returned is the result's `ok`; a value thrown ({kind, message}) its
// `plugin-error`. Records have camelCase fields, enums are strings ("high"), and s64
// values (timestamps, in milliseconds) are BigInts.

import { addWorkingDays } from "okno:plugin/calendar@{{contract_version}}";
import { utcOffsetMinutes } from "okno:plugin/clock@{{contract_version}}";
import { get } from "okno:plugin/config@{{contract_version}}";
import { decision } from "./logic.js";

export function decide(message, classification) {
  const out = decision({ ...message, receivedAt: Number(message.receivedAt) }, classification, {
    setting: get,
    addWorkingDays,
    offsetMinutes: utcOffsetMinutes(),
  });
  return { ...out, answerDeadline: BigInt(out.answerDeadline) };
}

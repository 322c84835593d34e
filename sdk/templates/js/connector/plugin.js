// {{name}}: the component's entry. It binds the contract (okno:plugin@{{contract_version}},
// world `{{world}}`) to the logic in logic.js, which `npm test` tests without the hub.
//
// A value returned is the result's `ok`; a value thrown ({kind, message}) its
// `plugin-error`. Records have camelCase fields, enums are strings ("api"), s64 values
// (timestamps) are BigInts, bytes are Uint8Arrays.

import { now } from "okno:plugin/clock@{{contract_version}}";
import { decodeText, encodeLine } from "./logic.js";

export function decode(input) {
  return decodeText(input, now());
}

export function encode(message, classification, decision) {
  return encodeLine(message, decision);
}

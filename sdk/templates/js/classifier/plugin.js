// {{name}}: the component's entry. It binds the contract (okno:plugin@{{contract_version}},
// world `{{world}}`) to the logic in logic.js, which `npm test` tests without the hub.
//
// A value returned is the result's `ok`; a value thrown ({kind, message}) its
// `plugin-error`. Records have camelCase fields, enums are strings ("config").

import { get } from "okno:plugin/config@{{contract_version}}";
import { log } from "okno:plugin/log@{{contract_version}}";
import { tagged } from "./logic.js";

export function classify(message, current) {
  return tagged(message, current, get, (text) => log("debug", text));
}

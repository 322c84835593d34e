"""{{name}}: the component's entry. It binds the contract (okno:plugin@{{contract_version}},
world `{{world}}`) to the logic in logic.py, which `python3 -m unittest` tests without the hub.

Records are dataclasses with snake_case fields, enums are Enum members; raising
`componentize_py_types.Err(PluginError(...))` is the result's error.
"""

from componentize_py_types import Err
import wit_world
from wit_world.imports import config, log, types

import logic


class WitWorld(wit_world.WitWorld):
    def classify(
        self, message: types.Message, current: types.Classification
    ) -> types.Classification:
        try:
            found = logic.found_word(message.subject, message.body, config.get("words"))
        except logic.ConfigError as e:
            raise Err(types.PluginError(kind=types.ErrorKind.CONFIG, message=str(e)))
        if found is not None:
            log.log(log.Level.DEBUG, f"found {found!r}")
            if logic.TAG not in current.tags:
                current.tags.append(logic.TAG)
        return current

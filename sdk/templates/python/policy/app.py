"""{{name}}: the component's entry. It binds the contract (okno:plugin@{{contract_version}},
world `{{world}}`) to the logic in logic.py, which `python3 -m unittest` tests without the hub.

Records are dataclasses with snake_case fields, enums are Enum members; raising
`componentize_py_types.Err(PluginError(...))` is the result's error.
"""

from componentize_py_types import Err
import wit_world
from wit_world.imports import calendar, clock, config, types

import logic


def add_working_days(start: tuple[int, int, int], days: int) -> tuple[int, int, int]:
    due = calendar.add_working_days(types.Date(year=start[0], month=start[1], day=start[2]), days)
    return (due.year, due.month, due.day)


class WitWorld(wit_world.WitWorld):
    def decide(
        self, message: types.Message, classification: types.Classification
    ) -> types.Decision:
        try:
            d = logic.decide(
                message.received_at,
                classification.tags,
                config.get("days"),
                add_working_days,
                clock.utc_offset_minutes(),
            )
        except logic.ConfigError as e:
            raise Err(types.PluginError(kind=types.ErrorKind.CONFIG, message=str(e)))
        return types.Decision(
            priority=types.Priority.HIGH if d.high else types.Priority.NORMAL,
            registration_deadline=None,
            answer_deadline=d.answer_deadline,
            responsible=None,
            route_tags=[],
            reasons=d.reasons,
        )

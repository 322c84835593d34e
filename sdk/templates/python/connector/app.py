"""{{name}}: the component's entry. It binds the contract (okno:plugin@{{contract_version}},
world `{{world}}`) to the logic in logic.py, which `python3 -m unittest` tests without the hub.

Records are dataclasses with snake_case fields, enums are Enum members, bytes are
`bytes`; raising `componentize_py_types.Err(PluginError(...))` is the result's error.
"""

from componentize_py_types import Err
import wit_world
from wit_world.imports import clock, types

import logic


class WitWorld(wit_world.WitWorld):
    def decode(self, input: types.Inbound) -> list[types.Message]:
        try:
            subject, body = logic.decode_text(bytes(input.bytes))
        except logic.InvalidInput as e:
            raise Err(types.PluginError(kind=types.ErrorKind.INVALID_INPUT, message=str(e)))
        return [
            types.Message(
                id="",
                idempotency_key=None,
                channel=types.Channel.API,
                source="",
                received_at=clock.now(),
                sent_at=None,
                client=types.Client(
                    kind=types.ClientKind.UNKNOWN, name=None, contacts=[], segments=[]
                ),
                subject=subject,
                body=body,
                attachments=[],
                # Metadata the source passed in (e.g. a sender's id) is kept on the message.
                metadata=input.metadata,
                thread=types.Thread(in_reply_to=None, repeat_of=None),
            )
        ]

    def encode(
        self,
        message: types.Message,
        classification: types.Classification,
        decision: types.Decision,
    ) -> types.Outbound:
        line = logic.encode_line(message.id, decision.priority.name.lower(), message.subject)
        return types.Outbound(
            bytes=line, content_type="text/plain; charset=utf-8", headers=[]
        )

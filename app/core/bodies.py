"""Reading a request body in ASGI middleware, bounded, without taking it from the app: what was
read is handed on again by `replaying`."""

from __future__ import annotations

from litestar.types import Message, Receive


async def read_body(receive: Receive, limit: int) -> tuple[list[Message], bytes | None]:
    """All request messages read, and the body; None for the body when it grew past `limit`
    (reading stopped there) or the client went away."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, None
        size += len(message.get("body", b""))
        if size > limit:
            return messages, None
        if not message.get("more_body", False):
            return messages, b"".join(m.get("body", b"") for m in messages)


def replaying(messages: list[Message], receive: Receive) -> Receive:
    """`receive` for the app: the messages already read, then whatever is still to come."""
    pending = list(messages)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay

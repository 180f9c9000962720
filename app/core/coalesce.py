"""Many concurrent callers' reads as one statement, without weakening what each one sees.

A caller's question joins a queue. When no statement is in flight, one starts at once with
everything queued; otherwise the queue waits for the next one, which starts as soon as the one
in flight ends. So every answer comes from a statement *sent after its caller asked*: it sees
every write committed before the question, exactly as a statement of the caller's own would.
Under load one round trip serves several requests; alone, a caller waits for nobody.

Single event loop: no locking needed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

Q = TypeVar("Q")
R = TypeVar("R")


class Coalescer(Generic[Q, R]):
    """`run(questions)` answers a batch, one result per question, in order."""

    def __init__(self, run: Callable[[list[Q]], Awaitable[list[R]]]) -> None:
        self._run = run
        self._queue: list[tuple[Q, asyncio.Future[R]]] = []
        self._task: asyncio.Task[None] | None = None
        self.statements = 0  # batches run (a measure of the saving)
        self.questions = 0

    async def ask(self, question: Q) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((question, future))
        self.questions += 1
        if self._task is None:
            self._task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                self.statements += 1
                try:
                    results = await self._run([question for question, _ in batch])
                except Exception as exc:  # every caller of the batch gets the failure
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                except BaseException:  # cancelled (shutdown): nobody may wait forever
                    for _, future in batch + self._queue:
                        future.cancel()
                    self._queue = []
                    raise
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():  # a caller may have been cancelled meanwhile
                        future.set_result(result)
        finally:
            self._task = None

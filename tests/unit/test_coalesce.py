"""app/core/coalesce.py: one statement for concurrent callers, never one sent before a caller
asked (which could miss a write committed just before the question)."""

from __future__ import annotations

import asyncio

import pytest

from app.core.coalesce import Coalescer


class Statements:
    """A fake `run`: records each batch; a batch finishes when the test releases it."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.release: list[asyncio.Event] = []
        self.fail: Exception | None = None

    async def __call__(self, questions: list[str]) -> list[str]:
        self.batches.append(list(questions))
        gate = asyncio.Event()
        self.release.append(gate)
        await gate.wait()
        if self.fail is not None:
            raise self.fail
        n = len(self.batches)
        return [f"{q}@{n}" for q in questions]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_lone_question_runs_at_once():
    run = Statements()
    batcher = Coalescer(run)
    asked = asyncio.create_task(batcher.ask("a"))
    await settle()
    assert run.batches == [["a"]]
    run.release[0].set()
    assert await asked == "a@1"


async def test_questions_asked_during_a_statement_share_the_next_one_not_that_one():
    run = Statements()
    batcher = Coalescer(run)
    first = asyncio.create_task(batcher.ask("a"))
    await settle()
    later = [asyncio.create_task(batcher.ask(q)) for q in ("b", "c", "d")]
    await settle()
    assert run.batches == [["a"]]  # b, c, d asked after statement 1 was sent: they wait
    run.release[0].set()
    assert await first == "a@1"
    await settle()
    assert run.batches == [["a"], ["b", "c", "d"]]  # one statement for the three
    run.release[1].set()
    assert [await t for t in later] == ["b@2", "c@2", "d@2"]
    assert (batcher.statements, batcher.questions) == (2, 4)


async def test_a_failed_statement_fails_every_question_of_its_batch_only():
    run = Statements()
    batcher = Coalescer(run)
    first = asyncio.create_task(batcher.ask("a"))
    await settle()
    run.fail = ConnectionError("database away")
    run.release[0].set()
    with pytest.raises(ConnectionError):
        await first
    run.fail = None
    again = asyncio.create_task(batcher.ask("b"))
    await settle()
    run.release[1].set()
    assert await again == "b@2"


async def test_a_cancelled_caller_does_not_break_the_others():
    run = Statements()
    batcher = Coalescer(run)
    first = asyncio.create_task(batcher.ask("a"))
    await settle()
    gone, kept = asyncio.create_task(batcher.ask("b")), asyncio.create_task(batcher.ask("c"))
    await settle()
    gone.cancel()
    run.release[0].set()
    assert await first == "a@1"
    await settle()
    run.release[1].set()
    assert await kept == "c@2"
    assert gone.cancelled()

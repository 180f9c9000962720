"""The self-scheduling attempt state machine (pure).

States move forward only: STARTED -> CODE_SENT -> VERIFIED -> PATIENT_SET -> BOOKED, with
ABANDONED reachable from every non-terminal state. Some steps are recorded without a state
change (AVAILABILITY_VIEWED, SLOT_SELECTED, a repeated CODE_SENT, a patient set again).
`advance` says what a step does from a state, or why it is refused, with the contract's code.
"""

from __future__ import annotations

from enum import StrEnum

import msgspec


class State(StrEnum):
    STARTED = "STARTED"
    CODE_SENT = "CODE_SENT"
    VERIFIED = "VERIFIED"
    PATIENT_SET = "PATIENT_SET"
    BOOKED = "BOOKED"
    ABANDONED = "ABANDONED"


class Step(StrEnum):
    STARTED = "STARTED"
    CODE_SENT = "CODE_SENT"
    VERIFIED = "VERIFIED"
    PATIENT_SET = "PATIENT_SET"
    BOOKED = "BOOKED"
    ABANDONED = "ABANDONED"
    AVAILABILITY_VIEWED = "AVAILABILITY_VIEWED"
    SLOT_SELECTED = "SLOT_SELECTED"


TERMINAL = frozenset({State.BOOKED, State.ABANDONED})
_ORDER = [State.STARTED, State.CODE_SENT, State.VERIFIED, State.PATIENT_SET, State.BOOKED]


class Refusal(msgspec.Struct, frozen=True):
    status: int
    code: str
    detail: str


class Outcome(msgspec.Struct, frozen=True):
    state: State
    record: bool  # whether the step is written to the attempt's history


def _rank(state: State) -> int:
    return _ORDER.index(state) if state in _ORDER else len(_ORDER)


def advance(state: State, step: Step, *, needs_verification: bool) -> Outcome | Refusal:
    """What `step` does to an attempt in `state`."""
    if state is State.BOOKED:
        return Refusal(409, "already_booked", "This attempt has already booked an appointment.")
    if state is State.ABANDONED:
        return Refusal(409, "attempt_abandoned", "This attempt was abandoned; start a new one.")
    match step:
        case Step.AVAILABILITY_VIEWED | Step.SLOT_SELECTED:
            return Outcome(state, record=True)
        case Step.CODE_SENT:
            # a resend is recorded; the state only moves forward from STARTED
            return Outcome(State.CODE_SENT if state is State.STARTED else state, record=True)
        case Step.VERIFIED:
            if _rank(state) >= _rank(State.VERIFIED):
                return Outcome(state, record=False)
            return Outcome(State.VERIFIED, record=True)
        case Step.PATIENT_SET:
            if needs_verification and _rank(state) < _rank(State.VERIFIED):
                return Refusal(422, "not_verified", "The identity proof is not verified yet.")
            return Outcome(State.PATIENT_SET, record=True)
        case Step.BOOKED:
            if state is not State.PATIENT_SET:
                return Refusal(422, "patient_not_set", "Set the patient before booking.")
            return Outcome(State.BOOKED, record=True)
        case Step.ABANDONED:
            return Outcome(State.ABANDONED, record=True)
        case Step.STARTED:
            return Refusal(409, "already_started", "The attempt has already started.")
    raise AssertionError(f"unhandled step {step}")  # pragma: no cover


def is_valid_history(steps: list[Step]) -> bool:
    """A recorded history replays from STARTED without a refusal (used by property tests)."""
    if not steps or steps[0] is not Step.STARTED:
        return False
    state = State.STARTED
    for step in steps[1:]:
        outcome = advance(state, step, needs_verification=False)
        if isinstance(outcome, Refusal) or not outcome.record:
            return False
        state = outcome.state
    return True

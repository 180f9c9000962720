from hypothesis import given
from hypothesis import strategies as st

from app.attempts.machine import TERMINAL, Outcome, Refusal, State, Step, advance, is_valid_history


def test_happy_path_with_verification():
    state = State.STARTED
    for step, expected in [
        (Step.AVAILABILITY_VIEWED, State.STARTED),
        (Step.SLOT_SELECTED, State.STARTED),
        (Step.CODE_SENT, State.CODE_SENT),
        (Step.CODE_SENT, State.CODE_SENT),
        (Step.VERIFIED, State.VERIFIED),
        (Step.PATIENT_SET, State.PATIENT_SET),
        (Step.PATIENT_SET, State.PATIENT_SET),
        (Step.BOOKED, State.BOOKED),
    ]:
        outcome = advance(state, step, needs_verification=True)
        assert isinstance(outcome, Outcome), (state, step, outcome)
        assert outcome.state is expected
        state = outcome.state


def test_patient_requires_verification_when_the_setting_has_a_method():
    refusal = advance(State.CODE_SENT, Step.PATIENT_SET, needs_verification=True)
    assert refusal == Refusal(422, "not_verified", "The identity proof is not verified yet.")
    outcome = advance(State.STARTED, Step.PATIENT_SET, needs_verification=False)
    assert outcome == Outcome(State.PATIENT_SET, record=True)


def test_booking_requires_a_patient():
    for state in (State.STARTED, State.CODE_SENT, State.VERIFIED):
        refusal = advance(state, Step.BOOKED, needs_verification=False)
        assert isinstance(refusal, Refusal) and refusal.code == "patient_not_set"


def test_terminal_states_refuse_everything():
    for step in Step:
        booked = advance(State.BOOKED, step, needs_verification=False)
        assert isinstance(booked, Refusal) and (booked.status, booked.code) == (
            409,
            "already_booked",
        )
        gone = advance(State.ABANDONED, step, needs_verification=False)
        assert isinstance(gone, Refusal) and gone.code == "attempt_abandoned"


def test_verified_again_is_not_recorded_twice():
    assert advance(State.PATIENT_SET, Step.VERIFIED, needs_verification=True) == Outcome(
        State.PATIENT_SET, record=False
    )


def test_is_valid_history():
    assert is_valid_history(
        [Step.STARTED, Step.CODE_SENT, Step.VERIFIED, Step.PATIENT_SET, Step.BOOKED]
    )
    assert not is_valid_history([Step.CODE_SENT])
    assert not is_valid_history([Step.STARTED, Step.BOOKED])
    assert not is_valid_history([Step.STARTED, Step.ABANDONED, Step.CODE_SENT])


@given(st.lists(st.sampled_from(list(Step)), max_size=30), st.booleans())
def test_random_sequences_never_reach_an_invalid_state(steps, needs_verification):
    state, history = State.STARTED, [Step.STARTED]
    for step in steps:
        outcome = advance(state, step, needs_verification=needs_verification)
        if isinstance(outcome, Refusal):
            assert outcome.status in (409, 422)
            continue
        assert state not in TERMINAL
        if needs_verification and outcome.state in (State.PATIENT_SET, State.BOOKED):
            assert state in (State.VERIFIED, State.PATIENT_SET)
        if outcome.state is State.BOOKED:
            assert state is State.PATIENT_SET
        if outcome.record:
            history.append(step)
        state = outcome.state
    assert is_valid_history(history)


def test_the_documented_enums_are_the_machines():
    from typing import get_args

    from app.attempts.machine import State, Step
    from app.attempts.schemas import AttemptStatus, StepName

    assert set(get_args(AttemptStatus)) == {s.value for s in State}
    assert set(get_args(StepName)) == {s.value for s in Step}

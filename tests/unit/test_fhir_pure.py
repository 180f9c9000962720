"""The FHIR facade's pure parts: ids, parameter values, OperationOutcomes, Bundles."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome
from hypothesis import given
from hypothesis import strategies as st

from app.core.errors import Problem
from app.fhir import ids, params
from app.fhir.bundle import PageRequest, searchset
from app.fhir.outcome import ALTERNATIVES, operation_outcome
from app.fhir.resources import Systems

NY = ZoneInfo("America/New_York")
SYSTEMS = Systems("https://scheduling.example")


@given(
    st.integers(1, 2**63 - 1),
    st.integers(1, 2**63 - 1),
    st.integers(1, 2**63 - 1),
    st.integers(0, 253_402_300_799),
)
def test_ids_round_trip_and_fit_fhir(attempt, schedule, service, epoch):
    key = ids.SlotKey(schedule, service, datetime.fromtimestamp(epoch, UTC))
    assert ids.parse_slot(ids.slot_id(key)) == key
    assert ids.parse_proposed(ids.proposed_id(key)) == key
    assert ids.parse_hold(ids.hold_id(attempt, key)) == (attempt, key)
    assert ids.parse_slot(ids.proposed_id(key)) is None


@pytest.mark.parametrize(
    "raw", ["", "0", "-1", "1-2", "9" * 20, "1-2-x", "proposed-1-2", "hold-1-2-3", "1.2-3-4"]
)
def test_malformed_ids_are_none_not_errors(raw):
    assert ids.parse_slot(raw) is None
    assert ids.parse_proposed(raw) is None
    assert ids.parse_hold(raw) is None


def test_references():
    assert ids.reference_id("Patient/5", "Patient") == "5"
    assert ids.reference_id("https://x/fhir/r4/account/1/Patient/5", "Patient") == "5"
    assert ids.reference_id("Patient/5/_history/2", "Patient") == "5"
    assert ids.reference_id("Location/5", "Patient") is None
    assert params.reference("7", "Location", "location") == 7
    with pytest.raises(Problem):
        params.reference("Location/x", "Location", "location")


def test_date_windows_follow_fhir_prefixes():
    window = params.date_window(["ge2027-03-14", "lt2027-03-15"], "date", NY)
    assert window.low == datetime(2027, 3, 14, tzinfo=NY)
    assert window.high == datetime(2027, 3, 15, tzinfo=NY)
    span = window.high.astimezone(UTC) - window.low.astimezone(UTC)
    assert span.total_seconds() == 23 * 3600  # the spring-forward day
    day = params.date_window(["2027-03-14"], "date", NY)
    assert (day.low, day.high) == (window.low, window.high)
    after = params.date_window(["gt2027-03-14T09:00:00-04:00"], "date", NY)
    assert after.low > datetime(2027, 3, 14, 13, tzinfo=UTC) and after.high is None


@pytest.mark.parametrize(
    "raw", ["2027-13-01", "ne2027-03-01", "2027-03-01T09:00:00", "0001-01-01", "9999-12-31", "x"]
)
def test_bad_dates_are_400(raw):
    with pytest.raises(Problem) as caught:
        params.date_window([raw], "date", NY)
    assert caught.value.status == 400 and caught.value.code == "validation_failed"


def test_an_operation_outcome_carries_our_code_fields_and_alternatives():
    alternative = {
        "resourceType": "Appointment",
        "id": "proposed-1-2-3",
        "status": "proposed",
        "participant": [{"actor": {"reference": "Practitioner/1"}, "status": "needs-action"}],
    }
    outcome = operation_outcome(
        {
            "status": 409,
            "code": "slot_unavailable",
            "detail": "That time is no longer available.",
            ALTERNATIVES: [alternative],
        },
        SYSTEMS,
    )
    OperationOutcome.model_validate(outcome)
    issue = outcome["issue"][0]
    assert issue["code"] == "conflict"
    assert issue["details"]["coding"] == [{"system": SYSTEMS.code, "code": "slot_unavailable"}]
    assert outcome["contained"][0]["id"] == "alternative1"
    assert issue["extension"][0]["valueReference"] == {"reference": "#alternative1"}
    invalid = operation_outcome(
        {
            "status": 400,
            "code": "validation_failed",
            "errors": [{"field": "start", "message": "x"}],
        },
        SYSTEMS,
    )
    OperationOutcome.model_validate(invalid)
    assert invalid["issue"][0]["expression"] == ["start"]


def test_bundle_links_page_through_the_total():
    page = PageRequest("https://h/fhir/r4/account/1/Slot", [("schedule", "Schedule/1")], 4, 4)
    bundle = searchset(
        [{"resourceType": "Location", "id": "1"}],
        base="https://h/fhir/r4/account/1",
        page=page,
        total=9,
    )
    Bundle.model_validate(bundle)
    links = {link["relation"]: link["url"] for link in bundle["link"]}
    assert links["next"].endswith("schedule=Schedule%2F1&_count=4&_offset=8")
    last = searchset([], base="https://h", page=PageRequest("https://h/Slot", [], 8, 4), total=9)
    assert [link["relation"] for link in last["link"]] == ["self"]

"""Times at the edges of `datetime` (years 1 and 9999, offsets of +-14:00 and beyond, leap
seconds, huge unix milliseconds) sent to every endpoint that takes a time: always a 4xx or a
success, never a 500; the years 1 and 9999 are a clear 400 naming the field.

Property-based (Hypothesis): the examples are drawn around the edges rather than uniformly,
because that is where arithmetic overflows.
"""

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.builders import build_practice
from tests.support import frozen_clock_at, problem_code

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
MAX_MS = 253_402_300_799_000  # 9999-12-31T23:59:59Z, the largest startUnix the schema allows

YEARS = st.sampled_from([1, 2, 1899, 1900, 1969, 1970, 2026, 2199, 2200, 9998, 9999]) | st.integers(
    1, 9999
)
TIMES = st.sampled_from(
    ["00:00:00", "00:00", "23:59:59", "23:59:60", "23:59:59.999999", "24:00:00"]
)
OFFSETS = st.sampled_from(
    ["Z", "+00:00", "+14:00", "-14:00", "+14:01", "-12:00", "+23:59", "-23:59", "+24:00", ""]
)
DAYS = st.sampled_from(["01-01", "02-28", "02-29", "12-31", "13-01", "00-10"])


@st.composite
def time_texts(draw):
    """An ISO 8601-ish time near the edges: valid or not, with or without an offset."""
    return f"{draw(YEARS):04d}-{draw(DAYS)}T{draw(TIMES)}{draw(OFFSETS)}"


TEXTS = time_texts() | st.builds(lambda y, d: f"{y:04d}-{d}", YEARS, DAYS)  # bare dates too
UNIX_MS = st.sampled_from([0, -1, 1, MAX_MS, MAX_MS + 1, 2**53, 2**63 - 1, -(2**63)]) | st.integers(
    -(2**70), 2**70
)
FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


frozen_clock = frozen_clock_at(NOW)


def never_500(response):
    assert response.status_code < 500, response.text
    return response


def refused_at_the_edge(response, text, field):
    """Years 1 and 9999 (with a valid shape) are 400 validation_failed naming the field."""
    if (
        text.startswith(("0001-01-01T", "9999-12-31T"))
        and text.endswith(("Z", ":00"))
        and ("T24:" not in text and ":60" not in text and not text.endswith(("+24:00", "+14:01")))
    ):
        assert response.status_code == 400, (text, response.text)
        assert problem_code(response) == "validation_failed"
        assert response.json()["errors"][0]["field"] == field


@pytest.fixture
async def world(partner, client, pool):
    """A practice without verification, an attempt with its patient set, a booked appointment
    with its manage token, and a widget attempt with its patient set."""
    practice = await build_practice(partner, method=None)
    slot = {
        "appointmentTypeId": practice.appointment_type_id,
        "locationId": practice.location_ids[0],
        "practitionerId": practice.practitioner_ids[0],
        "schedulerConfigId": practice.config_ids[0],
    }
    person = {
        "firstName": "Edge",
        "lastName": "Case",
        "dateOfBirth": "1970-01-01",
        "email": "e@x.org",
    }
    attempt = await partner.create(
        "/self-scheduling/attempt", {"selfSchedulingSettingId": practice.setting_id}
    )
    base = f"/self-scheduling/attempt/{attempt['id']}"
    assert (await partner.post(f"{base}/patient", json=person)).status_code == 201
    key = {"X-Widget-Key": practice.publishable_key}
    started = (await client.post("/widget/v1/attempt", headers=key)).json()
    widget = {**key, "Authorization": f"Bearer {started['attemptToken']}"}
    assert (
        await client.post("/widget/v1/attempt/patient", headers=widget, json=person)
    ).status_code == 201
    booked = await client.post(
        "/widget/v1/attempt/appointment",
        headers=widget,
        json={**slot, "startDateTime": "2026-03-09T09:00:00-04:00"},
    )
    assert booked.status_code == 201, booked.text
    # a fresh widget attempt for hold and book (the first one has booked)
    started = (await client.post("/widget/v1/attempt", headers=key)).json()
    widget = {**key, "Authorization": f"Bearer {started['attemptToken']}"}
    assert (
        await client.post("/widget/v1/attempt/patient", headers=widget, json=person)
    ).status_code == 201
    return {
        "practice": practice,
        "slot": slot,
        "attempt": base,
        "widget": widget,
        "appointment": booked.json()["appointment"]["id"],
        "manage": f"/widget/v1/manage/{booked.json()['manageToken']}",
    }


@FUZZ
@given(text=TEXTS)
async def test_slot_bodies(partner, client, world, text):
    body = {**world["slot"], "startDateTime": text}
    for response in (
        await partner.post(f"{world['attempt']}/hold", json=body),
        await partner.post(f"{world['attempt']}/appointment", json=body),
        await client.post("/widget/v1/attempt/hold", headers=world["widget"], json=body),
        await client.post("/widget/v1/attempt/appointment", headers=world["widget"], json=body),
    ):
        refused_at_the_edge(never_500(response), text, "startDateTime")


@FUZZ
@given(text=TEXTS)
async def test_appointment_changes(partner, client, world, text):
    practice = world["practice"]
    put = await partner.put(
        f"/location/{practice.location_ids[0]}/appointment/{world['appointment']}",
        json={"startTime": text},
    )
    refused_at_the_edge(never_500(put), text, "startTime")
    moved = await client.post(
        f"{world['manage']}/reschedule",
        json={
            "startDateTime": text,
            "schedulerConfigId": world["slot"]["schedulerConfigId"],
            "practitionerId": world["slot"]["practitionerId"],
        },
    )
    refused_at_the_edge(never_500(moved), text, "startDateTime")


@FUZZ
@given(text=TEXTS, other=TEXTS)
async def test_query_bounds(partner, world, text, other):
    practice = world["practice"]
    for path, names in (
        ("/self-scheduling/funnel", ("from", "to")),
        ("/self-scheduling/attempt", ("createdFrom", "createdTo")),
        ("/audit-log", ("from", "to")),
        (f"/location/{practice.location_ids[0]}/appointment", ("startFrom", "startTo")),
    ):
        for params in ({names[0]: text, names[1]: other}, {names[0]: other, names[1]: text}):
            never_500(await partner.get(path, params=params))
        alone = await partner.get(path, params={names[1]: text})
        if path != "/self-scheduling/funnel":  # the funnel needs both: it names the missing one
            refused_at_the_edge(never_500(alone), text, names[1])


@FUZZ
@given(start=UNIX_MS, end=UNIX_MS)
async def test_availability_unix_ms(partner, client, world, start, end):
    practice = world["practice"]
    query = {
        "startUnix": start,
        "endUnix": end,
        "locationId": practice.location_ids[0],
        "appointmentTypeId": practice.appointment_type_id,
    }
    partner_answer = await partner.get(
        "/self-scheduling/availability",
        params={**query, "selfSchedulingSettingId": practice.setting_id},
    )
    widget_answer = await client.get(
        "/widget/v1/availability", params=query, headers=world["widget"]
    )
    for response in (partner_answer, widget_answer):
        never_500(response)
        if start in (MAX_MS, -(2**63)) or end in (MAX_MS, -(2**63)):
            assert response.status_code == 400, response.text


@FUZZ
@given(text=TEXTS)
async def test_scheduler_config_blocks(partner, world, text):
    practice = world["practice"]
    response = await partner.post(
        f"/self-scheduling/setting/{practice.setting_id}/scheduler-config",
        json={
            "practitionerId": practice.practitioner_ids[0],
            "locationId": practice.location_ids[0],
            "appointmentTypeIds": [practice.appointment_type_id],
            "slotIntervalMinutes": 30,
            "rules": [],
            "blocks": [{"start": text, "end": "2026-03-10T00:00:00Z"}],
        },
    )
    refused_at_the_edge(never_500(response), text, "blocks[0].start")


@FUZZ
@given(text=TEXTS, prefix=st.sampled_from(["", "ge", "lt", "gt", "le", "eq"]))
async def test_fhir_search_dates(partner, world, text, prefix):
    base = f"/fhir/r4/account/{partner.account_id}"
    for path, name in (("/Slot", "start"), ("/Appointment", "date")):
        response = await partner.http.get(
            f"{base}{path}", params={name: f"{prefix}{text}"}, headers=partner.headers()
        )
        assert response.status_code < 500, response.text

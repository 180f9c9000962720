"""GET /self-scheduling/availability over HTTP, against real rows."""

from datetime import UTC, datetime, timedelta

import pytest

from app.core import clock
from tests.builders import availability, build_practice, insert_appointment, ms
from tests.support import frozen_clock_at, make_partner, problem_code

# Monday 2 March 2026, 07:00 in New York (EST, -05:00)
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


frozen_clock = frozen_clock_at(NOW)


def day(y, m, d, zone_hours):
    """Local midnight of a date at a fixed UTC offset, as a UTC instant."""
    return datetime(y, m, d, tzinfo=UTC) - timedelta(hours=zone_hours)


async def test_one_day_in_lobbie_shape(partner):
    practice = await build_practice(partner)
    start = day(2026, 3, 9, -4)
    r = await availability(practice, start, start + timedelta(days=1))
    assert r.status_code == 200, r.text
    body = r.json()
    pid, cid = practice.practitioner_ids[0], practice.config_ids[0]
    assert body["arePractitionersSelectable"] is True
    assert body["timeZone"] == "America/New_York"
    assert list(body["slotsByDate"]) == ["3/9/2026"]
    slots = body["slotsByDate"]["3/9/2026"]
    assert [s["startDateTime"] for s in slots] == [
        f"2026-03-09T{h}:00-04:00" for h in ("09:00", "09:30", "10:00", "10:30", "11:00", "11:30")
    ]
    assert slots[0] == {
        "startUnix": ms(datetime(2026, 3, 9, 13, 0, tzinfo=UTC)),
        "startDateTime": "2026-03-09T09:00:00-04:00",
        "endDateTime": "2026-03-09T09:30:00-04:00",
        "practitionerToConfig": {str(pid): cid},
    }
    assert body["practitioners"] == [
        {
            "practitionerId": pid,
            "displayName": "Doc0 Test",
            "firstAvailableSlot": slots[0]["startUnix"],
        }
    ]


async def test_offsets_on_both_sides_of_spring_forward(partner):
    practice = await build_practice(partner)
    r = await availability(practice, day(2026, 3, 6, -5), day(2026, 3, 10, -4))
    body = r.json()
    assert list(body["slotsByDate"]) == ["3/6/2026", "3/9/2026"]  # weekend closed
    assert body["slotsByDate"]["3/6/2026"][0]["startDateTime"] == "2026-03-06T09:00:00-05:00"
    assert body["slotsByDate"]["3/9/2026"][0]["startDateTime"] == "2026-03-09T09:00:00-04:00"
    gap = (
        body["slotsByDate"]["3/9/2026"][0]["startUnix"]
        - body["slotsByDate"]["3/6/2026"][0]["startUnix"]
    )
    assert gap == (3 * 24 - 1) * 3600 * 1000


async def test_an_appointment_and_its_buffers_hide_slots(partner, pool):
    practice = await build_practice(partner, buffers=(0, 15))
    pid, loc = practice.practitioner_ids[0], practice.location_ids[0]
    # 10:00-10:30 local with a 15-minute after-buffer: blocks until 10:45
    await insert_appointment(
        pool, practice, practitioner_id=pid, location_id=loc,
        start=datetime(2026, 3, 9, 14, 0, tzinfo=UTC), after=15,
    )  # fmt: skip
    start = day(2026, 3, 9, -4)
    body = (await availability(practice, start, start + timedelta(days=1))).json()
    times = [s["startDateTime"][11:16] for s in body["slotsByDate"]["3/9/2026"]]
    # 09:30 would end 10:00 but its own 15-minute after-buffer runs into the appointment
    assert times == ["09:00", "11:00", "11:30"]


async def test_cancelled_appointment_frees_the_time(partner, pool):
    practice = await build_practice(partner)
    await insert_appointment(
        pool, practice, practitioner_id=practice.practitioner_ids[0],
        location_id=practice.location_ids[0], start=datetime(2026, 3, 9, 13, 0, tzinfo=UTC),
        status="CANCELLED",
    )  # fmt: skip
    start = day(2026, 3, 9, -4)
    body = (await availability(practice, start, start + timedelta(days=1))).json()
    assert len(body["slotsByDate"]["3/9/2026"]) == 6


async def test_one_practitioner_at_two_locations_in_two_zones(partner, pool):
    practice = await build_practice(partner, zones=("America/New_York", "America/Los_Angeles"))
    pid = practice.practitioner_ids[0]
    # Booked in Los Angeles 09:00-09:30 PST = 12:00-12:30 in New York: no NY clash (NY closes
    # at 12:00). Booked in LA 06:00 PST = 09:00 NY: hides NY's 09:00.
    await insert_appointment(
        pool, practice, practitioner_id=pid, location_id=practice.location_ids[1],
        start=datetime(2026, 3, 9, 13, 0, tzinfo=UTC),
    )  # fmt: skip
    start = day(2026, 3, 9, -4)
    body = (await availability(practice, start, start + timedelta(days=1))).json()
    times = [s["startDateTime"][11:16] for s in body["slotsByDate"]["3/9/2026"]]
    assert times == ["09:30", "10:00", "10:30", "11:00", "11:30"]
    la = (
        await availability(
            practice, start, start + timedelta(days=1), locationId=practice.location_ids[1]
        )
    ).json()
    assert la["timeZone"] == "America/Los_Angeles"
    assert la["slotsByDate"]["3/9/2026"][0]["startDateTime"] == "2026-03-09T09:00:00-07:00"


async def test_minimum_notice_and_forward_limit(partner, monkeypatch):
    practice = await build_practice(partner, notice_hours=2, forward_days=8)
    # Monday 9 March 08:15 EDT: with 2 hours' notice the first slot is 10:30
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 3, 9, 12, 15, tzinfo=UTC))
    start = day(2026, 3, 9, -4)
    body = (await availability(practice, start, start + timedelta(days=14))).json()
    assert body["slotsByDate"]["3/9/2026"][0]["startDateTime"] == "2026-03-09T10:30:00-04:00"
    # forward limit: nothing after now + 8 days (Tue 17 March 08:15)
    assert list(body["slotsByDate"]) == [
        "3/9/2026", "3/10/2026", "3/11/2026", "3/12/2026", "3/13/2026", "3/16/2026",
    ]  # fmt: skip


async def test_practitioner_filter_and_unselectable_assignment(partner, pool):
    practice = await build_practice(partner, practitioners=2, selectable=False)
    first, second = practice.practitioner_ids
    start = day(2026, 3, 9, -4)
    body = (await availability(practice, start, start + timedelta(days=1))).json()
    slots = body["slotsByDate"]["3/9/2026"]
    assert body["arePractitionersSelectable"] is False
    assert len(slots) == 6
    assert {s["practitionerId"] for s in slots} == {first}  # equal load: lowest id
    assert "practitionerToConfig" not in slots[0]
    assert slots[0]["schedulerConfigId"] == practice.config_ids[0]

    # `first` gets a booking at 11:00 that day: now `second` has fewer bookings
    await insert_appointment(
        pool, practice, practitioner_id=first, location_id=practice.location_ids[0],
        start=datetime(2026, 3, 9, 15, 0, tzinfo=UTC),
    )  # fmt: skip
    body = (await availability(practice, start, start + timedelta(days=1))).json()
    assert {s["practitionerId"] for s in body["slotsByDate"]["3/9/2026"]} == {second}


async def test_selectable_practitioner_filter(partner):
    practice = await build_practice(partner, practitioners=2)
    first, second = practice.practitioner_ids
    start = day(2026, 3, 9, -4)
    body = (
        await availability(practice, start, start + timedelta(days=1), practitionerIds=str(second))
    ).json()
    assert [p["practitionerId"] for p in body["practitioners"]] == [second]
    assert all(s["practitionerToConfig"] == {str(second): practice.config_ids[1]}
               for s in body["slotsByDate"]["3/9/2026"])  # fmt: skip
    both = (await availability(practice, start, start + timedelta(days=1))).json()
    assert both["slotsByDate"]["3/9/2026"][0]["practitionerToConfig"] == {
        str(first): practice.config_ids[0],
        str(second): practice.config_ids[1],
    }


async def test_max_per_day(partner, pool):
    practice = await build_practice(partner, max_per_day=1)
    await insert_appointment(
        pool, practice, practitioner_id=practice.practitioner_ids[0],
        location_id=practice.location_ids[0], start=datetime(2026, 3, 9, 13, 0, tzinfo=UTC),
        config_id=practice.config_ids[0],
    )  # fmt: skip
    start = day(2026, 3, 9, -4)
    body = (await availability(practice, start, start + timedelta(days=2))).json()
    assert list(body["slotsByDate"]) == ["3/10/2026"]


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"endUnix": "START"}, 400, "invalid_range"),
        ({"endUnix": "START+63d"}, 400, "range_too_long"),
        ({"locationId": 999_999_999}, 400, "validation_failed"),
        ({"appointmentTypeId": 999_999_999}, 400, "validation_failed"),
        ({"practitionerIds": "7,x"}, 400, "validation_failed"),
        ({"practitionerIds": "999999"}, 400, "validation_failed"),
        ({"startUnix": "soon"}, 400, "validation_failed"),
        ({"selfSchedulingSettingId": 999_999_999}, 404, "not_found"),
    ],
)
async def test_bad_queries(partner, change, status, code):
    practice = await build_practice(partner)
    start = day(2026, 3, 9, -4)
    values = {k: v for k, v in change.items()}
    if values.get("endUnix") == "START":
        values["endUnix"] = ms(start)
    elif values.get("endUnix") == "START+63d":
        values["endUnix"] = ms(start + timedelta(days=63))
    r = await availability(practice, start, start + timedelta(days=1), **values)
    assert r.status_code == status, r.text
    assert problem_code(r) == code


async def test_missing_parameter_is_400(partner):
    practice = await build_practice(partner)
    r = await practice.partner.get(
        "/self-scheduling/availability",
        params={"selfSchedulingSettingId": practice.setting_id, "startUnix": 0},
    )
    assert r.status_code == 400
    assert problem_code(r) == "validation_failed"


async def test_inactive_setting_is_400_as_lobbie_lists(partner):
    practice = await build_practice(partner)
    r = await partner.put(f"/self-scheduling/setting/{practice.setting_id}", json={"active": False})
    assert r.status_code == 200, r.text
    start = day(2026, 3, 9, -4)
    r = await availability(practice, start, start + timedelta(days=1))
    assert r.status_code == 400 and problem_code(r) == "setting_inactive"


async def test_another_accounts_setting_is_404(partner, client, pool):
    practice = await build_practice(partner)
    other = await make_partner(client, pool)
    start = day(2026, 3, 9, -4)
    r = await other.get(
        "/self-scheduling/availability",
        params={
            "selfSchedulingSettingId": practice.setting_id,
            "startUnix": ms(start),
            "endUnix": ms(start + timedelta(days=1)),
            "locationId": practice.location_ids[0],
            "appointmentTypeId": practice.appointment_type_id,
        },
    )
    assert r.status_code == 404 and problem_code(r) == "not_found"

"""The pure funnel code: shaping aggregates, request ranges, day buckets, CSV rows, the SVG."""

import csv
import io
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import msgspec
import pytest

from app.analytics import funnel as f
from app.analytics import svg
from app.audit.spec import audit, outcome, resource_id_from_response

LA = ZoneInfo("America/Los_Angeles")


def aggregate(key="2026-03-02", reached=(10, 8, 6, 6, 3, 3, 2), **kw):
    n = len(f.FUNNEL_STEPS)
    values = {
        "key": key,
        "attempts": reached[0],
        "abandoned": 7,
        "reached": reached,
        "from_previous": (None, (30.0, 92.0), None, (60.0, 60.0), None, None, (60.5, 61.25)),
        "to_booking": ((480.0, 500.0), *([None] * (n - 2)), None),
    }
    values.update(kw)
    return f.GroupAggregate(**values)


def test_a_group_is_shaped_step_by_step():
    group = f.shape_group(aggregate())
    assert [s.step for s in group.steps] == list(f.FUNNEL_STEPS)
    started, viewed, selected, code, verified, patient, booked = group.steps
    assert (group.attempts, group.abandoned) == (10, 7)
    assert started.conversion_from_previous is None and started.drop_off is None
    assert started.conversion_from_start == 1.0
    assert started.seconds_from_previous is None
    assert started.seconds_to_booking == f.Stat(median=480.0, p90=500.0)
    assert (viewed.reached, viewed.conversion_from_previous, viewed.drop_off) == (8, 0.8, 2)
    assert viewed.drop_off_rate == 0.2
    assert viewed.seconds_from_previous == f.Stat(median=30.0, p90=92.0)
    assert selected.conversion_from_previous == 0.75 and selected.conversion_from_start == 0.6
    assert selected.seconds_from_previous is None
    assert code.drop_off == 0 and code.conversion_from_previous == 1.0
    assert verified.conversion_from_previous == 0.5
    assert patient.reached == 3
    assert booked.conversion_from_start == 0.2
    assert booked.seconds_from_previous == f.Stat(median=60.5, p90=61.25)
    assert booked.seconds_to_booking is None  # booking to itself is not a time


def test_ratios_over_zero_are_none_and_skipped_steps_may_convert_above_one():
    group = f.shape_group(aggregate(reached=(3, 1, 2, 0, 0, 2, 2)))
    assert group.steps[2].conversion_from_previous == 2.0  # a slot without viewing times
    assert group.steps[2].drop_off == -1
    assert group.steps[4].conversion_from_previous is None  # 0 codes sent
    assert group.steps[4].drop_off_rate is None
    assert group.steps[5].conversion_from_previous is None
    empty = f.shape_group(f.empty_aggregate("x"))
    assert all(s.conversion_from_start is None for s in empty.steps)
    assert all(s.reached == 0 for s in empty.steps)


def test_ratios_are_rounded_to_four_places():
    group = f.shape_group(aggregate(reached=(3, 2, 1, 1, 1, 1, 1)))
    assert group.steps[1].conversion_from_start == 0.6667
    assert group.steps[1].drop_off_rate == 0.3333


def test_days_are_filled_and_other_groupings_sorted_with_none_last():
    days = [date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)]
    groups = f.shape([aggregate(key="2026-03-02")], "day", days)
    assert [g.key for g in groups] == ["2026-03-01", "2026-03-02", "2026-03-03"]
    assert [g.attempts for g in groups] == [0, 10, 0]
    by_location = f.shape([aggregate(key=None), aggregate(key=9), aggregate(key=4)], "location")
    assert [g.key for g in by_location] == [4, 9, None]


def test_bounds_accept_dates_in_the_account_zone_and_times_with_offsets():
    assert f.parse_bound("2026-03-02", "from", LA, end=False) == datetime(
        2026, 3, 2, 8, 0, tzinfo=UTC
    )
    # a `to` date is inclusive: the range ends at the next local midnight
    assert f.parse_bound("2026-03-02", "to", LA, end=True) == datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
    assert f.parse_bound("2026-03-09T09:00:00-04:00", "from", LA, end=False) == datetime(
        2026, 3, 9, 13, 0, tzinfo=UTC
    )
    # an unencoded "+" arrives as a space
    assert f.parse_bound("2026-03-09T09:00:00 01:00", "from", LA, end=False) == datetime(
        2026, 3, 9, 8, 0, tzinfo=UTC
    )
    for bad, message in [
        ("2026-03-09T09:00:00", "offset"),
        ("2026-13-40", "date"),
        ("yesterday", "ISO 8601"),
    ]:
        with pytest.raises(f.RangeError, match=message) as info:
            f.parse_bound(bad, "from", LA, end=False)
        assert info.value.field == "from"


def test_range_checks():
    start = datetime(2026, 3, 2, tzinfo=UTC)
    f.check_range(start, start + timedelta(days=400))
    with pytest.raises(f.RangeError, match="after"):
        f.check_range(start, start)
    with pytest.raises(f.RangeError, match="400"):
        f.check_range(start, start + timedelta(days=401))


def test_local_days_and_their_starts_across_a_dst_change():
    # 2026-03-08: Los Angeles springs forward (a 23-hour day)
    start = f.parse_bound("2026-03-07", "from", LA, end=False)
    end = f.parse_bound("2026-03-09", "to", LA, end=True)
    days = f.local_days(start, end, LA)
    assert days == [date(2026, 3, 7), date(2026, 3, 8), date(2026, 3, 9)]
    starts = f.day_starts(days, LA)
    assert starts == [
        datetime(2026, 3, 8, 8, 0, tzinfo=UTC),  # PST midnight
        datetime(2026, 3, 9, 7, 0, tzinfo=UTC),  # PDT midnight
    ]
    # a range ending exactly at a midnight does not touch the next day
    assert f.local_days(start, starts[0], LA) == [date(2026, 3, 7)]


def _funnel(groups):
    return f.Funnel(
        start=datetime(2026, 3, 2, 8, tzinfo=UTC),
        end=datetime(2026, 3, 4, 8, tzinfo=UTC),
        time_zone="America/Los_Angeles",
        group_by="day",
        self_scheduling_setting_id=None,
        groups=groups,
    )


def test_funnel_csv_rows_carry_the_json_numbers():
    funnel = _funnel([f.shape_group(aggregate())])
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(f.FUNNEL_CSV_HEADER)
    writer.writerows(f.funnel_csv_rows(funnel))
    rows = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    assert len(rows) == len(f.FUNNEL_STEPS) + 1
    wire = msgspec.to_builtins(funnel)
    for row, step in zip(rows, wire["groups"][0]["steps"], strict=False):
        assert row["step"] == step["step"]
        assert int(row["reached"]) == step["reached"]
        for column, value in [
            ("conversionFromPrevious", step["conversionFromPrevious"]),
            ("conversionFromStart", step["conversionFromStart"]),
            ("dropOffRate", step["dropOffRate"]),
            ("medianSecondsFromPrevious", (step["secondsFromPrevious"] or {}).get("median")),
            ("p90SecondsToBooking", (step["secondsToBooking"] or {}).get("p90")),
        ]:
            assert row[column] == ("" if value is None else str(value)), (column, row)
    assert rows[-1]["step"] == "ABANDONED" and rows[-1]["reached"] == "7"
    assert rows[-1]["conversionFromStart"] == ""


def test_wire_names():
    wire = msgspec.to_builtins(_funnel([f.shape_group(aggregate())]))
    assert set(wire) == {"from", "to", "timeZone", "groupBy", "selfSchedulingSettingId", "groups"}
    assert set(wire["groups"][0]["steps"][1]) == {
        "step", "reached", "conversionFromPrevious", "conversionFromStart", "dropOff",
        "dropOffRate", "secondsFromPrevious", "secondsToBooking",
    }  # fmt: skip


def test_the_svg_is_well_formed_scriptless_and_escapes_every_text():
    hostile = 'Dr. <script>alert("x")</script> & "Sons" \'quoted\''
    body = svg.render(f.shape_group(aggregate()), hostile, f"{hostile} · 2026-03-02")
    root = ET.fromstring(body)  # noqa: S314 - our own output: it must be well-formed XML
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert "<script" not in body.lower() and "javascript:" not in body.lower()
    assert "onload" not in body.lower()
    assert "&lt;script&gt;" in body and "&amp;" in body and "&quot;Sons&quot;" in body
    texts = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    assert "Booked" in texts and "Abandoned" in texts
    assert "2 (20.0%)" in texts  # booked count and share of started
    empty = svg.render(f.shape_group(f.empty_aggregate(None)), "t", "s")
    ET.fromstring(empty)  # noqa: S314 - our own output


def test_durations_read_like_a_person_would_say_them():
    assert [svg.duration(x) for x in (None, 0, 45.4, 200, 7500, 97_200)] == [
        "n/a", "0s", "45s", "3m 20s", "2h 05m", "1d 3h",
    ]  # fmt: skip


def test_audit_spec_helpers():
    assert audit("patient", "create", "response:id")["audit"].resource_type == "patient"
    with pytest.raises(ValueError, match="action"):
        audit("patient", "delete")
    with pytest.raises(ValueError, match="source"):
        audit("patient", "read", "query:id")
    assert [outcome(s) for s in (200, 201, 304, 400, 401, 403, 404, 409, 422, 500)] == [
        "success", "success", "success", "error", "denied", "denied", "error", "error", "error",
        "error",
    ]  # fmt: skip
    body = {"id": 5, "appointment": {"id": 7}, "appointments": [{"id": 1}, {"id": 2}, {}]}
    assert resource_id_from_response(body, "id") == "5"
    assert resource_id_from_response(body, "appointment.id") == "7"
    assert resource_id_from_response(body, "appointments[].id") == "1,2"
    assert resource_id_from_response(body, "missing.id") is None
    assert resource_id_from_response({"appointments": []}, "appointments[].id") is None
    assert resource_id_from_response(body, "appointment") is None  # never a whole object

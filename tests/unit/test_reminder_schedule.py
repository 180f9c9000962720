"""When reminders go out: offsets, quiet hours in the location's zone, DST, skips."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from app.reminders.schedule import (
    Postpone,
    Reminder,
    Send,
    Skip,
    at_due_time,
    due_time,
    in_quiet_hours,
    plan,
)

NEW_YORK = ZoneInfo("America/New_York")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
SMS_DAY = Reminder(1440, "SMS")
EMAIL_3_DAYS = Reminder(4320, "EMAIL")


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK)


def test_an_offset_is_absolute_minutes_before_the_start():
    start = ny(2026, 6, 10, 14, 0)
    assert due_time(start, SMS_DAY, NEW_YORK) == ny(2026, 6, 9, 14, 0)
    assert due_time(start, EMAIL_3_DAYS, NEW_YORK) == ny(2026, 6, 7, 14, 0)
    assert due_time(start, Reminder(30, "SMS"), NEW_YORK) == ny(2026, 6, 10, 13, 30)


def test_a_text_due_in_the_night_goes_out_the_evening_before():
    # a 08:30 visit: the 24 h text would be at 08:30, allowed; a 12 h one at 20:30, allowed
    assert due_time(ny(2026, 6, 10, 8, 30), Reminder(720, "SMS"), NEW_YORK) == ny(
        2026, 6, 9, 20, 30
    )
    # a 10 h text before an 09:00 visit falls at 23:00: moved back to 20:55 that evening
    assert due_time(ny(2026, 6, 10, 9, 0), Reminder(600, "SMS"), NEW_YORK) == ny(2026, 6, 9, 20, 55)
    # a 3 h text before a 09:00 visit falls at 06:00: moved to 20:55 the evening before
    assert due_time(ny(2026, 6, 10, 9, 0), Reminder(180, "SMS"), NEW_YORK) == ny(2026, 6, 9, 20, 55)
    # email has no quiet hours
    assert due_time(ny(2026, 6, 10, 9, 0), Reminder(180, "EMAIL"), NEW_YORK) == ny(
        2026, 6, 10, 6, 0
    )


def test_quiet_hours_edges():
    assert not in_quiet_hours(ny(2026, 6, 10, 8, 0), NEW_YORK)
    assert not in_quiet_hours(ny(2026, 6, 10, 20, 59), NEW_YORK)
    assert in_quiet_hours(ny(2026, 6, 10, 21, 0), NEW_YORK)
    assert in_quiet_hours(ny(2026, 6, 10, 7, 59), NEW_YORK)


def test_quiet_hours_follow_the_location_zone_not_utc():
    # 03:30 UTC is 23:30 in New York (quiet) and 20:30 in Los Angeles (allowed)
    start = datetime(2026, 6, 10, 15, 30, tzinfo=UTC)
    reminder = Reminder(720, "SMS")
    assert due_time(start, reminder, LOS_ANGELES) == datetime(2026, 6, 10, 3, 30, tzinfo=UTC)
    assert due_time(start, reminder, NEW_YORK) == ny(2026, 6, 9, 20, 55)


def test_quiet_hours_across_the_spring_dst_change():
    # DST starts Sunday 8 March 2026 at 02:00 in New York (EST -5 -> EDT -4).
    # A 09:00 EDT Monday visit (13:00 UTC); a 12 h text is due 01:00 UTC = 21:00 EDT Sunday:
    # quiet, so 20:55 EDT Sunday = 00:55 UTC (with a fixed -5 offset it would be 01:55 UTC).
    start = ny(2026, 3, 9, 9, 0)
    assert start.utcoffset() == timedelta(hours=-4)
    moved = due_time(start, Reminder(720, "SMS"), NEW_YORK)
    assert moved == datetime(2026, 3, 9, 0, 55, tzinfo=UTC)
    # A 10:00 EDT Sunday visit (14:00 UTC), a 10 h text due 04:00 UTC = 23:00 EST Saturday:
    # moved to 20:55 EST Saturday = 01:55 UTC, the evening before the clocks changed.
    start = ny(2026, 3, 8, 10, 0)
    moved = due_time(start, Reminder(600, "SMS"), NEW_YORK)
    assert moved == datetime(2026, 3, 8, 1, 55, tzinfo=UTC)
    assert moved.astimezone(NEW_YORK).utcoffset() == timedelta(hours=-5)
    # 24 h before 09:00 EDT Monday is 09:00 EDT Sunday: absolute, 1440 real minutes
    assert due_time(ny(2026, 3, 9, 9, 0), SMS_DAY, NEW_YORK) == datetime(
        2026, 3, 8, 13, 0, tzinfo=UTC
    )


def test_quiet_hours_across_the_autumn_dst_change():
    # DST ends Sunday 1 November 2026 at 02:00 (EDT -4 -> EST -5): 01:00-02:00 happens twice.
    # A 08:00 EST Sunday visit (13:00 UTC); a 6 h text is due 07:00 UTC = 02:00 EST: quiet,
    # moved to 20:55 EDT Saturday = 00:55 UTC Sunday.
    start = ny(2026, 11, 1, 8, 0)
    assert start.utcoffset() == timedelta(hours=-5)
    assert due_time(start, Reminder(360, "SMS"), NEW_YORK) == datetime(
        2026, 11, 1, 0, 55, tzinfo=UTC
    )


def test_plan_skips_past_reminders_and_missing_contacts():
    start = ny(2026, 6, 10, 9, 0)
    reminders = [SMS_DAY, EMAIL_3_DAYS, Reminder(30, "EMAIL")]
    booked = ny(2026, 6, 8, 12, 0)  # 45 hours before: the 72 h email is already past
    planned = {(p.offset_minutes, p.channel): p for p in plan(
        reminders, start, booked, NEW_YORK, frozenset({"SMS", "EMAIL"})
    )}  # fmt: skip
    assert planned[(1440, "SMS")].status == "SCHEDULED"
    assert (planned[(4320, "EMAIL")].status, planned[(4320, "EMAIL")].reason) == (
        "SKIPPED",
        "past_at_booking",
    )
    assert planned[(30, "EMAIL")].status == "SCHEDULED"
    no_phone = plan([SMS_DAY], start, booked, NEW_YORK, frozenset({"EMAIL"}))
    assert (no_phone[0].status, no_phone[0].reason) == ("SKIPPED", "no_contact")


def test_a_booking_30_minutes_before_the_start_gets_none_of_the_earlier_reminders():
    start = ny(2026, 6, 10, 14, 0)
    booked = start - timedelta(minutes=30)
    planned = plan([SMS_DAY, EMAIL_3_DAYS], start, booked, NEW_YORK, frozenset({"SMS", "EMAIL"}))
    assert [p.status for p in planned] == ["SKIPPED", "SKIPPED"]


def test_at_due_time_rechecks_the_world():
    start = ny(2026, 6, 10, 14, 0)
    now = ny(2026, 6, 9, 14, 0)
    base = {"channel": "SMS", "start": start, "now": now, "zone": NEW_YORK}
    ok = {"has_contact": True, "opted_out": False}
    assert at_due_time(status="SCHEDULED", **base, **ok) == Send()
    assert at_due_time(status="CONFIRMED", **base, **ok) == Send()
    assert at_due_time(status="CHECKED_IN", **base, **ok) == Skip("appointment_checked_in")
    assert at_due_time(status="SCHEDULED", **base, has_contact=True, opted_out=True) == Skip(
        "opted_out"
    )
    assert at_due_time(status="SCHEDULED", **base, has_contact=False, opted_out=False) == Skip(
        "no_contact"
    )
    late = {**base, "now": start + timedelta(minutes=1)}
    assert at_due_time(status="SCHEDULED", **late, **ok) == Skip("too_late")
    # a worker outage let it slip into the night: the text waits for 08:00, if still useful
    night = {**base, "now": ny(2026, 6, 9, 23, 0)}
    assert at_due_time(status="SCHEDULED", **night, **ok) == Postpone(ny(2026, 6, 10, 8, 0))
    early_visit = {**night, "start": ny(2026, 6, 10, 7, 30)}
    assert at_due_time(status="SCHEDULED", **early_visit, **ok) == Skip("quiet_hours")
    email_night = {**night, "channel": "EMAIL"}
    assert at_due_time(status="SCHEDULED", **email_night, **ok) == Send()

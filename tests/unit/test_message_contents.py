"""What a patient reads about their appointment: human local times in English and Spanish,
the phone formatted and tappable, the calendar file and links."""

from datetime import UTC, datetime

import pytest

from app.notifications.calendar import CalendarEvent, google_url, ics, outlook_url
from app.notifications.formats import address_line, human_when, phone_display, phone_uri
from app.notifications.messages import render
from tests.support import VISIT_PARAMS


@pytest.mark.parametrize(
    ("at", "zone", "lang", "expected"),
    [
        (datetime(2026, 12, 2, 14, 45, tzinfo=UTC), "America/New_York", "en",
         "Wednesday, December 2, 2026 at 9:45 AM EST"),
        (datetime(2026, 12, 2, 14, 45, tzinfo=UTC), "America/New_York", "es",
         "miércoles, 2 de diciembre de 2026 a las 9:45 a. m. EST"),
        (datetime(2026, 3, 9, 20, 0, tzinfo=UTC), "America/Los_Angeles", "en",
         "Monday, March 9, 2026 at 1:00 PM PDT"),  # the day after the spring change
        (datetime(2026, 3, 9, 17, 5, tzinfo=UTC), "America/Los_Angeles", "es",
         "lunes, 9 de marzo de 2026 a las 10:05 a. m. PDT"),
        (datetime(2026, 7, 1, 4, 0, tzinfo=UTC), "America/New_York", "en",
         "Wednesday, July 1, 2026 at 12:00 AM EDT"),
        (datetime(2026, 7, 1, 15, 0, tzinfo=UTC), "America/Sao_Paulo", "en",
         "Wednesday, July 1, 2026 at 12:00 PM UTC-03"),
        (datetime(2026, 7, 1, 15, 0, tzinfo=UTC), "America/New_York", "fr",
         "Wednesday, July 1, 2026 at 11:00 AM EDT"),
    ],
)  # fmt: skip
def test_human_local_date_and_time(at, zone, lang, expected):
    assert human_when(at, zone, lang) == expected


@pytest.mark.parametrize(
    ("raw", "shown", "uri"),
    [
        ("+12125550100", "(212) 555-0100", "tel:+12125550100"),
        ("212-555-0100", "(212) 555-0100", "tel:+12125550100"),
        ("(510) 555 0100", "(510) 555-0100", "tel:+15105550100"),
        ("+44 20 7123 4567", "+44 20 7123 4567", "tel:+442071234567"),
        ("", None, None),
        (None, None, None),
    ],
)
def test_phone_formatted_and_tappable(raw, shown, uri):
    assert phone_display(raw) == shown
    assert phone_uri(raw) == uri


def test_address_leaves_out_missing_parts():
    assert address_line("100 Main Street", None, "Brooklyn", "NY", "11201") == (
        "100 Main Street, Brooklyn, NY 11201"
    )
    assert address_line(None, None, "Oakland", None, None) == "Oakland"


def test_english_confirmation_reads_well():
    out = render("appointment_confirmation", "en", VISIT_PARAMS)
    assert out.subject == (
        "Riverside Family Health: appointment confirmed for Monday, March 9, 2026 at 9:00 AM EDT"
    )
    assert out.text.startswith(
        "Your appointment with Riverside Family Health is confirmed.\n\n"
        "What: New patient visit with Ana Ruiz, MD\n"
        "When: Monday, March 9, 2026 at 9:00 AM EDT\n"
        "Where: Riverside Family Health - Brooklyn, 100 Main Street, Brooklyn, NY 11201\n"
        "Questions? Call (212) 555-0100\n\n"
    )
    assert out.text.endswith(f"Reschedule or cancel: {VISIT_PARAMS['manage_url']}")
    assert "Add to Google Calendar: https://calendar.google.com/calendar/render?" in out.text
    assert "Add to Outlook: https://outlook.live.com/calendar/0/deeplink/compose?" in out.text
    assert '<a href="tel:+12125550100">(212) 555-0100</a>' in out.html
    assert ">Add to Google Calendar</a>" in out.html and ">Add to Outlook</a>" in out.html
    assert out.sms == (
        "Riverside Family Health: your New patient visit with Ana Ruiz, MD is booked for "
        "Monday, March 9, 2026 at 9:00 AM EDT. Riverside Family Health - Brooklyn, "
        "100 Main Street, Brooklyn, NY 11201. Questions: (212) 555-0100. Reschedule or cancel: "
        f"{VISIT_PARAMS['manage_url']}"
    )


def test_spanish_messages_are_spanish():
    params = {**VISIT_PARAMS, "when": "lunes, 9 de marzo de 2026 a las 9:00 a. m. EDT"}
    for purpose in ("appointment_confirmation", "appointment_rescheduled", "appointment_cancelled"):
        out = render(purpose, "es", params)
        assert "¿Preguntas? Llame al (212) 555-0100" in out.text
        assert "lunes, 9 de marzo" in out.sms and "Your" not in out.text
    assert render("appointment_cancelled", "es", params).text.endswith(
        f"Reservar otra hora: {VISIT_PARAMS['manage_url']}"
    )


def test_without_a_phone_there_is_no_questions_line():
    params = {k: v for k, v in VISIT_PARAMS.items() if k not in ("phone", "phone_uri")}
    out = render("appointment_rescheduled", "en", params)
    assert "Questions" not in out.text + out.sms + out.html
    assert "Where: Riverside Family Health - Brooklyn, 100 Main Street, Brooklyn, NY 11201\n\n" in (
        out.text
    )


def test_email_carries_the_visit_as_ics():
    [attachment] = render("appointment_confirmation", "en", VISIT_PARAMS).attachments
    assert attachment.filename == "appointment.ics"
    assert attachment.content_type == "text/calendar; charset=utf-8; method=PUBLISH"
    text = attachment.content
    assert "\r\nUID:appointment-7@slotproof.test\r\n" in text
    assert "\r\nDTSTART:20260309T130000Z\r\nDTEND:20260309T133000Z\r\n" in text
    assert "\r\nSUMMARY:New patient visit — Riverside Family Health\r\n" in text
    assert "\r\nSEQUENCE:1772000000\r\n" in text
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    [cancel] = render("appointment_cancelled", "en", VISIT_PARAMS).attachments
    assert "METHOD:CANCEL" in cancel.content and "STATUS:CANCELLED" in cancel.content


def test_calendar_links_and_escaping():
    event = CalendarEvent(
        uid="u@x",
        start=datetime(2026, 3, 9, 13, tzinfo=UTC),
        end=datetime(2026, 3, 9, 13, 30, tzinfo=UTC),
        summary="Visit; with, commas",
        location="A\nB",
        description="d",
    )
    assert "SUMMARY:Visit\\; with\\, commas" in ics(event, now=event.start)
    assert "LOCATION:A\\nB" in ics(event, now=event.start)
    assert "dates=20260309T130000Z%2F20260309T133000Z" in google_url(event)
    assert "startdt=2026-03-09T13%3A00%3A00Z" in outlook_url(event)


def test_bad_phone_uri_is_refused():
    with pytest.raises(ValueError):
        render("appointment_confirmation", "en", {**VISIT_PARAMS, "phone_uri": "javascript:x"})

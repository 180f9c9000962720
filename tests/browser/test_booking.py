"""Booking on /demo in headless Chromium: end to end with the mouse, the same with the keyboard
only at 320 px wide; each checked against the database and the events the host page received."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tests.browser.flows import (
    READY_JS,
    focused,
    heading_focused,
    no_overflow,
    normalise,
    tab_to,
    widget_frame,
)
from tests.browser.harness import Server, Shots, needs_browser, unique_email

pytestmark = needs_browser

STEPS = ["service", "time", "contact", "patient", "review", "confirmation"]


def host_events(page: Any) -> tuple[list[dict], list[dict]]:
    return page.evaluate("[window.__slotproofEvents, window.__slotproofCustomEvents]")


def check_host_events(page: Any, appointment_id: int, secrets_: list[str]) -> None:
    posted, custom = host_events(page)
    types = [e["type"] for e in posted]
    assert types[0] == "slotproof:ready", types
    steps = [e["step"] for e in posted if e["type"] == "slotproof:step"]
    assert steps == STEPS, steps
    booked = [e for e in posted if e["type"] == "slotproof:booked"]
    assert len(booked) == 1
    assert set(booked[0]) == {"type", "appointmentId", "startDateTime"}
    assert booked[0]["appointmentId"] == appointment_id
    assert any(e["type"] == "slotproof:resize" and e["height"] > 0 for e in posted)
    # the loader re-dispatches the same events as window CustomEvents
    assert [e["type"] for e in custom] == types
    assert custom[types.index("slotproof:booked")]["detail"] == {
        "appointmentId": appointment_id,
        "startDateTime": booked[0]["startDateTime"],
    }
    # nothing the patient typed reaches the host page
    everything = json.dumps([posted, custom]).lower()
    for secret in secrets_:
        assert secret.lower() not in everything, secret


def appointment_row(server: Server, appointment_id: int):
    rows = server.db(
        "SELECT a.status, a.start_at, a.practitioner_id, a.location_id, p.first_name,"
        " p.last_name, p.date_of_birth, p.email, t.status AS attempt_status"
        " FROM appointments a JOIN patients p ON p.id = a.patient_id"
        " JOIN self_scheduling_attempts t ON t.appointment_id = a.id WHERE a.id = $1",
        appointment_id,
    )
    assert len(rows) == 1
    return rows[0]


def local_time_label(start: datetime, zone: str) -> str:
    local = start.astimezone(ZoneInfo(zone))
    return local.strftime("%I:%M %p").lstrip("0")


def test_book_end_to_end_on_demo_with_the_mouse(
    server: Server, page: Any, shots: Shots, problems: list
) -> None:
    email = unique_email()
    page.goto(f"{server.url}/demo")
    frame = widget_frame(page)
    frame.get_by_role("heading", name="What do you need?").wait_for()
    page.wait_for_function(READY_JS)
    shots(page, "service location practitioner")

    frame.get_by_label("New patient visit").check()
    frame.get_by_label("Riverside Family Health - Brooklyn").check()
    frame.get_by_label("Practitioner").select_option(label="Ben Okafor, NP")
    frame.get_by_role("button", name="Continue").click()
    heading_focused(frame, "Choose a date and time")
    day = frame.locator(".sp-day.sp-open").first
    day.click()
    assert day.get_attribute("aria-pressed") == "true"
    first_time = frame.locator(".sp-time").first
    time_label = normalise(first_time.inner_text())
    zone_note = frame.locator(".sp-zone").inner_text()
    assert "Eastern" in zone_note and "New York" in zone_note, zone_note
    shots(page, "calendar and times")
    first_time.click()

    heading_focused(frame, "Confirm your email")
    shots(page, "contact")
    frame.get_by_label("Email address").fill(email)
    sent = time.time() - 1
    frame.get_by_role("button", name="Send code").click()
    code_input = frame.get_by_label("6-digit code")
    code_input.wait_for()
    assert re.search(r"new code in \d+ s", frame.locator("#sp-countdown").inner_text())
    assert frame.get_by_role("button", name="Resend code").is_disabled()
    code = server.code_for(email, newer_than=sent)
    code_input.fill(f"{(int(code) + 1) % 1_000_000:06d}")
    frame.get_by_role("button", name="Verify").click()
    frame.get_by_text("That code isn't right").wait_for()
    assert code_input.get_attribute("aria-invalid") == "true"
    shots(page, "code wrong")
    code_input.fill(code)
    frame.get_by_role("button", name="Verify").click()

    heading_focused(frame, "About you")
    frame.get_by_label("First name").fill("Pat")
    frame.get_by_label("Last name").fill("Quintero")
    frame.get_by_label("Month").fill("7")
    frame.get_by_label("Day").fill("31")
    frame.get_by_label("Year").fill("1985")
    shots(page, "patient")
    frame.get_by_role("button", name="Continue").click()

    heading_focused(frame, "Review and book")
    review = normalise(frame.locator(".sp-details").inner_text())
    assert time_label in review and "Eastern" in review and "Ben Okafor, NP" in review, review
    shots(page, "review")
    frame.get_by_role("button", name="Book appointment").click()

    heading_focused(frame, "You're booked")
    shots(page, "confirmation")
    page.wait_for_function(
        "() => window.__slotproofEvents.some(e => e.type === 'slotproof:booked')"
    )
    posted, _ = host_events(page)
    booked = next(e for e in posted if e["type"] == "slotproof:booked")
    row = appointment_row(server, booked["appointmentId"])
    assert row["status"] == "SCHEDULED"
    assert row["attempt_status"] == "BOOKED"
    assert row["practitioner_id"] == server.demo["practitionerIds"][1]  # Ben Okafor
    assert (row["first_name"], row["last_name"], row["email"]) == ("Pat", "Quintero", email)
    assert row["date_of_birth"].isoformat() == "1985-07-31"
    assert row["start_at"] == datetime.fromisoformat(booked["startDateTime"])
    assert local_time_label(row["start_at"], "America/New_York") == time_label
    confirmation = normalise(frame.locator(".sp-details").inner_text())
    assert time_label in confirmation and "100 Main Street, Brooklyn" in confirmation

    with page.expect_download() as download:
        frame.get_by_role("link", name="Add to calendar (.ics)").click()
    ics = download.value.path().read_bytes().decode()
    start_utc = row["start_at"].astimezone(ZoneInfo("UTC")).strftime("%Y%m%dT%H%M%SZ")
    assert ics.startswith("BEGIN:VCALENDAR\r\n") and f"DTSTART:{start_utc}\r\n" in ics
    assert "Pat" not in ics and email not in ics  # nothing personal in a file that gets shared
    manage = frame.locator("#sp-manage-link").get_attribute("href")
    assert manage.startswith(f"{server.url}/widget/v1/frame#manage=mg_")
    with page.expect_popup() as popup:
        frame.get_by_role("link", name="Change or cancel").click()
    popup.value.get_by_role("heading", name="Your appointment").wait_for()
    assert popup.value.get_by_role("button", name="Reschedule").is_enabled()
    popup.value.close()

    check_host_events(page, booked["appointmentId"], [email, "Quintero", "1985-07-31", code])
    last_height = [e for e in posted if e["type"] == "slotproof:resize"][-1]["height"]
    assert page.locator("iframe").evaluate("f => f.style.height") == f"{last_height}px"
    assert not problems, problems


def test_book_by_keyboard_only_at_320px(
    server: Server, new_page: Any, shots: Shots, problems: list
) -> None:
    page = new_page(viewport={"width": 320, "height": 640})
    keys = page.keyboard
    email = unique_email()
    page.goto(f"{server.url}/demo")
    frame = widget_frame(page)
    page.wait_for_function(READY_JS)

    no_overflow(frame)
    shots(page, "service")
    tab_to(page, frame, lambda a: a["name"] == "type")
    keys.press("ArrowDown")  # radios: the arrow selects "Follow-up"
    assert frame.get_by_label("Follow-up").is_checked()
    tab_to(page, frame, lambda a: a["name"] == "loc")
    keys.press("Space")
    assert frame.get_by_label("Riverside Family Health - Brooklyn").is_checked()
    tab_to(page, frame, lambda a: a["text"] == "Continue")
    keys.press("Enter")

    heading_focused(frame, "Choose a date and time")
    frame.locator(".sp-day.sp-open").first.wait_for()
    no_overflow(frame)
    start = tab_to(page, frame, lambda a: "sp-day" in a["cls"])
    assert start["tabindex"] == "0" and "sp-open" in start["cls"]
    keys.press("ArrowRight")
    assert focused(frame)["day"] != start["day"]
    keys.press("ArrowLeft")
    assert focused(frame)["day"] == start["day"]
    keys.press("Enter")
    frame.locator(".sp-time").first.wait_for()
    shots(page, "calendar and times")
    chosen = tab_to(page, frame, lambda a: "sp-time" in a["cls"])
    keys.press("Enter")

    heading_focused(frame, "Confirm your email")
    no_overflow(frame)
    tab_to(page, frame, lambda a: a["id"] == "sp-contact")
    keys.type(email)
    sent = time.time() - 1
    keys.press("Enter")
    frame.wait_for_function("() => document.activeElement.id === 'sp-code'")
    shots(page, "code")
    keys.type(server.code_for(email, newer_than=sent))
    keys.press("Enter")

    heading_focused(frame, "About you")
    no_overflow(frame)
    tab_to(page, frame, lambda a: a["id"] == "sp-first")
    keys.type("Kay")
    keys.press("Tab")
    keys.type("Board")
    for part in ("2", "29", "1992"):  # month, day, year
        keys.press("Tab")
        keys.type(part)
    shots(page, "patient")
    keys.press("Enter")

    heading_focused(frame, "Review and book")
    no_overflow(frame)
    assert normalise(chosen["text"]) in normalise(frame.locator(".sp-details").inner_text())
    shots(page, "review")
    tab_to(page, frame, lambda a: a["text"] == "Book appointment")
    keys.press("Enter")

    heading_focused(frame, "You're booked")
    no_overflow(frame)
    shots(page, "confirmation")
    tab_to(page, frame, lambda a: a["text"] == "Add to calendar (.ics)")
    posted, _ = host_events(page)
    booked = next(e for e in posted if e["type"] == "slotproof:booked")
    row = appointment_row(server, booked["appointmentId"])
    assert (row["status"], row["email"], row["first_name"]) == ("SCHEDULED", email, "Kay")
    assert row["date_of_birth"].isoformat() == "1992-02-29"
    check_host_events(page, booked["appointmentId"], [email, "Board", "1992-02-29"])
    # the host page itself, its event log of long JSON lines included, fits the phone too
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    assert not problems, problems

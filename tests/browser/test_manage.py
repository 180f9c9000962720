"""The manage link patients receive (`/widget/v1/frame#manage=<token>`), opened top-level in
headless Chromium: reschedule, then cancel; checked against the database."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.browser.flows import book_via_api, heading_focused, normalise
from tests.browser.harness import Server, Shots, needs_browser, unique_email

pytestmark = needs_browser


def test_reschedule_then_cancel_through_the_manage_link(
    server: Server, page: Any, shots: Shots, problems: list
) -> None:
    booked = book_via_api(server, unique_email())
    appointment_id = booked["appointment"]["id"]
    original = booked["appointment"]["startDateTime"]
    assert booked["manageUrl"].startswith(f"{server.url}/widget/v1/frame#manage=")

    page.goto(booked["manageUrl"])
    page.get_by_role("heading", name="Your appointment").wait_for()
    details = normalise(page.locator(".sp-details").inner_text())
    assert "Scheduled" in details and "Manny" not in details, details
    shots(page, "manage")

    page.get_by_role("button", name="Reschedule").click()
    heading_focused(page.main_frame, "Choose a new date and time")
    original_day = datetime.fromisoformat(original)
    original_key = f"{original_day.month}/{original_day.day}/{original_day.year}"
    page.locator(f".sp-day.sp-open:not([data-day='{original_key}'])").first.click()
    new_time = page.locator(".sp-time").first
    new_time.wait_for()
    shots(page, "reschedule calendar")
    new_time.click()
    heading_focused(page.main_frame, "Confirm the new time")
    shots(page, "reschedule confirm")
    page.get_by_role("button", name="Confirm new time").click()
    heading_focused(page.main_frame, "Your appointment has moved")
    shots(page, "rescheduled")

    rows = server.db("SELECT status, start_at FROM appointments WHERE id = $1", appointment_id)
    assert rows[0]["status"] == "SCHEDULED"
    assert rows[0]["start_at"] != datetime.fromisoformat(original)
    assert rows[0]["start_at"].astimezone(original_day.tzinfo).date() != original_day.date()

    page.get_by_role("button", name="Back to my appointment").click()
    page.get_by_role("button", name="Cancel appointment").click()
    heading_focused(page.main_frame, "Cancel this appointment?")
    shots(page, "cancel confirm")
    page.get_by_role("button", name="Yes, cancel it").click()
    heading_focused(page.main_frame, "Your appointment is cancelled")
    shots(page, "cancelled")
    status = server.db("SELECT status FROM appointments WHERE id = $1", appointment_id)
    assert status[0]["status"] == "CANCELLED"

    page.reload()
    page.get_by_role("heading", name="Your appointment is cancelled").wait_for()
    assert page.get_by_role("button", name="Cancel appointment").count() == 0
    assert page.get_by_role("button", name="Reschedule").count() == 0
    assert page.get_by_text("can no longer be changed online").is_visible()
    assert not problems, problems


def test_unknown_manage_link_says_so(server: Server, page: Any, shots: Shots) -> None:
    page.goto(f"{server.url}/widget/v1/frame#manage=mg_not-a-real-token")
    page.get_by_role("heading", name="Link not found").wait_for()
    shots(page, "unknown link")

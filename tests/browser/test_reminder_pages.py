"""The pages a reminder email links to, in Chromium: the confirm page and the unsubscribe
page in English and Spanish, axe-clean, no script and no CSP violation, and the button is what
confirms (loading the page does not)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from app.reminders import links
from tests.browser.flows import axe_violations
from tests.browser.harness import SECRET_KEY

_DAYS = itertools.count()


def sent_email_reminder(server, lang: str) -> tuple[int, int]:
    """(appointment id, reminder id) of a reminder email already sent for a demo visit."""
    demo = server.demo
    # far from the other browser tests' bookings, one day apart from each other
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=300 + next(_DAYS))
    (row,) = server.db(
        """
        WITH p AS (
            INSERT INTO patients (account_id, first_name, last_name, date_of_birth, email)
            VALUES ($1, 'Rosa', 'Recordatorio', '1970-02-03', 'rosa@example.com') RETURNING id
        ), a AS (
            INSERT INTO appointments (account_id, location_id, practitioner_id, patient_id,
                appointment_type_id, start_at, end_at, blocked_from, blocked_until)
            SELECT $1, $2, $3, p.id, $4, $5::timestamptz,
                   $5::timestamptz + interval '30 minutes', $5,
                   $5::timestamptz + interval '30 minutes' FROM p RETURNING id
        ), n AS (
            INSERT INTO notifications (account_id, channel, recipient, purpose, locale, status)
            VALUES ($1, 'EMAIL', 'rosa@example.com', 'appointment_reminder', $6, 'SENT')
            RETURNING id
        )
        INSERT INTO appointment_reminders (account_id, appointment_id, offset_minutes, channel,
            start_at, due_at, status, notification_id, sent_at)
        SELECT $1, a.id, 4320, 'EMAIL', $5::timestamptz, $5::timestamptz - interval '3 days',
               'QUEUED', n.id, now()
          FROM a, n RETURNING appointment_id, id
        """,
        demo["accountId"],
        demo["locationIds"][0],
        demo["practitionerIds"][0],
        demo["appointmentTypeIds"][0],
        start,
        lang,
    )
    return row["appointment_id"], row["id"]


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_confirm_page_is_accessible_and_only_its_button_confirms(server, page, problems, lang):
    appointment_id, reminder_id = sent_email_reminder(server, lang)
    token = links.token(SECRET_KEY, links.CONFIRM, reminder_id)
    response = page.goto(f"{server.url}/widget/v1/confirm/{token}")
    assert response.status == 200
    assert page.locator("html").get_attribute("lang") == lang
    assert axe_violations(page) == []
    status = "SELECT status FROM appointments WHERE id = $1"
    assert server.db(status, appointment_id)[0]["status"] == "SCHEDULED"

    button = "Confirm appointment" if lang == "en" else "Confirmar la cita"
    page.get_by_role("button", name=button).click()
    heading = "Your appointment is confirmed" if lang == "en" else "Su cita está confirmada"
    page.get_by_role("heading", name=heading).wait_for()
    assert axe_violations(page) == []
    assert server.db(status, appointment_id)[0]["status"] == "CONFIRMED"
    assert problems == []


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_unsubscribe_page_is_accessible(server, page, problems, lang):
    _, reminder_id = sent_email_reminder(server, lang)
    token = links.token(SECRET_KEY, links.UNSUBSCRIBE, reminder_id)
    page.goto(f"{server.url}/widget/v1/unsubscribe/{token}")
    assert axe_violations(page) == []
    page.get_by_role("button").click()
    page.get_by_role("heading", level=1).wait_for()
    assert axe_violations(page) == []
    opted_out = server.db(
        "SELECT count(*) AS n FROM contact_opt_outs WHERE channel = 'EMAIL'"
        " AND contact = 'rosa@example.com' AND account_id = $1",
        server.demo["accountId"],
    )
    assert opted_out[0]["n"] == 1
    assert problems == []

"""What patients receive about their appointment, through the file outbox: every message in
the language they booked in (bug 2), each with a manage link that opens the appointment
(bug 1), and the visit told in full: service, practitioner, human local time, address or
video visit, the practice's phone, and the calendar (.ics + links) in the confirmation."""

import json
from datetime import UTC, datetime

from app.notifications.channels import build_channels
from app.notifications.worker import run_once
from tests.builders import build_practice, first_slot
from tests.support import Widget, frozen_clock_at, open_manage_link, problem_code, widget_patient

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # Monday, 07:00 in New York
MONDAY_9 = "2026-03-09T09:00:00-04:00"


frozen_clock = frozen_clock_at(NOW)


async def a_practice(partner, pool, *, telehealth=False):
    practice = await build_practice(partner)
    await pool.execute(
        "UPDATE locations SET address_line1 = '100 Main Street', city = 'Brooklyn',"
        " state = 'NY', postal_code = '11201', phone = '+12125550100' WHERE id = $1",
        practice.location_ids[0],
    )
    await pool.execute(
        "UPDATE appointment_types SET telehealth = $2 WHERE id = $1",
        practice.appointment_type_id,
        telehealth,
    )
    return practice


async def book_in_widget(client, pool, practice, email, lang=None):
    widget = await widget_patient(client, pool, practice.publishable_key, email, lang=lang)
    booked = await widget.post("/attempt/appointment", json=first_slot(practice, MONDAY_9))
    assert booked.status_code == 201, booked.text
    return booked.json()


async def delivered(pool, settings, outbox_dir, to, purpose):
    """Run the worker, then the messages of `purpose` written for `to`, oldest first."""
    channels = build_channels(settings)
    while await run_once(pool, settings, channels):
        pass
    files = sorted(outbox_dir.glob("*.json"))
    found = [json.loads(f.read_text()) for f in files]
    return [m for m in found if m["to"] == to and m["purpose"] == purpose]


async def test_a_spanish_booking_gets_spanish_messages_with_everything(
    partner, client, pool, settings, outbox_dir
):
    practice = await a_practice(partner, pool)
    email = f"lucia.{partner.account_id}@example.com"
    booked = await book_in_widget(client, pool, practice, email, lang="es")

    [code] = await delivered(pool, settings, outbox_dir, email, "verification_code")
    assert code["locale"] == "es" and code["subject"].startswith("Su código")

    [mail] = await delivered(pool, settings, outbox_dir, email, "appointment_confirmation")
    assert mail["locale"] == "es"
    assert mail["subject"].endswith(
        ": cita confirmada para el lunes, 9 de marzo de 2026 a las 9:00 a. m. EDT"
    )
    body = mail["body"]
    assert "Qué: Visit con Doc0 Test\n" in body
    assert "Cuándo: lunes, 9 de marzo de 2026 a las 9:00 a. m. EDT\n" in body
    assert "Dónde: Site 0, 100 Main Street, Brooklyn, NY 11201\n" in body
    assert "¿Preguntas? Llame al (212) 555-0100" in body
    assert "Agregar a Google Calendar: https://calendar.google.com/" in body
    assert '<a href="tel:+12125550100">(212) 555-0100</a>' in mail["html"]
    [ics] = mail["attachments"]
    assert ics["filename"] == "appointment.ics"
    assert "DTSTART:20260309T130000Z" in ics["content"]
    assert "METHOD:PUBLISH" in ics["content"]
    # the link in the confirmation is the one the widget answered with, and it works
    link = body.rsplit("Cambiar o cancelar la cita: ", 1)[1].strip()
    assert link == booked["manageUrl"]
    shown = await open_manage_link(client, link)
    assert shown["appointment"]["id"] == booked["appointment"]["id"]

    # the patient cancels through that link: told in Spanish, with the same working link
    token = booked["manageToken"]
    assert (await client.post(f"/widget/v1/manage/{token}/cancel")).status_code == 200
    [cancel] = await delivered(pool, settings, outbox_dir, email, "appointment_cancelled")
    assert cancel["locale"] == "es"
    assert cancel["body"].endswith(f"Reservar otra hora: {booked['manageUrl']}")
    assert "METHOD:CANCEL" in cancel["attachments"][0]["content"]
    assert (await open_manage_link(client, booked["manageUrl"]))["appointment"]["status"] == (
        "CANCELLED"
    )


async def test_the_practice_moves_it_the_patient_hears_in_their_language_with_a_new_link(
    partner, client, pool, settings, outbox_dir
):
    practice = await a_practice(partner, pool, telehealth=True)
    email = f"lucia.moved.{partner.account_id}@example.com"
    booked = await book_in_widget(client, pool, practice, email, lang="es")
    appointment_id = booked["appointment"]["id"]

    change = f"/location/{practice.location_ids[0]}/appointment/{appointment_id}"
    moved = await partner.put(change, json={"startTime": "2026-03-09T10:30:00-04:00"})
    assert moved.status_code == 200, moved.text
    [notice] = await delivered(pool, settings, outbox_dir, email, "appointment_rescheduled")
    assert notice["locale"] == "es"
    assert "Nueva fecha: lunes, 9 de marzo de 2026 a las 10:30 a. m. EDT" in notice["body"]
    assert "Dónde: Visita por video" in notice["body"]
    link = notice["body"].rsplit("Cambiar o cancelar la cita: ", 1)[1].strip()
    assert link != booked["manageUrl"]  # a link of its own ...
    shown = await open_manage_link(client, link)
    assert shown["appointment"]["startDateTime"] == "2026-03-09T10:30:00-04:00"
    # ... and the confirmation's link still opens the appointment too
    assert (await open_manage_link(client, booked["manageUrl"]))["appointment"]["id"] == (
        appointment_id
    )

    cancelled = await partner.put(change, json={"status": "CANCELLED"})
    assert cancelled.status_code == 200, cancelled.text
    [cancel] = await delivered(pool, settings, outbox_dir, email, "appointment_cancelled")
    assert cancel["locale"] == "es"
    shown = await open_manage_link(client, cancel["body"].rsplit(": ", 1)[1].strip())
    assert shown["appointment"]["status"] == "CANCELLED"


async def test_english_is_the_default_and_other_languages_are_refused(
    partner, client, pool, settings, outbox_dir
):
    practice = await a_practice(partner, pool)
    email = f"pat.{partner.account_id}@example.com"
    await book_in_widget(client, pool, practice, email)
    [mail] = await delivered(pool, settings, outbox_dir, email, "appointment_confirmation")
    assert mail["locale"] == "en"
    assert "When: Monday, March 9, 2026 at 9:00 AM EDT\n" in mail["body"]
    assert (
        "Where: Site 0, 100 Main Street, Brooklyn, NY 11201\nQuestions? Call (212) 555-0100"
        in (mail["body"])
    )

    widget = Widget(client, practice.publishable_key)
    refused = await widget.post("/attempt", json={"lang": "fr"})
    assert refused.status_code == 400 and problem_code(refused) == "validation_failed"
    assert (await widget.post("/attempt")).status_code == 201  # no body at all

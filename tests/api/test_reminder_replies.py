"""Two-way reminders: SMS replies (every keyword, both languages, signatures checked with
Twilio's RequestValidator), STOP then a code request, and the email confirm and unsubscribe
links (GET only shows, POST acts)."""

from __future__ import annotations

import re
import secrets
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

import httpx
import pytest
from twilio.request_validator import RequestValidator

from app.notifications.formats import human_when
from app.reminders import links
from tests.conftest import TEST_SECRET_KEY
from tests.fakes import paused_background_worker
from tests.fakes.providers import PUBLIC_URL, TWILIO_TOKEN, provider_facing_client
from tests.reminder_support import (
    NOW,
    Recording,
    book,
    channels,
    drain,
    new_phone,
    ny,
    reminder_practice,
    reminders_of,
)
from tests.support import frozen_clock_at, problem_code

INBOUND = "/callbacks/twilio/inbound"


frozen_clock = frozen_clock_at(NOW)


@pytest.fixture(scope="module", autouse=True)
async def _only_these_tests_deliver(app):
    async with paused_background_worker(app):
        yield


@pytest.fixture(scope="module")
async def twilio(database_url, outbox_dir):
    """The app as Twilio reaches it: it knows the auth token and its public URL."""
    async with provider_facing_client(database_url, outbox_dir) as c:
        yield c


async def text(
    twilio: httpx.AsyncClient, phone: str, body: str, *, token=TWILIO_TOKEN, sid: str = ""
):
    """A signed inbound SMS; each is a message of its own (its own `MessageSid`) unless `sid`
    names one sent before (a replay)."""
    form = {
        "MessageSid": sid or "SM" + secrets.token_hex(16),
        "AccountSid": "AC" + "2" * 32,
        "From": phone,
        "To": "+15005550006",
        "Body": body,
    }
    signature = RequestValidator(token).compute_signature(f"{PUBLIC_URL}{INBOUND}", form)
    return await twilio.post(
        INBOUND,
        content=urlencode(form),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        },
    )


def said(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    messages = ET.fromstring(response.text).findall("Message")  # noqa: S314 - our own answer
    assert len(messages) == 1
    return messages[0].text or ""


async def status(pool, appointment_id: int) -> str:
    return await pool.fetchval("SELECT status FROM appointments WHERE id = $1", appointment_id)


async def speaking(pool, phone: str, lang: str) -> None:
    """The patient's texts are in `lang` (as a booking in that language makes them)."""
    await pool.execute(
        "UPDATE notifications SET locale = $2 WHERE recipient = $1 AND channel = 'SMS'",
        phone,
        lang,
    )


@pytest.mark.parametrize("lang", ["en", "es"])
@pytest.mark.parametrize("word", ["C", "confirm", "YES", "si", " Sí! "])
async def test_every_confirm_keyword_confirms(partner, pool, twilio, lang, word):
    practice = await reminder_practice(partner)
    phone = new_phone()
    appointment = await book(practice, ny(2027, 3, 10, 14, 0), phone=phone)
    await speaking(pool, phone, lang)
    answer = said(await text(twilio, phone, word))
    assert await status(pool, appointment["id"]) == "CONFIRMED"
    assert ("confirmed" if lang == "en" else "confirmada") in answer
    assert "Doc0 Test" in answer
    assert human_when(ny(2027, 3, 10, 14, 0), "America/New_York", lang) in answer
    assert ("2:00 PM" if lang == "en" else "2:00 p. m.") in answer
    events = await pool.fetch(
        "SELECT data FROM events WHERE account_id = $1 AND type = 'appointment.confirmed'",
        partner.account_id,
    )
    assert [e["data"]["appointmentId"] for e in events] == [appointment["id"]]
    again = said(await text(twilio, phone, word))
    assert ("already confirmed" if lang == "en" else "ya estaba confirmada") in again


async def test_a_number_with_several_appointments_confirms_the_next_and_says_which(
    partner, pool, twilio
):
    practice = await reminder_practice(partner)
    phone = new_phone()
    later = await book(practice, ny(2027, 3, 12, 9, 0), phone=phone)
    sooner = await book(practice, ny(2027, 3, 10, 16, 30), phone=phone)
    answer = said(await text(twilio, phone, "C"))
    assert await status(pool, sooner["id"]) == "CONFIRMED"
    assert await status(pool, later["id"]) == "SCHEDULED"
    assert "Wednesday, March 10, 2027 at 4:30 PM EST" in answer
    answer = said(await text(twilio, phone, "C"))  # the next one not yet confirmed
    assert await status(pool, later["id"]) == "CONFIRMED"
    assert "Friday, March 12, 2027 at 9:00 AM EST" in answer


@pytest.mark.parametrize("lang", ["en", "es"])
async def test_r_answers_with_the_manage_link(partner, pool, twilio, lang):
    practice = await reminder_practice(partner)
    phone = new_phone()
    appointment = await book(practice, ny(2027, 3, 10, 14, 0), phone=phone)
    await speaking(pool, phone, lang)
    answer = said(await text(twilio, phone, "r"))
    assert f"{PUBLIC_URL}/widget/v1/frame" in answer
    assert ("reschedule" if lang == "en" else "cambiar") in answer
    assert await status(pool, appointment["id"]) == "SCHEDULED"


@pytest.mark.parametrize("lang", ["en", "es"])
@pytest.mark.parametrize("word", ["STOP", "stopall", "Unsubscribe", "CANCEL", "end", "QUIT."])
async def test_stop_keywords_stop_every_text_until_start(
    partner, pool, twilio, settings, lang, word
):
    practice = await reminder_practice(partner)
    phone = new_phone()
    appointment = await book(practice, ny(2027, 3, 10, 14, 0), phone=phone)
    await speaking(pool, phone, lang)
    answer = said(await text(twilio, phone, word))
    assert "START" in answer
    assert ("no more text" if lang == "en" else "No recibirá") in answer
    assert await status(pool, appointment["id"]) == "SCHEDULED"  # CANCEL is an opt-out word
    # the armed text reminder is not sent when it falls due
    recording = Recording()
    await drain(pool, settings, channels(recording), ny(2027, 3, 9, 14, 0))
    assert recording.to(phone) == []
    (sms,) = [r for r in await reminders_of(pool, appointment["id"]) if r["channel"] == "SMS"]
    assert (sms["status"], sms["reason"]) == ("SKIPPED", "opted_out")

    restart = "UNSTOP" if word.startswith("Q") else "start"
    answer = said(await text(twilio, phone, restart))
    assert ("text messages again" if lang == "en" else "volverá a recibir") in answer
    assert not await pool.fetchval(
        "SELECT count(*) FROM contact_opt_outs WHERE contact = $1", phone
    )


@pytest.mark.parametrize("lang", ["en", "es"])
async def test_help_names_the_practice_and_its_phone(partner, pool, twilio, lang):
    practice = await reminder_practice(partner)
    await partner.put(f"/location/{practice.location_ids[0]}", json={"phone": "+12125550100"})
    phone = new_phone()
    await book(practice, ny(2027, 3, 10, 14, 0), phone=phone)
    await speaking(pool, phone, lang)
    name = await pool.fetchval("SELECT name FROM accounts WHERE id = $1", partner.account_id)
    answer = said(await text(twilio, phone, "HELP"))
    assert name in answer and "2125550100" in re.sub(r"\D", "", answer)
    assert ("for help" if lang == "en" else "para ayuda") in answer
    menu = said(await text(twilio, phone, "what is this?"))
    assert "C" in menu and "STOP" in menu


async def test_a_forged_signature_is_403_and_changes_nothing(partner, pool, twilio):
    practice = await reminder_practice(partner)
    phone = new_phone()
    appointment = await book(practice, ny(2027, 3, 10, 14, 0), phone=phone)
    for body in ("C", "STOP"):
        forged = await text(twilio, phone, body, token="not-the-auth-token")
        assert forged.status_code == 403 and problem_code(forged) == "invalid_signature"
    unsigned = await twilio.post(
        INBOUND, content=urlencode({"From": phone, "Body": "STOP"}),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    assert unsigned.status_code == 403
    assert await status(pool, appointment["id"]) == "SCHEDULED"
    assert not await pool.fetchval(
        "SELECT count(*) FROM contact_opt_outs WHERE contact = $1", phone
    )


async def test_stop_then_a_code_request_is_a_clear_400_for_partner_and_widget(
    partner, pool, twilio, client
):
    practice = await reminder_practice(partner)
    phone = new_phone()
    await book(practice, ny(2027, 3, 10, 14, 0), phone=phone)
    said(await text(twilio, phone, "STOP"))

    proof = await partner.create("/identity-proof", {"verificationMethod": "sms"})
    refused = await partner.post(f"/identity-proof/{proof['id']}/send", json={"phone": phone})
    assert refused.status_code == 400 and problem_code(refused) == "sms_opted_out"
    assert "START" in refused.json()["detail"] and phone not in refused.text
    queued = await pool.fetchval(
        "SELECT count(*) FROM notifications WHERE recipient = $1 AND purpose = 'verification_code'",
        phone,
    )
    assert queued == 0

    setting = await partner.put(
        f"/self-scheduling/setting/{practice.setting_id}", json={"verificationMethod": "SMS"}
    )
    key = setting.json()["widget"]["publishableKey"]
    started = await client.post("/widget/v1/attempt", headers={"X-Widget-Key": key}, json={})
    assert started.status_code == 201, started.text
    token = started.json()["attemptToken"]
    widget = await client.post(
        "/widget/v1/attempt/send-code",
        headers={"X-Widget-Key": key, "Authorization": f"Bearer {token}"},
        json={"phone": phone},
    )
    assert widget.status_code == 400 and problem_code(widget) == "sms_opted_out"

    said(await text(twilio, phone, "START"))
    again = await partner.post(f"/identity-proof/{proof['id']}/send", json={"phone": phone})
    assert again.status_code == 200, again.text


# ------------------------------------------------------------------ email links


async def sent_email_reminder(partner, pool, settings, email: str):
    practice = await reminder_practice(partner)
    appointment = await book(practice, ny(2027, 3, 10, 14, 0), email=email)
    recording = Recording()
    await drain(pool, settings, channels(recording), ny(2027, 3, 7, 14, 0))
    (message,) = recording.to(email)
    return appointment, message


async def test_the_confirm_link_shows_on_get_and_confirms_only_on_post(
    partner, pool, settings, client
):
    email = f"confirm.{partner.account_id}@example.com"
    appointment, message = await sent_email_reminder(partner, pool, settings, email)
    url = re.search(r"https?://\S+/widget/v1/confirm/\S+", message.body).group(0)
    path = url.removeprefix(settings.public_url)
    assert f'href="{url}"' in message.html

    for _ in range(2):  # a mail scanner following the link changes nothing
        page = await client.get(path)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        csp = page.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src" not in csp
        assert "form-action 'self'" in csp and "frame-ancestors 'none'" in csp
        assert '<html lang="en">' in page.text and '<form method="post">' in page.text
        assert "Doc0 Test" in page.text
    assert await status(pool, appointment["id"]) == "SCHEDULED"

    confirmed = await client.post(path)
    assert confirmed.status_code == 200 and "is confirmed" in confirmed.text
    assert await status(pool, appointment["id"]) == "CONFIRMED"
    assert (await client.post(path)).status_code == 200  # twice: still confirmed

    forged = path[:-4] + ("0000" if not path.endswith("0000") else "1111")
    assert (await client.get(forged)).status_code == 404
    assert (await client.post(forged)).status_code == 404
    reminder_id = int(path.split("_")[1])
    unsubscribe_token = links.token(TEST_SECRET_KEY, links.UNSUBSCRIBE, reminder_id)
    assert (await client.post(f"/widget/v1/confirm/{unsubscribe_token}")).status_code == 404

    cancelled = await partner.put(
        f"/location/{appointment['locationId']}/appointment/{appointment['id']}",
        json={"status": "CANCELLED"},
    )
    assert cancelled.status_code == 200
    late = await client.post(path)
    assert late.status_code == 409 and "no longer" in late.text
    assert await status(pool, appointment["id"]) == "CANCELLED"


async def test_the_confirm_page_speaks_spanish(partner, pool, settings, client):
    email = f"es.{partner.account_id}@example.com"
    _, message = await sent_email_reminder(partner, pool, settings, email)
    await pool.execute(
        "UPDATE notifications SET locale = 'es' WHERE id = $1", message.notification_id
    )
    path = re.search(r"/widget/v1/confirm/\S+", message.body).group(0)
    page = await client.get(path)
    assert '<html lang="es">' in page.text and "Confirmar la cita" in page.text
    done = await client.post(path)
    assert "Su cita está confirmada" in done.text


async def test_one_click_unsubscribe_stops_reminder_emails(partner, pool, settings, client):
    email = f"unsub.{partner.account_id}@example.com"
    appointment, message = await sent_email_reminder(partner, pool, settings, email)
    path = re.search(r"/widget/v1/unsubscribe/\S+", message.body).group(0)
    assert (await client.get(path)).status_code == 200  # asks, changes nothing
    assert not await pool.fetchval(
        "SELECT count(*) FROM contact_opt_outs WHERE contact = $1", email
    )
    done = await client.post(
        path,
        content="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert done.status_code == 200 and "no more reminder emails" in done.text

    # moved: its reminder email for the new time is armed, and skipped when due
    moved = await partner.put(
        f"/location/{appointment['locationId']}/appointment/{appointment['id']}",
        json={"startTime": ny(2027, 3, 11, 14, 0).isoformat()},
    )
    assert moved.status_code == 200, moved.text
    recording = Recording()
    await drain(pool, settings, channels(recording), ny(2027, 3, 8, 14, 0))
    assert recording.to(email) == []
    rows = await reminders_of(pool, appointment["id"])
    assert [(r["status"], r["reason"]) for r in rows if r["start_at"] == ny(2027, 3, 11, 14, 0)
            and r["channel"] == "EMAIL"] == [("SKIPPED", "opted_out")]  # fmt: skip


async def test_reminder_emails_carry_one_click_unsubscribe_headers_through_sendgrid(partner, pool):
    from app.notifications.channels import build_channels
    from tests.fakes.providers import FakeProviders, provider_settings

    fake = FakeProviders()
    try:
        settings = provider_settings(fake, secret_key=TEST_SECRET_KEY)
        email = f"headers.{partner.account_id}@example.com"
        practice = await reminder_practice(partner)
        await book(practice, ny(2027, 3, 10, 14, 0), email=email)
        await drain(pool, settings, build_channels(settings), ny(2027, 3, 7, 14, 0))
        reminder = [r for r in fake.to(email) if "reminder" in r.json["subject"].lower()]
        (sent,) = reminder
        headers = sent.json["headers"]
        url = re.fullmatch(r"<(https://slotproof\.test/widget/v1/unsubscribe/un_\S+)>",
                           headers["List-Unsubscribe"]).group(1)  # fmt: skip
        assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert url in sent.json["content"][0]["value"]
        confirmations = [r for r in fake.to(email) if r not in reminder]
        assert all("headers" not in r.json for r in confirmations)
    finally:
        fake.close()


def silent(response: httpx.Response) -> bool:
    """An empty TwiML answer: nothing texted back."""
    assert response.status_code == 200, response.text
    return ET.fromstring(response.text).findall("Message") == []  # noqa: S314 - our own answer


async def test_a_replayed_reply_changes_nothing_and_reveals_nothing(partner, pool, twilio):
    """Twilio signs no timestamp, so a captured signed reply verifies forever. A replay (the same
    `MessageSid`) is answered with empty TwiML and does nothing: it cannot opt the number out
    again after START, confirm whichever appointment is next by then, or fetch a fresh manage
    link (which the TwiML answer would hand to whoever sent the request)."""
    practice = await reminder_practice(partner)
    phone = new_phone()
    sooner = await book(practice, ny(2027, 3, 10, 14, 0), phone=phone)
    stop, reschedule, confirm = ("SM" + secrets.token_hex(16) for _ in range(3))

    assert "START" in said(await text(twilio, phone, "STOP", sid=stop))
    said(await text(twilio, phone, "START"))
    assert silent(await text(twilio, phone, "STOP", sid=stop))
    assert not await pool.fetchval(
        "SELECT count(*) FROM contact_opt_outs WHERE contact = $1", phone
    )

    assert "/widget/v1/frame" in said(await text(twilio, phone, "R", sid=reschedule))
    links = "SELECT count(*) FROM manage_links WHERE appointment_id = $1"
    issued = await pool.fetchval(links, sooner["id"])
    assert silent(await text(twilio, phone, "R", sid=reschedule))
    assert await pool.fetchval(links, sooner["id"]) == issued

    said(await text(twilio, phone, "C", sid=confirm))
    assert await status(pool, sooner["id"]) == "CONFIRMED"
    later = await book(practice, ny(2027, 3, 12, 9, 0), phone=phone)
    assert silent(await text(twilio, phone, "C", sid=confirm))
    assert await status(pool, later["id"]) == "SCHEDULED"

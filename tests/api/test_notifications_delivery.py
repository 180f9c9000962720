"""Outbox delivery through the real Twilio and SendGrid SDKs against a local fake server:
the exact requests, faults and recovery, racing workers, a worker killed mid-send."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from app import events
from app.config import Settings
from app.core.db import transaction
from app.notifications.channels import build_channels
from app.notifications.messages import render
from app.notifications.outbox import enqueue
from app.notifications.worker import run_once
from tests.fakes import paused_background_worker
from tests.fakes.providers import (
    FROM_EMAIL,
    HANG,
    MESSAGING_SERVICE,
    PUBLIC_URL,
    SENDGRID,
    SENDGRID_KEY,
    TWILIO,
    TWILIO_SID,
    TWILIO_TOKEN,
    FakeProviders,
    provider_settings,
)
from tests.support import VISIT_PARAMS, make_account

CODE_PARAMS = {"practice": "Riverside Family Health", "code": "493817"}
VISIT = VISIT_PARAMS


@pytest.fixture(scope="module", autouse=True)
async def _only_these_tests_deliver(app):
    async with paused_background_worker(app):
        yield


@pytest.fixture
def fake():
    server = FakeProviders()
    yield server
    server.close()


def phone() -> str:
    return "+1555" + "".join(secrets.choice("0123456789") for _ in range(7))


def email() -> str:
    return f"patient-{secrets.token_hex(4)}@example.com"


async def queue(pool, account_id, channel, to, purpose="verification_code", params=None, **kw):
    params = params or (CODE_PARAMS if purpose == "verification_code" else VISIT)
    async with transaction(pool) as conn:
        return await enqueue(
            conn,
            account_id=account_id,
            channel=channel,
            to=to,
            purpose=purpose,
            params=params,
            **kw,
        )


async def row(pool, notification_id) -> asyncpg.Record:
    return await pool.fetchrow("SELECT * FROM notifications WHERE id = $1", notification_id)


async def drain(pool, settings, channels, account_id, passes=60) -> None:
    """Run the worker until none of this account's messages waits any more."""
    for _ in range(passes):
        await run_once(pool, settings, channels)
        waiting = await pool.fetchval(
            "SELECT count(*) FROM notifications "
            "WHERE account_id = $1 AND status IN ('QUEUED', 'SENDING')",
            account_id,
        )
        if not waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("messages still waiting after the worker ran")


async def failed_events(pool, account_id) -> list[dict]:
    rows = await pool.fetch(
        "SELECT data FROM events WHERE account_id = $1 AND type = 'notification.failed' "
        "ORDER BY id",
        account_id,
    )
    return [r["data"] for r in rows]


async def test_twilio_receives_exactly_the_message(pool, fake):
    settings = provider_settings(fake)
    account, to = await make_account(pool), phone()
    notification_id = await queue(pool, account, "SMS", to)

    await run_once(pool, settings, build_channels(settings))

    [request] = fake.to(to)
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
    assert request.form == {
        "To": to,
        "Body": "Your Riverside Family Health code is 493817. It expires in 10 minutes.",
        "MessagingServiceSid": MESSAGING_SERVICE,
        "StatusCallback": f"{PUBLIC_URL}/callbacks/twilio/status?notification={notification_id}",
    }
    credentials = base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {credentials}"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"

    sent = await row(pool, notification_id)
    assert sent["status"] == "SENT"
    assert sent["provider_message_id"] == request.answer["json"]["sid"]
    assert sent["attempts"] == 1 and sent["sent_at"] is not None and sent["last_error"] is None
    assert sent["params"] == {"practice": "Riverside Family Health"}  # the code is gone


async def test_twilio_from_number_instead_of_a_messaging_service(pool, fake):
    settings = provider_settings(
        fake, twilio_messaging_service_sid=None, twilio_from_number="+15550001111"
    )
    account, to = await make_account(pool), phone()
    notification_id = await queue(
        pool, account, "SMS", to, purpose="appointment_cancelled", locale="es"
    )

    await run_once(pool, settings, build_channels(settings))

    [request] = fake.to(to)
    assert request.form == {
        "To": to,
        "Body": render("appointment_cancelled", "es", VISIT).sms,
        "From": "+15550001111",
        "StatusCallback": f"{PUBLIC_URL}/callbacks/twilio/status?notification={notification_id}",
    }


async def test_sendgrid_receives_exactly_the_message(pool, fake):
    settings = provider_settings(fake)
    account, to = await make_account(pool), email()
    notification_id = await queue(
        pool, account, "EMAIL", to, purpose="appointment_confirmation", locale="es-MX"
    )

    await run_once(pool, settings, build_channels(settings))

    [request] = fake.to(to)
    rendered = render("appointment_confirmation", "es", VISIT)
    assert request.method == "POST"
    assert request.path == "/v3/mail/send"
    assert request.headers["authorization"] == f"Bearer {SENDGRID_KEY}"
    assert request.headers["content-type"] == "application/json"
    assert request.json == {
        "from": {"email": FROM_EMAIL},
        "subject": rendered.subject,
        "personalizations": [{"to": [{"email": to}]}],
        "content": [
            {"type": "text/plain", "value": rendered.text},
            {"type": "text/html", "value": rendered.html},
        ],
        "custom_args": {"notification_id": str(notification_id)},
        "attachments": [
            {
                "content": base64.b64encode(rendered.attachments[0].content.encode()).decode(),
                "filename": "appointment.ics",
                "type": "text/calendar; charset=utf-8; method=PUBLISH",
                "disposition": "attachment",
            }
        ],
    }
    sent = await row(pool, notification_id)
    assert sent["status"] == "SENT" and sent["locale"] == "es"
    assert sent["provider_message_id"] == request.answer["headers"]["X-Message-Id"]


async def test_5xx_and_timeouts_then_recovery_deliver_each_message_once(pool, fake):
    settings = provider_settings(fake)
    channels = build_channels(settings)
    account = await make_account(pool)
    phones, emails = [phone() for _ in range(3)], [email() for _ in range(2)]
    ids = [await queue(pool, account, "SMS", p) for p in phones]
    ids += [
        await queue(pool, account, "EMAIL", e, purpose="appointment_rescheduled") for e in emails
    ]
    fake.script(TWILIO, 500, HANG, 503)
    fake.script(SENDGRID, HANG, 502)

    await drain(pool, settings, channels, account)

    for recipient in phones + emails:
        assert len(fake.accepted_for(recipient)) == 1, recipient
    ours = [r for r in fake.requests if r.recipient in phones + emails]
    assert len(ours) == 5 + 5  # every fault was retried, nothing more
    assert sum(1 for r in ours if r.answered is None) == 2  # the two hangs timed out
    rows = [await row(pool, i) for i in ids]
    assert {r["status"] for r in rows} == {"SENT"}
    assert sum(r["attempts"] for r in rows) == 10
    assert await failed_events(pool, account) == []


async def test_a_400_fails_at_once_without_retry_and_records_an_event(pool, fake):
    settings = provider_settings(fake)
    account, to, address = await make_account(pool), phone(), email()
    sms_id = await queue(pool, account, "SMS", to)
    email_id = await queue(pool, account, "EMAIL", address, purpose="appointment_confirmation")
    fake.script(TWILIO, 400)
    fake.script(SENDGRID, 400)

    await drain(pool, settings, build_channels(settings), account)

    assert len(fake.to(to)) == 1 and len(fake.to(address)) == 1
    sms, mail = await row(pool, sms_id), await row(pool, email_id)
    assert (sms["status"], sms["attempts"], sms["last_error"]) == (
        "FAILED",
        1,
        "twilio 400 code 21211",
    )
    assert (mail["status"], mail["attempts"], mail["last_error"]) == ("FAILED", 1, "sendgrid 400")
    assert "code" not in sms["params"]
    failed = sorted(await failed_events(pool, account), key=lambda e: e["notificationId"])
    assert failed == [
        {"notificationId": sms_id, "channel": "SMS", "purpose": "verification_code"},
        {"notificationId": email_id, "channel": "EMAIL", "purpose": "appointment_confirmation"},
    ]


async def test_exhausted_retries_fail_with_one_event(pool, fake):
    settings = provider_settings(fake, delivery_max_attempts=3)
    account, to = await make_account(pool), phone()
    notification_id = await queue(pool, account, "SMS", to)
    fake.script(TWILIO, 500, 500, 500, 500)

    await drain(pool, settings, build_channels(settings), account)

    assert [r.answered for r in fake.to(to)] == [500, 500, 500]
    failed = await row(pool, notification_id)
    assert failed["status"] == "FAILED" and failed["attempts"] == 3
    assert failed["last_error"] == "twilio 500 code 20500; attempts exhausted"
    assert len(await failed_events(pool, account)) == 1


async def test_retries_wait_for_their_backoff(pool, fake):
    settings = provider_settings(
        fake, delivery_backoff_base_seconds=60, delivery_backoff_cap_seconds=60
    )
    channels = build_channels(settings)
    account, to = await make_account(pool), phone()
    notification_id = await queue(pool, account, "SMS", to, purpose="appointment_confirmation")
    fake.script(TWILIO, 503)

    await run_once(pool, settings, channels)
    waiting = await row(pool, notification_id)
    assert (waiting["status"], waiting["attempts"]) == ("QUEUED", 1)
    assert waiting["last_error"] == "twilio 503 code 20500"
    await run_once(pool, settings, channels)  # not due yet
    assert len(fake.to(to)) == 1

    await run_once(pool, settings, channels, now=datetime.now(UTC) + timedelta(seconds=61))
    assert (await row(pool, notification_id))["status"] == "SENT"
    assert len(fake.accepted_for(to)) == 1


async def test_two_workers_racing_send_each_message_once(pool, fake):
    settings = provider_settings(fake)
    account = await make_account(pool)
    phones, emails = [phone() for _ in range(12)], [email() for _ in range(6)]
    for p in phones:
        await queue(pool, account, "SMS", p)
    for e in emails:
        await queue(pool, account, "EMAIL", e, purpose="appointment_confirmation")
    workers = [build_channels(settings) for _ in range(3)]  # separate SDK clients each

    await asyncio.gather(*(run_once(pool, settings, w, batch=4) for w in workers * 2))
    await drain(pool, settings, workers[0], account)

    for recipient in phones + emails:
        assert len(fake.to(recipient)) == 1, recipient
    statuses = await pool.fetch(
        "SELECT status, attempts FROM notifications WHERE account_id = $1", account
    )
    assert {(r["status"], r["attempts"]) for r in statuses} == {("SENT", 1)}


class Killed(BaseException):
    """The worker process dying: not an Exception, so nothing in the worker catches it."""


class DiesAfterSending:
    def __init__(self, channel) -> None:
        self.channel = channel

    async def send(self, message):
        await self.channel.send(message)
        raise Killed


async def test_a_worker_killed_between_send_and_mark_causes_at_most_one_resend(pool, fake):
    settings = provider_settings(fake)
    channels = build_channels(settings)
    account, to = await make_account(pool), phone()
    notification_id = await queue(pool, account, "SMS", to)

    with pytest.raises(Killed):
        await run_once(pool, settings, {"SMS": DiesAfterSending(channels["SMS"])})
    leased = await row(pool, notification_id)
    assert (leased["status"], leased["attempts"]) == ("SENDING", 1)
    assert len(fake.accepted_for(to)) == 1

    # while the lease runs, nobody touches it
    await run_once(pool, settings, channels)
    await run_once(pool, settings, channels, now=datetime.now(UTC) + timedelta(seconds=60))
    assert len(fake.to(to)) == 1

    # once it has run out, the message goes out again: the one documented resend
    after_lease = datetime.now(UTC) + timedelta(seconds=settings.delivery_lease_seconds + 1)
    await run_once(pool, settings, channels, now=after_lease)
    resent = await row(pool, notification_id)
    assert (resent["status"], resent["attempts"]) == ("SENT", 2)
    assert "code" not in resent["params"]
    assert len(fake.accepted_for(to)) == 2

    later = after_lease + timedelta(seconds=settings.delivery_lease_seconds * 3)
    await run_once(pool, settings, channels, now=later)
    assert len(fake.accepted_for(to)) == 2


async def test_a_lease_running_out_on_the_last_attempt_fails_without_resending(pool, fake):
    settings = provider_settings(fake, delivery_max_attempts=1)
    channels = build_channels(settings)
    account, to = await make_account(pool), phone()
    notification_id = await queue(pool, account, "SMS", to, purpose="appointment_confirmation")
    with pytest.raises(Killed):
        await run_once(pool, settings, {"SMS": DiesAfterSending(channels["SMS"])})

    after_lease = datetime.now(UTC) + timedelta(seconds=settings.delivery_lease_seconds + 1)
    await run_once(pool, settings, channels, now=after_lease)

    failed = await row(pool, notification_id)
    assert (failed["status"], failed["last_error"]) == ("FAILED", "attempts exhausted")
    assert len(fake.to(to)) == 1
    assert len(await failed_events(pool, account)) == 1


async def test_a_code_not_sent_within_its_validity_is_failed_not_sent(pool, fake):
    settings = provider_settings(fake)
    account, to = await make_account(pool), phone()
    notification_id = await queue(pool, account, "SMS", to)

    later = datetime.now(UTC) + timedelta(minutes=11)
    await run_once(pool, settings, build_channels(settings), now=later)

    assert fake.to(to) == []
    expired = await row(pool, notification_id)
    assert expired["status"] == "FAILED" and "code" not in expired["params"]
    assert expired["last_error"] == "expired before it could be sent"
    assert len(await failed_events(pool, account)) == 1


def dev_settings(**values):
    return Settings(in_process_worker=False, **values)


async def test_file_channel_writes_the_code_and_the_row_forgets_it(pool, tmp_path):
    settings = dev_settings(delivery="file", outbox_dir=tmp_path / "outbox")
    account, to, address = await make_account(pool), phone(), email()
    sms_id = await queue(pool, account, "SMS", to)
    email_id = await queue(pool, account, "EMAIL", address, locale="es")

    await drain(pool, settings, build_channels(settings), account)

    files = {f.name: json.loads(f.read_text()) for f in (tmp_path / "outbox").glob("*.json")}
    assert not list((tmp_path / "outbox").glob(".*"))  # no temporary file left behind
    by_recipient = {doc["to"]: doc for doc in files.values()}
    sms, mail = by_recipient[to], by_recipient[address]
    assert sms["channel"] == "SMS" and sms["purpose"] == "verification_code"
    assert sms["code"] == "493817" and "493817" in sms["body"]
    assert sms["notificationId"] == sms_id
    assert mail["channel"] == "EMAIL" and mail["code"] == "493817" and mail["locale"] == "es"
    assert mail["subject"] == render("verification_code", "es", CODE_PARAMS).subject
    assert "<strong" in mail["html"]
    for notification_id in (sms_id, email_id):
        sent = await row(pool, notification_id)
        assert sent["status"] == "SENT" and sent["provider_message_id"].startswith("file-")
        assert sent["params"] == {"practice": "Riverside Family Health"}


def _logged(records) -> str:
    return "\n".join(f"{r.getMessage()} {json.dumps(vars(r), default=str)}" for r in records)


async def test_only_the_console_channel_ever_logs_a_code_or_recipient(pool, fake, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    account, to = await make_account(pool), phone()
    for settings in (provider_settings(fake), dev_settings(delivery="file", outbox_dir=tmp_path)):
        await queue(pool, account, "SMS", to)
        fake.script(TWILIO, 500)
        await drain(pool, settings, build_channels(settings), account)
    quiet = _logged(caplog.records)
    assert "notification sent" in quiet and "will retry" in quiet
    assert "493817" not in quiet and to not in quiet and to[1:] not in quiet

    caplog.clear()
    await queue(pool, account, "SMS", to)
    console = dev_settings(delivery="console")
    await drain(pool, console, build_channels(console), account)
    [line] = [r for r in caplog.records if "493817" in r.getMessage()]
    assert line.name == "slotproof.notifications.console" and to in line.getMessage()
    others = [r for r in caplog.records if r is not line]
    assert "493817" not in _logged(others) and to not in _logged(others)


async def test_enqueue_belongs_to_the_callers_transaction(pool):
    account, to = await make_account(pool), phone()

    class Abort(Exception):
        pass

    with pytest.raises(Abort):
        async with transaction(pool) as conn:
            await enqueue(
                conn,
                account_id=account,
                channel="SMS",
                to=to,
                purpose="verification_code",
                params=CODE_PARAMS,
            )
            raise Abort
    assert (
        await pool.fetchval("SELECT count(*) FROM notifications WHERE account_id = $1", account)
        == 0
    )

    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError):
            await enqueue(
                conn,
                account_id=account,
                channel="SMS",
                to=to,
                purpose="verification_code",
                params=CODE_PARAMS,
            )


@pytest.mark.parametrize(
    "bad",
    [
        {"channel": "FAX"},
        {"to": "  "},
        {"to": "+1555\n1234567"},
        {"purpose": "marketing"},
        {"params": {"practice": "P"}},
        {"params": {**CODE_PARAMS, "dob": "1980-01-01"}},
    ],
)
async def test_enqueue_refuses_bad_arguments_and_writes_nothing(pool, bad):
    account = await make_account(pool)
    args = {
        "account_id": account,
        "channel": "SMS",
        "to": phone(),
        "purpose": "verification_code",
        "params": CODE_PARAMS,
        **bad,
    }
    async with transaction(pool) as conn:
        with pytest.raises(ValueError):
            await enqueue(conn, **args)
    assert (
        await pool.fetchval("SELECT count(*) FROM notifications WHERE account_id = $1", account)
        == 0
    )


async def test_events_are_recorded_with_known_types_only(pool):
    account = await make_account(pool)
    async with transaction(pool) as conn:
        event_id = await events.record(
            conn, account_id=account, type="appointment.created", data={"appointmentId": 5}
        )
        with pytest.raises(ValueError):
            await events.record(conn, account_id=account, type="patient.leaked", data={})
    stored = await pool.fetchrow("SELECT * FROM events WHERE id = $1", event_id)
    assert (stored["account_id"], stored["type"]) == (account, "appointment.created")
    assert stored["data"] == {"appointmentId": 5} and stored["created_at"] is not None
    assert set(events.EVENT_TYPES) == {
        "attempt.started",
        "attempt.verified",
        "attempt.abandoned",
        "appointment.created",
        "appointment.rescheduled",
        "appointment.cancelled",
        "notification.failed",
        "budget.exhausted",
        "appointment.confirmed",
        "reminder.sent",
        "waitlist.offered",
        "waitlist.claimed",
    }

"""Provider delivery-status callbacks: real signatures (Twilio's RequestValidator, SendGrid's
ECDSA Event Webhook), forged ones refused with nothing changed, duplicates applied once,
statuses only moving forward."""

from __future__ import annotations

import base64
import json
import secrets
import time

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from twilio.request_validator import RequestValidator

from app.core.db import transaction
from app.notifications import store
from app.notifications.channels import build_channels
from app.notifications.outbox import enqueue
from app.notifications.worker import run_once
from tests.fakes import paused_background_worker
from tests.fakes.providers import (
    MESSAGING_SERVICE,
    PUBLIC_URL,
    TWILIO_SID,
    TWILIO_TOKEN,
    FakeProviders,
    provider_facing_client,
    provider_settings,
)
from tests.support import VISIT_PARAMS, make_account, problem_code

TWILIO_PATH = "/callbacks/twilio/status"
SENDGRID_PATH = "/callbacks/sendgrid/events"
SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"

SENDGRID_KEY = ec.generate_private_key(ec.SECP256R1())
SENDGRID_PUBLIC = base64.b64encode(
    SENDGRID_KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
).decode()
VISIT = VISIT_PARAMS


@pytest.fixture(scope="module", autouse=True)
async def _only_these_tests_deliver(app):
    async with paused_background_worker(app):
        yield


@pytest.fixture(scope="module")
async def callbacks(database_url, outbox_dir):
    """An app that knows the providers' secrets (the session app has none), behind a proxy:
    its public URL is not the address the test client uses."""
    async with provider_facing_client(
        database_url, outbox_dir, sendgrid_webhook_public_key=SENDGRID_PUBLIC
    ) as c:
        yield c


@pytest.fixture(scope="module")
def fake():
    server = FakeProviders()
    yield server
    server.close()


async def sent(pool, fake, channel: str) -> tuple[int, int, str]:
    """(account, notification id, provider message id) of a message the worker sent."""
    account = await make_account(pool)
    to = f"+1555{secrets.randbelow(10**7):07d}" if channel == "SMS" else "p@example.com"
    async with transaction(pool) as conn:
        notification_id = await enqueue(
            conn,
            account_id=account,
            channel=channel,
            to=to,
            purpose="appointment_confirmation",
            params=VISIT,
        )
    settings = provider_settings(fake)
    channels = build_channels(settings)
    # earlier tests may have left rows queued ahead of ours: drain until ours is claimed
    for _ in range(100):
        row = await pool.fetchrow("SELECT * FROM notifications WHERE id = $1", notification_id)
        if row["status"] != "QUEUED" or not await run_once(pool, settings, channels):
            break
    row = await pool.fetchrow("SELECT * FROM notifications WHERE id = $1", notification_id)
    assert row["status"] == "SENT"
    return account, notification_id, row["provider_message_id"]


async def sending_sms(pool) -> int:
    """A text handed to Twilio whose status has not come back yet (the worker has not stored
    its SID either)."""
    account = await make_account(pool)
    async with transaction(pool) as conn:
        notification_id = await enqueue(
            conn, account_id=account, channel="SMS", to="+12025550123",
            purpose="appointment_confirmation", params=VISIT,
        )  # fmt: skip
    await pool.execute("UPDATE notifications SET status = 'SENDING' WHERE id = $1", notification_id)
    return notification_id


def twilio_form(sid: str, status: str, **extra: str) -> dict[str, str]:
    return {
        "AccountSid": TWILIO_SID,
        "ApiVersion": "2010-04-01",
        "MessageSid": sid,
        "MessageStatus": status,
        "MessagingServiceSid": MESSAGING_SERVICE,
        "SmsSid": sid,
        "SmsStatus": status,
        "To": "+15550009999",
        **extra,
    }


async def post_twilio(
    client, form, *, token=TWILIO_TOKEN, url=PUBLIC_URL + TWILIO_PATH, query: str = ""
):
    """POST a signed callback; `query` is the callback URL's own query (Twilio signs it too)."""
    tail = f"?{query}" if query else ""
    signature = RequestValidator(token).compute_signature(url + tail, form)
    return await client.post(
        TWILIO_PATH + tail, data=form, headers={"X-Twilio-Signature": signature}
    )


async def post_sendgrid(client, events, *, key=SENDGRID_KEY, signed_body=None, timestamp=None):
    body = json.dumps(events).encode()
    timestamp = timestamp or str(int(time.time()))
    signature = key.sign(timestamp.encode() + (signed_body or body), ec.ECDSA(hashes.SHA256()))
    headers = {
        "Content-Type": "application/json",
        SIGNATURE: base64.b64encode(signature).decode(),
        TIMESTAMP: timestamp,
    }
    return await client.post(SENDGRID_PATH, content=body, headers=headers)


async def state(pool, notification_id):
    return await pool.fetchrow(
        "SELECT status, sent_at, delivered_at, last_error, updated_at FROM notifications "
        "WHERE id = $1",
        notification_id,
    )


async def failed_events(pool, account) -> list[dict]:
    rows = await pool.fetch(
        "SELECT data FROM events WHERE account_id = $1 AND type = 'notification.failed'", account
    )
    return [r["data"] for r in rows]


async def test_twilio_delivered_then_late_sent_then_duplicate(callbacks, pool, fake):
    _, notification_id, sid = await sent(pool, fake, "SMS")

    response = await post_twilio(callbacks, twilio_form(sid, "delivered"))
    assert response.status_code == 204, response.text
    delivered = await state(pool, notification_id)
    assert delivered["status"] == "DELIVERED" and delivered["delivered_at"] is not None

    assert (await post_twilio(callbacks, twilio_form(sid, "sent"))).status_code == 204
    assert (await post_twilio(callbacks, twilio_form(sid, "delivered"))).status_code == 204
    assert await state(pool, notification_id) == delivered  # nothing moved, nothing rewritten
    keys = await pool.fetchval(
        "SELECT count(*) FROM provider_callbacks WHERE provider = 'twilio' AND event_key LIKE $1",
        f"{sid}:%",
    )
    assert keys == 2


async def test_twilio_undelivered_fails_once_with_one_event(callbacks, pool, fake):
    account, notification_id, sid = await sent(pool, fake, "SMS")
    form = twilio_form(sid, "undelivered", ErrorCode="30003")

    for _ in range(2):
        assert (await post_twilio(callbacks, form)).status_code == 204
    failed = await state(pool, notification_id)
    assert (failed["status"], failed["last_error"]) == ("FAILED", "twilio undelivered 30003")
    assert await failed_events(pool, account) == [
        {"notificationId": notification_id, "channel": "SMS", "purpose": "appointment_confirmation"}
    ]
    assert (await post_twilio(callbacks, twilio_form(sid, "delivered"))).status_code == 204
    assert (await state(pool, notification_id))["status"] == "FAILED"  # final either way


@pytest.mark.parametrize(
    "forgery",
    [
        {"token": "not-the-auth-token"},
        {"url": "http://internal:8000" + TWILIO_PATH},  # must be the public URL
        {"tamper": True},
        {"missing": True},
    ],
)
async def test_twilio_bad_signature_is_403_and_changes_nothing(callbacks, pool, fake, forgery):
    _, notification_id, sid = await sent(pool, fake, "SMS")
    before = await state(pool, notification_id)
    form = twilio_form(sid, "delivered")
    if forgery.get("missing"):
        response = await callbacks.post(TWILIO_PATH, data=form)
    elif forgery.get("tamper"):
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(
            PUBLIC_URL + TWILIO_PATH, twilio_form(sid, "sent")
        )
        response = await callbacks.post(
            TWILIO_PATH, data=form, headers={"X-Twilio-Signature": signature}
        )
    else:
        response = await post_twilio(callbacks, form, **forgery)
    assert response.status_code == 403
    assert problem_code(response) == "invalid_signature"
    assert await state(pool, notification_id) == before
    assert not await pool.fetchval(
        "SELECT count(*) FROM provider_callbacks WHERE event_key LIKE $1", f"{sid}:%"
    )


async def test_callbacks_without_configured_secrets_are_refused(client):
    form = twilio_form("SM" + "0" * 32, "delivered")
    response = await post_twilio(client, form)
    assert response.status_code == 403 and problem_code(response) == "invalid_signature"
    response = await post_sendgrid(client, [{"event": "delivered", "sg_event_id": "x"}])
    assert response.status_code == 403 and problem_code(response) == "invalid_signature"


async def test_twilio_callback_for_an_unknown_message_changes_nothing(callbacks, pool):
    sid = "SM" + secrets.token_hex(16)
    assert (await post_twilio(callbacks, twilio_form(sid, "delivered"))).status_code == 204
    assert not await pool.fetchval(
        "SELECT count(*) FROM provider_callbacks WHERE event_key LIKE $1", f"{sid}:%"
    )


async def test_twilio_callback_before_the_sid_is_stored_finds_its_notification(callbacks, pool):
    """Twilio may call back before the worker has stored the message SID: the notification id
    in the signed callback URL finds the row, and the worker's late bookkeeping moves nothing
    back."""
    notification_id = await sending_sms(pool)
    sid = "SM" + secrets.token_hex(16)
    query = f"notification={notification_id}"
    response = await post_twilio(callbacks, twilio_form(sid, "delivered"), query=query)
    assert response.status_code == 204, response.text
    assert (await state(pool, notification_id))["status"] == "DELIVERED"
    await store.mark_sent(pool, notification_id, sid)  # the worker, now
    row = await pool.fetchrow("SELECT * FROM notifications WHERE id = $1", notification_id)
    assert (row["status"], row["provider_message_id"]) == ("DELIVERED", sid)
    # the query is signed: another notification id with the same signature is refused
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(
        f"{PUBLIC_URL}{TWILIO_PATH}?{query}", twilio_form(sid, "failed")
    )
    forged = await callbacks.post(
        f"{TWILIO_PATH}?notification={notification_id + 1}",
        data=twilio_form(sid, "failed"),
        headers={"X-Twilio-Signature": signature},
    )
    assert forged.status_code == 403


def sendgrid_event(notification_id: int | None, event: str, **extra) -> dict:
    body = {
        "email": "p@example.com",
        "timestamp": int(time.time()),
        "event": event,
        "sg_event_id": secrets.token_urlsafe(16),
        "sg_message_id": "unknown.filterdrecv-1",
        **extra,
    }
    if notification_id is not None:
        body["notification_id"] = str(notification_id)
    return body


async def test_sendgrid_delivered_and_duplicate(callbacks, pool, fake):
    _, notification_id, message_id = await sent(pool, fake, "EMAIL")
    batch = [
        sendgrid_event(notification_id, "processed"),
        sendgrid_event(notification_id, "delivered", sg_message_id=f"{message_id}.filter-7"),
        sendgrid_event(notification_id, "open"),
    ]

    assert (await post_sendgrid(callbacks, batch)).status_code == 204
    delivered = await state(pool, notification_id)
    assert delivered["status"] == "DELIVERED"
    assert (await post_sendgrid(callbacks, batch)).status_code == 204  # SendGrid retried
    assert await state(pool, notification_id) == delivered


async def test_sendgrid_bounce_fails_with_an_event(callbacks, pool, fake):
    account, notification_id, _ = await sent(pool, fake, "EMAIL")
    bounce = sendgrid_event(
        notification_id, "bounce", type="bounce", status="5.1.1", reason="550 5.1.1 p@example.com"
    )

    for _ in range(2):
        assert (await post_sendgrid(callbacks, [bounce])).status_code == 204
    failed = await state(pool, notification_id)
    assert (failed["status"], failed["last_error"]) == ("FAILED", "sendgrid bounce 5.1.1")
    assert len(await failed_events(pool, account)) == 1


async def test_sendgrid_event_matched_by_message_id_without_our_custom_arg(callbacks, pool, fake):
    _, notification_id, message_id = await sent(pool, fake, "EMAIL")
    event = sendgrid_event(None, "delivered", sg_message_id=f"{message_id}.filterdrecv-1.0")
    assert (await post_sendgrid(callbacks, [event])).status_code == 204
    assert (await state(pool, notification_id))["status"] == "DELIVERED"


@pytest.mark.parametrize("forgery", ["other_key", "other_body", "missing", "garbage"])
async def test_sendgrid_bad_signature_is_403_and_changes_nothing(callbacks, pool, fake, forgery):
    _, notification_id, _ = await sent(pool, fake, "EMAIL")
    before = await state(pool, notification_id)
    event = sendgrid_event(notification_id, "delivered")
    if forgery == "other_key":
        response = await post_sendgrid(
            callbacks, [event], key=ec.generate_private_key(ec.SECP256R1())
        )
    elif forgery == "other_body":
        response = await post_sendgrid(callbacks, [event], signed_body=b"[]")
    else:
        headers = {"Content-Type": "application/json"}
        if forgery == "garbage":
            headers |= {SIGNATURE: "not base64 !!", TIMESTAMP: "1"}
        response = await callbacks.post(SENDGRID_PATH, content=json.dumps([event]), headers=headers)
    assert response.status_code == 403
    assert problem_code(response) == "invalid_signature"
    assert await state(pool, notification_id) == before
    assert not await pool.fetchval(
        "SELECT count(*) FROM provider_callbacks WHERE event_key = $1", event["sg_event_id"]
    )


async def test_sendgrid_signed_but_malformed_body_is_a_400(callbacks):
    response = await post_sendgrid(callbacks, {"not": "a list"})
    assert response.status_code == 400
    assert problem_code(response) == "validation_failed"


async def test_sendgrid_fields_of_odd_types_are_ignored_not_fatal(callbacks, pool, fake):
    _, notification_id, message_id = await sent(pool, fake, "EMAIL")
    odd = {
        "event": "delivered",
        "sg_event_id": secrets.token_urlsafe(8),
        "sg_message_id": f"{message_id}.filter-1",
        "notification_id": 12345,  # not a string: read as absent, matched by message id
        "status": 550,
    }
    assert (await post_sendgrid(callbacks, [odd])).status_code == 204
    assert (await state(pool, notification_id))["status"] == "DELIVERED"
    assert (await post_sendgrid(callbacks, [odd, 7])).status_code == 400  # not all objects


async def test_a_callback_that_beats_the_worker_is_not_undone(callbacks, pool):
    account = await make_account(pool)
    async with transaction(pool) as conn:
        notification_id = await enqueue(
            conn,
            account_id=account,
            channel="EMAIL",
            to="p@example.com",
            purpose="verification_code",
            params={"practice": "P", "code": "123456"},
        )
    # as if claimed by a worker whose send SendGrid reports on before the worker records it
    await pool.execute(
        "UPDATE notifications SET status = 'SENDING', attempts = 1 WHERE id = $1",
        notification_id,
    )
    event = sendgrid_event(notification_id, "delivered")
    assert (await post_sendgrid(callbacks, [event])).status_code == 204

    await store.mark_sent(pool, notification_id, "msg-1")

    row = await pool.fetchrow("SELECT * FROM notifications WHERE id = $1", notification_id)
    assert row["status"] == "DELIVERED" and row["provider_message_id"] == "msg-1"
    assert row["sent_at"] is not None and row["params"] == {"practice": "P"}


async def test_an_unsigned_callback_cannot_write_text_into_the_logs(callbacks, caplog):
    """Finding (LOW): an unauthenticated Twilio callback naming a ~5 KB "algorithm" in
    X-Twilio-Webhooks-Signature-Settings had it written to the logs verbatim (line breaks
    included). It is refused (403) and what is logged of it is capped and sanitized."""
    planted = "algorithm=HMAC_" + "A" * 5000 + '\n{"level":"error","msg":"forged"}'
    with caplog.at_level("DEBUG"):
        r = await callbacks.post(
            "/callbacks/twilio/status",
            data={"MessageSid": "SM1", "MessageStatus": "delivered"},
            headers={
                "X-Twilio-Signature": "c2lnbmF0dXJl",
                "X-Twilio-Webhooks-Signature-Settings": planted,
            },
        )
    assert r.status_code == 403 and problem_code(r) == "invalid_signature"
    for record in caplog.records:
        text = record.getMessage() + repr(vars(record))
        assert "A" * 200 not in text, record.name
        assert "forged" not in text, record.name

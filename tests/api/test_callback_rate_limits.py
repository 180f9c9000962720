"""Provider callbacks and the rate limits. Twilio and SendGrid post from a few shared addresses,
so a callback whose signature verifies counts against its callback route's provider budget
(`SLOTPROOF_RATE_LIMIT_PROVIDER`), never against the sending IP's; anything unsigned, badly
signed or oversized counts under the IP exactly as any other request. Signatures are made with
the providers' real libraries (Twilio's RequestValidator, SendGrid's ECDSA scheme)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlencode

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sendgrid.helpers.eventwebhook import EventWebhook
from twilio.request_validator import RequestValidator

from app.config import Settings
from tests.api.test_notifications_callbacks import (
    SENDGRID_PATH,
    SENDGRID_PUBLIC,
    TWILIO_PATH,
    post_sendgrid,
    post_twilio,
    sendgrid_event,
    sending_sms,
    twilio_form,
)
from tests.api.test_rate_limits import assert_limited, remaining
from tests.fakes.providers import PUBLIC_URL, TWILIO_TOKEN
from tests.support import Limited, limited, problem_code

INBOUND_PATH = "/callbacks/twilio/inbound"
TWILIO_IPS = ("198.51.100.201", "198.51.100.202")  # as if Twilio's shared egress addresses
ATTACKER_IP = "203.0.113.66"


@asynccontextmanager
async def provider_facing(settings: Settings, **limits: int) -> AsyncIterator[Limited]:
    """An app with tiny limits that knows the providers' secrets and its public URL."""
    async with limited(
        settings,
        public_url=PUBLIC_URL,
        twilio_auth_token=TWILIO_TOKEN,
        sendgrid_webhook_public_key=SENDGRID_PUBLIC,
        **limits,
    ) as app:
        yield app


def new_sid() -> str:
    return "SM" + secrets.token_hex(16)


async def reply(client: httpx.AsyncClient, body: str = "HELP", *, token: str = TWILIO_TOKEN):
    """A signed inbound SMS, as Twilio posts it."""
    form = {
        "MessageSid": new_sid(),
        "AccountSid": "AC" + "2" * 32,
        "From": f"+1555{secrets.randbelow(10**7):07d}",
        "To": "+15005550006",
        "Body": body,
    }
    signature = RequestValidator(token).compute_signature(PUBLIC_URL + INBOUND_PATH, form)
    return await client.post(INBOUND_PATH, data=form, headers={"X-Twilio-Signature": signature})


async def test_signed_status_callbacks_from_one_ip_pass_its_limit_unsigned_ones_do_not(
    settings: Settings, pool
):
    """The 08:00 burst: more signed status callbacks from one Twilio address than one IP may
    send are all applied, while that address's unsigned requests keep exactly the IP limit."""
    notification_id = await sending_sms(pool)
    async with provider_facing(
        settings, rate_limit_ip_per_minute=3, rate_limit_provider_per_minute=100
    ) as app:
        twilio = app.client(TWILIO_IPS[0])
        for i in range(4):  # one more than the IP's budget
            r = await post_twilio(twilio, twilio_form(new_sid(), "sent"))
            assert r.status_code == 204, r.text
            assert (r.headers["ratelimit-limit"], remaining(r)) == ("100", 99 - i)
        # the fifth is a real message's delivery: applied, not lost to a 429
        r = await post_twilio(
            twilio, twilio_form(new_sid(), "delivered"), query=f"notification={notification_id}"
        )
        assert r.status_code == 204, r.text
        status = await pool.fetchval(
            "SELECT status FROM notifications WHERE id = $1", notification_id
        )
        assert status == "DELIVERED"
        # none of that touched the IP's budget: unsigned requests get exactly 3, then 429
        for left in (2, 1, 0):
            r = await twilio.post(TWILIO_PATH, data=twilio_form(new_sid(), "delivered"))
            assert r.status_code == 403 and problem_code(r) == "invalid_signature"
            assert (r.headers["ratelimit-limit"], remaining(r)) == ("3", left)
        assert_limited(await twilio.post(TWILIO_PATH, data=twilio_form(new_sid(), "sent")), 3)
        assert_limited(await twilio.get("/schema/openapi.json"), 3)
        # while the same address's signed callbacks still go through
        r = await post_twilio(twilio, twilio_form(new_sid(), "sent"))
        assert r.status_code == 204 and r.headers["ratelimit-limit"] == "100"


async def test_signed_replies_and_event_batches_pass_the_ip_limit_too(settings: Settings):
    async with provider_facing(
        settings, rate_limit_ip_per_minute=2, rate_limit_provider_per_minute=100
    ) as app:
        twilio, sendgrid = app.client(TWILIO_IPS[0]), app.client(TWILIO_IPS[1])
        for _ in range(3):
            r = await reply(twilio, "STOP")
            assert r.status_code == 200, r.text
            assert "<Message>" in r.text  # the patient's STOP was heard
            assert r.headers["ratelimit-limit"] == "100"
            batch = [sendgrid_event(None, "delivered")]
            r = await post_sendgrid(sendgrid, batch)
            assert r.status_code == 204, r.text
            assert r.headers["ratelimit-limit"] == "100"


async def test_a_signed_burst_is_held_to_its_routes_provider_budget(settings: Settings):
    """Signed callbacks are not unlimited: each callback route has a provider-wide budget, over
    every address. Inbound replies (which anyone who texts the number can cause) and status
    callbacks (which only our own sends cause) have separate ones, as does SendGrid."""
    async with provider_facing(
        settings, rate_limit_ip_per_minute=100, rate_limit_provider_per_minute=3
    ) as app:
        first, second = (app.client(ip) for ip in TWILIO_IPS)
        for i, c in enumerate((first, second, first)):
            r = await post_twilio(c, twilio_form(new_sid(), "sent"))
            assert r.status_code == 204 and remaining(r) == 2 - i
        assert_limited(await post_twilio(second, twilio_form(new_sid(), "sent")), 3)
        assert_limited(await post_twilio(first, twilio_form(new_sid(), "sent")), 3)
        # the other routes' budgets are their own
        r = await reply(first)
        assert r.status_code == 200 and (r.headers["ratelimit-limit"], remaining(r)) == ("3", 2)
        r = await post_sendgrid(second, [sendgrid_event(None, "delivered")])
        assert r.status_code == 204 and (r.headers["ratelimit-limit"], remaining(r)) == ("3", 2)
        # and the sending addresses' IP budgets were never touched
        r = await first.post(TWILIO_PATH, data=twilio_form(new_sid(), "sent"))
        assert r.status_code == 403
        assert (r.headers["ratelimit-limit"], remaining(r)) == ("100", 99)


async def _forged(c: httpx.AsyncClient, forgery: str) -> httpx.Response:
    form = twilio_form(new_sid(), "delivered")
    if forgery == "wrong_token":
        return await post_twilio(c, form, token="not-the-auth-token")
    if forgery == "wrong_url":
        return await post_twilio(c, form, url="http://internal:8000" + TWILIO_PATH)
    if forgery == "tampered":
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(
            PUBLIC_URL + TWILIO_PATH, twilio_form(form["MessageSid"], "sent")
        )
        return await c.post(TWILIO_PATH, data=form, headers={"X-Twilio-Signature": signature})
    if forgery == "garbage":
        return await c.post(TWILIO_PATH, data=form, headers={"X-Twilio-Signature": "!!"})
    if forgery == "bad_algorithm":
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC_URL + TWILIO_PATH, form)
        headers = {
            "X-Twilio-Signature": signature,
            "X-Twilio-Webhooks-Signature-Settings": "algorithm=MD5",
        }
        return await c.post(TWILIO_PATH, data=form, headers=headers)
    if forgery == "too_many_fields":  # signed, but no Twilio callback has 300 fields
        padded = form | {f"F{i}": "" for i in range(300)}
        return await post_twilio(c, padded)
    if forgery == "forged_reply":
        return await reply(c, "STOP", token="not-the-auth-token")
    if forgery == "sendgrid_other_key":
        event = sendgrid_event(None, "delivered")
        return await post_sendgrid(c, [event], key=ec.generate_private_key(ec.SECP256R1()))
    if forgery == "sendgrid_other_body":
        return await post_sendgrid(c, [sendgrid_event(None, "delivered")], signed_body=b"[]")
    assert forgery == "unsigned"
    return await c.post(TWILIO_PATH, data=form)


@pytest.mark.parametrize(
    "forgery",
    [
        "unsigned",
        "wrong_token",
        "wrong_url",
        "tampered",
        "garbage",
        "bad_algorithm",
        "too_many_fields",
        "forged_reply",
        "sendgrid_other_key",
        "sendgrid_other_body",
    ],
)
async def test_forged_callbacks_are_403_and_count_under_the_ip(settings: Settings, forgery):
    """An attacker gains nothing by hitting callback paths: a signature that does not verify (or
    a form no Twilio callback has, never checked) leaves the request anonymous, held to its IP's
    budget, and the handler refuses it."""
    async with provider_facing(
        settings, rate_limit_ip_per_minute=2, rate_limit_provider_per_minute=5
    ) as app:
        attacker = app.client(ATTACKER_IP)
        for left in (1, 0):
            r = await _forged(attacker, forgery)
            assert r.status_code == 403 and problem_code(r) == "invalid_signature"
            assert (r.headers["ratelimit-limit"], remaining(r)) == ("2", left)
        assert_limited(await _forged(attacker, forgery), 2)
        # the providers' budgets were not spent by any of it
        r = await post_twilio(app.client(TWILIO_IPS[0]), twilio_form(new_sid(), "sent"))
        assert r.status_code == 204 and (r.headers["ratelimit-limit"], remaining(r)) == ("5", 4)


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), 16 * 1024):
        yield body[start : start + 16 * 1024]


@pytest.mark.parametrize("framing", ["content_length", "chunked"])
async def test_an_oversized_callback_is_413_and_counts_under_the_ip(settings: Settings, framing):
    """A body past the callback route's bound is neither read whole nor verified, even with a
    signature that would verify: 413, counted under the IP."""
    form = twilio_form(new_sid(), "delivered", Padding="x" * 70_000)  # Twilio's are ~1 KB
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC_URL + TWILIO_PATH, form)
    body = urlencode(form).encode()
    headers = {
        "X-Twilio-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }
    async with provider_facing(
        settings, rate_limit_ip_per_minute=3, rate_limit_provider_per_minute=50
    ) as app:
        c = app.client(TWILIO_IPS[0])
        content = body if framing == "content_length" else _chunks(body)
        r = await c.post(TWILIO_PATH, content=content, headers=headers)
        assert r.status_code == 413 and problem_code(r) == "payload_too_large"
        assert (r.headers["ratelimit-limit"], remaining(r)) == ("3", 2)
        # a SendGrid body past its own (larger) bound likewise
        r = await c.post(
            SENDGRID_PATH,
            content=b"[" + b" " * (1024 * 1024) + b"]",
            headers={
                "Content-Type": "application/json",
                "X-Twilio-Email-Event-Webhook-Signature": "c2lnbmF0dXJl",
                "X-Twilio-Email-Event-Webhook-Timestamp": "1",
            },
        )
        assert r.status_code == 413 and (r.headers["ratelimit-limit"], remaining(r)) == ("3", 1)


async def test_a_callback_signature_is_checked_once(settings: Settings, monkeypatch):
    """The authentication step checks the signature and the handler acts on its verdict: one
    check per request, with the providers' own validators."""
    checks: list[str] = []
    validate, verify = RequestValidator.validate, EventWebhook.verify_signature

    def counted_validate(self, *args, **kwargs):
        checks.append("twilio")
        return validate(self, *args, **kwargs)

    def counted_verify(self, *args, **kwargs):
        checks.append("sendgrid")
        return verify(self, *args, **kwargs)

    monkeypatch.setattr(RequestValidator, "validate", counted_validate)
    monkeypatch.setattr(EventWebhook, "verify_signature", counted_verify)
    async with provider_facing(settings, rate_limit_provider_per_minute=50) as app:
        c = app.client(TWILIO_IPS[0])
        assert (await post_twilio(c, twilio_form(new_sid(), "sent"))).status_code == 204
        assert checks == ["twilio"]
        assert (await reply(c)).status_code == 200
        assert checks == ["twilio"] * 2
        assert (await post_sendgrid(c, [sendgrid_event(None, "open")])).status_code == 204
        assert checks == ["twilio"] * 2 + ["sendgrid"]
        # with no signature at all there is nothing to check: refused without a try
        assert (await c.post(TWILIO_PATH, data=twilio_form(new_sid(), "sent"))).status_code == 403
        assert checks == ["twilio"] * 2 + ["sendgrid"]

"""Inbound delivery-status callbacks from Twilio and SendGrid (no partner auth; the
providers' signatures instead).

A bad or missing signature is 403 `invalid_signature` and changes nothing. Each provider event
is applied once (provider_callbacks is the idempotency key, written in the same transaction as
the status change) and only forward: a late 'sent' never overwrites DELIVERED.
"""

from __future__ import annotations

import hashlib
import logging
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl

import asyncpg
import msgspec
from litestar import Request, post
from sendgrid.helpers.eventwebhook import EventWebhook
from twilio.request_validator import (
    HMAC_SHA1,
    HMAC_SHA256,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

from app.config import Settings
from app.core.db import transaction
from app.core.errors import Problem, invalid
from app.core.http import DbPool
from app.core.logs import loggable
from app.core.openapi import problem_responses
from app.notifications import store
from app.notifications.sendgrid_email import NOTIFICATION_ARG
from app.notifications.twilio_sms import NOTIFICATION_QUERY, STATUS_CALLBACK_PATH
from app.notifications.worker import record_failed

log = logging.getLogger("slotproof.notifications.callbacks")

TWILIO_ALGORITHMS = frozenset({HMAC_SHA1, HMAC_SHA256})
SENDGRID_EVENTS_PATH = "/callbacks/sendgrid/events"
SENDGRID_SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
SENDGRID_TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"

# provider status -> ours (statuses not listed change nothing)
TWILIO_STATUS = {
    "sent": "SENT",
    "delivered": "DELIVERED",
    "read": "DELIVERED",
    "undelivered": "FAILED",
    "failed": "FAILED",
    "canceled": "FAILED",
}
SENDGRID_STATUS = {
    "delivered": "DELIVERED",
    "bounce": "FAILED",
    "dropped": "FAILED",
    "blocked": "FAILED",
}


# 400 an unreadable body (after a valid signature), 403 a bad or missing signature
CALLBACK_PROBLEMS = problem_responses(400, 403, 429, 503)


def _forbidden() -> Problem:
    return Problem(403, "invalid_signature", "The request signature is not valid.")


class SendGridEvent(msgspec.Struct, frozen=True):
    """The fields we read from one Event Webhook event (others are ignored)."""

    key: str  # sg_event_id, else a digest of the whole event
    event: str = ""
    sg_message_id: str = ""
    notification_id: str = ""  # our custom arg, NOTIFICATION_ARG
    status: str = ""  # SMTP status for bounces, e.g. "5.1.1"


def parse_sendgrid_events(raw: bytes) -> list[SendGridEvent]:
    """Lenient per field (a field of an unexpected type reads as absent), strict on shape: a
    body that is not a JSON array of objects is a 400."""
    try:
        items = msgspec.json.decode(raw, type=list[dict[str, Any]])
    except msgspec.DecodeError:
        raise invalid("body", "expected a JSON array of SendGrid events") from None

    def text(item: dict[str, Any], name: str) -> str:
        value = item.get(name)
        return value if isinstance(value, str) else ""

    return [
        SendGridEvent(
            key=text(item, "sg_event_id")[:300] or _digest(item),
            event=text(item, "event").lower(),
            sg_message_id=text(item, "sg_message_id"),
            notification_id=text(item, NOTIFICATION_ARG),
            status=text(item, "status"),
        )
        for item in items
    ]


def _digest(item: dict[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(msgspec.json.encode(item, order="sorted")).hexdigest()


async def twilio_form(request: Request, path: str) -> dict[str, str]:
    """The form Twilio posted to `path`, once its `X-Twilio-Signature` (over our public URL,
    query included, and the form) checks out with the auth token; else 403."""
    settings: Settings = request.app.state.settings
    body = (await request.body()).decode("utf-8", "replace")
    form = dict(parse_qsl(body, keep_blank_values=True))
    signature = request.headers.get("x-twilio-signature", "")
    algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER))
    if algorithm.upper() not in TWILIO_ALGORITHMS:  # twilio would log it verbatim
        log.warning(
            "unsupported Twilio signature algorithm", extra={"algorithm": loggable(algorithm)}
        )
        raise _forbidden()
    query = request.scope.get("query_string", b"").decode("latin-1")
    url = f"{settings.public_url}{path}" + (f"?{query}" if query else "")
    token = settings.twilio_auth_token
    if not (
        token and signature and RequestValidator(token).validate(url, form, signature, algorithm)
    ):
        raise _forbidden()
    return form


@post(
    STATUS_CALLBACK_PATH,
    status_code=204,
    tags=["provider callbacks"],
    responses=CALLBACK_PROBLEMS,
    summary="Twilio message status callback",
)
async def twilio_status(request: Request, pool: DbPool) -> None:
    form = await twilio_form(request, STATUS_CALLBACK_PATH)
    query = request.scope.get("query_string", b"").decode("latin-1")
    sid = form.get("MessageSid") or form.get("SmsSid")
    provider_status = (form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
    target = TWILIO_STATUS.get(provider_status)
    if not sid or target is None:
        return
    error_code = form.get("ErrorCode", "")
    error = f"twilio {provider_status}" + (f" {error_code}" if error_code.isdigit() else "")
    await _apply(
        pool,
        "twilio",
        f"{sid}:{provider_status}"[:300],
        "SMS",
        target,
        error,
        notification_id=_our_id(dict(parse_qsl(query)).get(NOTIFICATION_QUERY, "")),
        provider_message_id=sid,
    )


@post(
    SENDGRID_EVENTS_PATH,
    status_code=204,
    tags=["provider callbacks"],
    responses=CALLBACK_PROBLEMS,
    summary="SendGrid Event Webhook",
)
async def sendgrid_events(request: Request, pool: DbPool) -> None:
    settings: Settings = request.app.state.settings
    raw = await request.body()
    signature = request.headers.get(SENDGRID_SIGNATURE, "")
    timestamp = request.headers.get(SENDGRID_TIMESTAMP, "")
    key = settings.sendgrid_webhook_public_key
    if not (key and signature and timestamp and _sendgrid_valid(key, raw, signature, timestamp)):
        raise _forbidden()
    for event in parse_sendgrid_events(raw):
        target = SENDGRID_STATUS.get(event.event)
        notification_id = _our_id(event.notification_id)
        message_id = event.sg_message_id.split(".", 1)[0] or None
        if target is None or (notification_id is None and message_id is None):
            continue
        detail = f" {event.status}" if _smtp_status(event.status) else ""
        await _apply(
            pool,
            "sendgrid",
            event.key,
            "EMAIL",
            target,
            f"sendgrid {event.event}{detail}",
            notification_id=notification_id,
            provider_message_id=message_id,
        )


async def _apply(
    pool: asyncpg.Pool,
    provider: str,
    event_key: str,
    channel: str,
    target: str,
    error: str,
    *,
    notification_id: int | None = None,
    provider_message_id: str | None = None,
) -> None:
    async with transaction(pool) as conn:
        found = await store.find_for_callback(
            conn,
            channel,
            notification_id=notification_id,
            provider_message_id=provider_message_id,
        )
        if found is None:
            # not (yet) ours to know: left unrecorded so that a retried callback can apply
            log.info("provider callback for an unknown message", extra={"provider": provider})
            return
        if not await store.remember_callback(conn, provider, event_key[:300]):
            return  # seen before: applied (or ignored) already
        changed = await store.advance(conn, found, target, error if target == "FAILED" else None)
        if changed is not None and target == "FAILED":
            await record_failed(conn, changed)
    if changed is not None:
        log.info(
            "notification status from provider",
            extra={
                "notificationId": found,
                "channel": channel,
                "purpose": changed["purpose"],
                "status": target,
                "provider": provider,
            },
        )


@lru_cache(maxsize=4)
def _sendgrid_verifier(public_key: str) -> EventWebhook | None:
    try:
        return EventWebhook(public_key)
    except (ValueError, TypeError):
        log.error("SENDGRID_WEBHOOK_PUBLIC_KEY is not a valid public key")
        return None


def _sendgrid_valid(public_key: str, raw: bytes, signature: str, timestamp: str) -> bool:
    verifier = _sendgrid_verifier(public_key)
    if verifier is None:
        return False
    try:
        return verifier.verify_signature(raw.decode("utf-8"), signature, timestamp)
    except (ValueError, TypeError):  # undecodable body or signature (binascii.Error too)
        return False


def _our_id(value: str) -> int | None:
    if value and value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    return None


def _smtp_status(value: str) -> bool:
    return 0 < len(value) <= 12 and all(c.isdigit() or c == "." for c in value)

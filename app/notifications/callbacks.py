"""Inbound delivery-status callbacks from Twilio and SendGrid (no partner auth; the
providers' signatures instead, checked once by the authentication step: app/notifications/
signatures.py; the handlers act on the request's principal).

A bad or missing signature is 403 `invalid_signature` and changes nothing; a body past the
route's bound (`TWILIO_MAX_BODY`, `SENDGRID_MAX_BODY`) is 413 and is never checked. Each
provider event is applied once (provider_callbacks is the idempotency key, written in the same
transaction as the status change) and only forward: a late 'sent' never overwrites DELIVERED.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any
from urllib.parse import parse_qsl

import asyncpg
import msgspec
from litestar import Request, post

from app.core.db import transaction
from app.core.errors import Problem, invalid
from app.core.http import RAW_QUERY, DbPool
from app.core.openapi import problem_responses
from app.core.principal import PROVIDER_CALLBACK, CallbackRoute, ProviderCallback, principal_of
from app.notifications import store
from app.notifications.sendgrid_email import NOTIFICATION_ARG
from app.notifications.signatures import SENDGRID, SENDGRID_MAX_BODY, TWILIO, TWILIO_MAX_BODY
from app.notifications.twilio_sms import NOTIFICATION_QUERY, STATUS_CALLBACK_PATH
from app.notifications.worker import record_failed

log = logging.getLogger("slotproof.notifications.callbacks")

SENDGRID_EVENTS_PATH = "/callbacks/sendgrid/events"

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


# 400 an unreadable body (after a valid signature), 403 a bad or missing signature, 413 a
# body past the route's bound
CALLBACK_PROBLEMS = problem_responses(400, 403, 413, 429, 503)


def callback_route(
    provider: str, path: str, max_body: int, *, raw_query: bool = False
) -> dict[str, Any]:
    """A callback route's decorator arguments: the provider that signs it (for the
    authentication step), its body bound, the documented problems."""
    opt: dict[str, Any] = {PROVIDER_CALLBACK: CallbackRoute(provider, path)}
    if raw_query:  # the handler reads its (signed) query string itself
        opt[RAW_QUERY] = True
    return {
        "path": path,
        "tags": ["provider callbacks"],
        "responses": CALLBACK_PROBLEMS,
        "request_max_body_size": max_body,
        "opt": opt,
    }


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


async def signed_callback(request: Request) -> ProviderCallback:
    """The request as its provider signed it, when the authentication step found the signature
    good; else 413 for a body past the route's bound, else 403."""
    callback = principal_of(request.scope).callback
    if callback is None:
        await request.body()  # Litestar refuses one past `request_max_body_size` with 413
        raise _forbidden()
    return callback


@post(
    status_code=204,
    summary="Twilio message status callback",
    # the signed callback URL carries `?notification=<id>`
    **callback_route(TWILIO, STATUS_CALLBACK_PATH, TWILIO_MAX_BODY, raw_query=True),
)
async def twilio_status(request: Request, pool: DbPool) -> None:
    form = (await signed_callback(request)).form
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
    status_code=204,
    summary="SendGrid Event Webhook",
    # providers' receivers may be configured with their own query
    **callback_route(SENDGRID, SENDGRID_EVENTS_PATH, SENDGRID_MAX_BODY, raw_query=True),
)
async def sendgrid_events(request: Request, pool: DbPool) -> None:
    raw = (await signed_callback(request)).body
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


def _our_id(value: str) -> int | None:
    if value and value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    return None


def _smtp_status(value: str) -> bool:
    return 0 < len(value) <= 12 and all(c.isdigit() or c == "." for c in value)

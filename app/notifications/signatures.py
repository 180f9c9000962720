"""The providers' signatures on their callbacks: Twilio's `X-Twilio-Signature` (HMAC with the
auth token over our public URL, query included, and the form), SendGrid's signed Event Webhook
(ECDSA with the configured public key over the timestamp and the raw body).

Checked once per request, by the authentication step (app/authentication.py), which reads the
body for it; the verdict is the request's principal, which the rate limits and the handlers
read. Nothing here refuses a request or touches the database.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import lru_cache
from urllib.parse import parse_qsl

from litestar.types import Scope
from sendgrid.helpers.eventwebhook import EventWebhook
from twilio.request_validator import (
    HMAC_SHA1,
    HMAC_SHA256,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

from app.config import Settings
from app.core.logs import loggable
from app.core.principal import CallbackRoute, header

log = logging.getLogger("slotproof.notifications.callbacks")

TWILIO = "twilio"
SENDGRID = "sendgrid"
TWILIO_SIGNATURE = b"x-twilio-signature"
TWILIO_ALGORITHMS = frozenset({HMAC_SHA1, HMAC_SHA256})
SENDGRID_SIGNATURE = b"x-twilio-email-event-webhook-signature"
SENDGRID_TIMESTAMP = b"x-twilio-email-event-webhook-timestamp"
# bodies past these are never read whole nor checked (the route answers 413): Twilio's
# callbacks are about 1 KB; SendGrid batches events up to 768 KB per post
TWILIO_MAX_BODY = 64 * 1024
SENDGRID_MAX_BODY = 1024 * 1024
# Twilio's forms have a few dozen fields (an MMS with ten media about 45); the SDK's signature
# takes time superlinear in their number (65 ms for 64 KiB of empty fields, 1.5 ms at 200), so
# a form with more is never checked, and cannot make a request over its limit costly
TWILIO_MAX_FIELDS = 200


def checkable(settings: Settings, route: CallbackRoute, scope: Scope) -> bool:
    """Whether there is a signature to check: one was sent, and we hold the secret to check it
    with. Otherwise the body is not even read: the request cannot verify."""
    if route.provider == TWILIO:
        return bool(settings.twilio_auth_token and header(scope, TWILIO_SIGNATURE))
    return bool(
        settings.sendgrid_webhook_public_key
        and header(scope, SENDGRID_SIGNATURE)
        and header(scope, SENDGRID_TIMESTAMP)
    )


def verified(
    settings: Settings, route: CallbackRoute, scope: Scope, body: bytes
) -> Mapping[str, str] | None:
    """What a signed callback says, when its signature verifies: Twilio's form fields, or an
    empty mapping for SendGrid (whose JSON body the handler reads); None when it does not."""
    if route.provider == TWILIO:
        return _twilio_form(settings, route.path, scope, body)
    key = settings.sendgrid_webhook_public_key or ""
    signature = header(scope, SENDGRID_SIGNATURE)
    timestamp = header(scope, SENDGRID_TIMESTAMP)
    return {} if _sendgrid_valid(key, body, signature, timestamp) else None


def _twilio_form(settings: Settings, path: str, scope: Scope, body: bytes) -> dict[str, str] | None:
    try:
        fields = parse_qsl(
            body.decode("utf-8", "replace"),
            keep_blank_values=True,
            max_num_fields=TWILIO_MAX_FIELDS,
        )
    except ValueError:  # more fields than any Twilio callback has
        return None
    form = dict(fields)
    signature = header(scope, TWILIO_SIGNATURE)
    raw_algorithm = header(scope, SIGNATURE_SETTINGS_HEADER.lower().encode()) or None
    algorithm = get_signature_algorithm(raw_algorithm)
    if algorithm.upper() not in TWILIO_ALGORITHMS:  # twilio would log it verbatim
        log.warning(
            "unsupported Twilio signature algorithm", extra={"algorithm": loggable(algorithm)}
        )
        return None
    query = scope.get("query_string", b"").decode("latin-1")
    url = f"{settings.public_url}{path}" + (f"?{query}" if query else "")
    token = settings.twilio_auth_token
    if token and signature and RequestValidator(token).validate(url, form, signature, algorithm):
        return form
    return None


@lru_cache(maxsize=4)
def _sendgrid_verifier(public_key: str) -> EventWebhook | None:
    try:
        return EventWebhook(public_key)
    except (ValueError, TypeError):
        log.error("SENDGRID_WEBHOOK_PUBLIC_KEY is not a valid public key")
        return None


def _sendgrid_valid(public_key: str, raw: bytes, signature: str, timestamp: str) -> bool:
    verifier = _sendgrid_verifier(public_key) if public_key else None
    if verifier is None or not (signature and timestamp):
        return False
    try:
        return verifier.verify_signature(raw.decode("utf-8"), signature, timestamp)
    except (ValueError, TypeError):  # undecodable body or signature (binascii.Error too)
        return False

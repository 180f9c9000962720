"""`Idempotency-Key` for every POST of the partner and widget APIs, as pure ASGI middleware.

Handlers know nothing of it. Applies to POST under `/partner/v2/`, `/widget/v1/` and `/fhir/r4/`
only (not `/oauth2/token`, not `/callbacks/*`); any other request passes through untouched, and
so does a POST without the header.

* Scope of a key: the caller (partner client id from a valid bearer token; for the widget, the
  `X-Widget-Key` plus its bearer attempt token) + method + path. The same key on another path or
  from another caller is unrelated. A partner request whose token does not verify passes through
  without any bookkeeping, so the guard answers 401 as usual.
* A key is 1-255 printable ASCII characters (else 400 `validation_failed`, field
  `Idempotency-Key`).
* Fingerprint: SHA-256 of method, path, query string and body; a JSON body is canonicalised
  (decoded, re-encoded with sorted keys, no insignificant whitespace) first.
* First use claims the key (`IN_FLIGHT`), runs the request, and stores the response (`DONE`)
  **before** sending it, so a client that saw the response can always get the replay.
  Then: same key + same fingerprint -> the stored status and body again, plus
  `Idempotent-Replayed: true` (a fresh `X-Request-Id`; only `Content-Type` and `Location` are
  replayed); same key while the first is running -> 409 `idempotency_key_in_flight` with
  `Retry-After: 1`; same key + different fingerprint -> 422 `idempotency_key_reused`. Two
  identical requests at once: exactly one runs.
* What is stored (as Stripe does): every completed response below 500, 4xx included; a 400 is
  replayed for that key, so a corrected request needs a new key. Not stored, so a retry runs
  again: 5xx, an exception, and the gatekeeping answers 401/403/429 (they describe the caller's
  state, not the request's result). A response over `MAX_STORED_RESPONSE` is passed through
  unstored. A request body over `MAX_BODY` with a key is refused (413).
* A claim left `IN_FLIGHT` by a crashed process is taken over by a retry with the same
  fingerprint after `IN_FLIGHT_LEASE`; the loser's late result cannot overwrite the row.
* Keys are retained 24 h (`RETENTION`) from first use; an expired row counts as absent (it is
  replaced when its key comes again) and `purge_expired` deletes them for the retention job.
* Replays skip the route's guard: a client whose grant was revoked still gets, for 24 h, the
  replay of a response it already received (Stripe behaves the same).

PHI: a stored response can hold PHI (a patient record). It lives only in the database, only for
24 h, and is never logged; log lines here carry status codes only, never keys or bodies.
Widget callers should send random keys (UUIDv4): the publishable key alone is public.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta
from http import HTTPStatus
from typing import Any

import anyio
import asyncpg
import msgspec
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from app.core import clock
from app.core.errors import PROBLEM_JSON
from app.core.requestid import accept_or_generate, current_request_id
from app.core.secrets import keyed_hash
from app.partners import tokens

log = logging.getLogger("slotproof.idempotency")

HEADER = b"idempotency-key"
REPLAYED_HEADER = (b"idempotent-replayed", b"true")
PREFIXES = ("/partner/v2/", "/widget/v1/", "/fhir/r4/")
PARTNER_PATHS = ("/partner/", "/fhir/")  # called with a partner bearer token
RETENTION = timedelta(hours=24)
IN_FLIGHT_LEASE = timedelta(minutes=5)
MAX_KEY_LENGTH = 255
MAX_BODY = 1024 * 1024
MAX_STORED_RESPONSE = 1024 * 1024
_REPLAYED_HEADERS = frozenset({b"content-type", b"location"})
_NOT_STORED = frozenset({401, 403, 429})
_CLAIM_ATTEMPTS = 3


# --- pure parts ----------------------------------------------------------------------------


def applies(method: str, path: str) -> bool:
    return method == "POST" and path.startswith(PREFIXES)


def valid_key(raw: bytes) -> bool:
    return 1 <= len(raw) <= MAX_KEY_LENGTH and all(0x20 <= b <= 0x7E for b in raw)


def canonical_body(body: bytes) -> bytes:
    """A JSON body decoded and re-encoded (sorted keys, no whitespace); anything else as is."""
    if not body:
        return body
    try:
        return msgspec.json.encode(msgspec.json.decode(body), order="sorted")
    except (msgspec.DecodeError, msgspec.EncodeError, RecursionError, ValueError):
        return body


def fingerprint(method: str, path: str, body: bytes, query: bytes = b"") -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query, canonical_body(body)):
        digest.update(len(part).to_bytes(8, "big"))  # length-prefixed: no ambiguous joins
        digest.update(part)
    return digest.hexdigest()


def normalise_path(path: str) -> str:
    return path.rstrip("/") or "/"


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str:
    return next((v for k, v in headers if k == name), b"").decode("latin-1")


def principal(
    path: str, headers: list[tuple[bytes, bytes]], secret_key: str, issuer: str
) -> str | None:
    """A keyed hash naming the caller, or None when the caller is not identified (pass through:
    the route answers 401 itself)."""
    authorization = _header(headers, b"authorization").strip()
    if path.startswith(PARTNER_PATHS):
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        try:
            claims = tokens.verify(secret_key, issuer, token.strip())
        except tokens.InvalidToken:
            return None
        identity = f"partner\x00{claims.client_id}"
    else:
        widget_key = _header(headers, b"x-widget-key").strip()
        if not widget_key:
            return None
        identity = f"widget\x00{widget_key}\x00{authorization}"
    return keyed_hash(secret_key, "idempotency-principal", identity)


def endpoint(method: str, path: str, secret_key: str) -> str:
    return keyed_hash(secret_key, "idempotency-endpoint", f"{method} {path}")


def _problem(
    status: int,
    code: str,
    detail: str,
    headers: tuple[tuple[bytes, bytes], ...] = (),
    **extra: Any,
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    body = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        "requestId": current_request_id() or accept_or_generate(None),
        **extra,
    }
    return status, [(b"content-type", PROBLEM_JSON.encode()), *headers], msgspec.json.encode(body)


async def _respond(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


# --- storage -------------------------------------------------------------------------------

_CLAIM = """
INSERT INTO idempotency_keys AS k (principal_hash, endpoint_hash, idempotency_key, fingerprint,
                                   state, lock_token, created_at, expires_at)
VALUES ($1, $2, $3, $4, 'IN_FLIGHT', $5, $6, $7)
ON CONFLICT (principal_hash, endpoint_hash, idempotency_key) DO UPDATE
    SET fingerprint = EXCLUDED.fingerprint, state = 'IN_FLIGHT',
        lock_token = EXCLUDED.lock_token, response_status = NULL, response_headers = NULL,
        response_body = NULL, created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
    WHERE k.expires_at <= $6
       OR (k.state = 'IN_FLIGHT' AND k.created_at <= $8 AND k.fingerprint = EXCLUDED.fingerprint)
RETURNING 1
"""
_EXISTING = """
SELECT fingerprint, state, response_status, response_headers, response_body
FROM idempotency_keys
WHERE principal_hash = $1 AND endpoint_hash = $2 AND idempotency_key = $3 AND expires_at > $4
"""
_STORE = """
UPDATE idempotency_keys
SET state = 'DONE', response_status = $5, response_headers = $6, response_body = $7
WHERE principal_hash = $1 AND endpoint_hash = $2 AND idempotency_key = $3 AND lock_token = $4
"""
_RELEASE = """
DELETE FROM idempotency_keys
WHERE principal_hash = $1 AND endpoint_hash = $2 AND idempotency_key = $3 AND lock_token = $4
"""


async def purge_expired(pool: asyncpg.Pool) -> int:
    """Delete expired keys (and the responses they hold); returns how many."""
    result = await pool.execute("DELETE FROM idempotency_keys WHERE expires_at <= $1", clock.now())
    return int(result.split()[-1])


class _Claim:
    """One request's hold on its key: claim it, or find what is already there."""

    def __init__(self, pool: asyncpg.Pool, ids: tuple[str, str, str], print_: str) -> None:
        self.pool = pool
        self.ids = ids
        self.fingerprint = print_
        self.token = secrets.token_hex(16)

    async def acquire(self) -> asyncpg.Record | None:
        """None when this request now owns the key; else the live row holding it."""
        for _ in range(_CLAIM_ATTEMPTS):
            now = clock.now()
            won = await self.pool.fetchval(
                _CLAIM,
                *self.ids,
                self.fingerprint,
                self.token,
                now,
                now + RETENTION,
                now - IN_FLIGHT_LEASE,
            )
            if won:
                return None
            row = await self.pool.fetchrow(_EXISTING, *self.ids, now)
            if row is not None:
                return row
            # released between the two statements (the first run failed): claim again
        return {"fingerprint": self.fingerprint, "state": "IN_FLIGHT"}  # type: ignore[return-value]

    async def store(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        kept = [[k.decode("latin-1"), v.decode("latin-1")] for k, v in headers]
        await self.pool.execute(_STORE, *self.ids, self.token, status, kept, body)

    async def release(self) -> None:
        with anyio.CancelScope(shield=True):
            try:
                await self.pool.execute(_RELEASE, *self.ids, self.token)
            except Exception as exc:  # the lease frees the key later
                log.warning("could not release an idempotency key: %s", type(exc).__name__)


# --- middleware ----------------------------------------------------------------------------


async def _read_body(receive: Receive) -> tuple[list[Message], bytes | None]:
    """All request messages, and the body, or None when over MAX_BODY or disconnected."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, None
        size += len(message.get("body", b""))
        if size > MAX_BODY:
            return messages, None
        if not message.get("more_body", False):
            return messages, b"".join(m.get("body", b"") for m in messages)


def _replaying(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class _Recorder:
    """Wraps `send`: holds the response until complete, stores it, then sends it."""

    def __init__(self, claim: _Claim, send: Send) -> None:
        self.claim = claim
        self.send = send
        self.start: Message | None = None
        self.chunks: list[bytes] = []
        self.size = 0
        self.passthrough = False
        self.settled = False

    async def __call__(self, message: Message) -> None:
        if self.passthrough:
            await self.send(message)
            return
        kind = message["type"]
        if kind == "http.response.start":
            self.start = message
            return
        if kind != "http.response.body":  # e.g. pathsend: not storable
            await self._give_up()
            await self.send(message)
            return
        self.chunks.append(message.get("body", b""))
        self.size += len(self.chunks[-1])
        more = message.get("more_body", False)
        if self.size > MAX_STORED_RESPONSE:
            body, self.chunks = b"".join(self.chunks), []
            await self._give_up()
            await self.send({"type": "http.response.body", "body": body, "more_body": more})
            return
        if more:
            return
        assert self.start is not None
        body = b"".join(self.chunks)
        await self._settle(self.start["status"], self.start.get("headers", []), body)
        await self.send(self.start)
        await self.send({"type": "http.response.body", "body": body, "more_body": False})

    async def _give_up(self) -> None:
        self.passthrough = True
        self.settled = True
        await self.claim.release()
        if self.start is not None:
            await self.send(self.start)

    async def _settle(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.settled = True
        if status >= 500 or status in _NOT_STORED:
            await self.claim.release()
            return
        kept = [(k.lower(), v) for k, v in headers if k.lower() in _REPLAYED_HEADERS]
        try:
            await self.claim.store(status, kept, body)
        except Exception as exc:
            log.warning("could not store an idempotent response: %s", type(exc).__name__)
            await self.claim.release()


def idempotency_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not applies(scope["method"], scope["path"]):
            await app(scope, receive, send)
            return
        keys = [v for k, v in scope["headers"] if k == HEADER]
        if not keys:
            await app(scope, receive, send)
            return
        state = scope["app"].state
        settings = state.settings
        path = normalise_path(scope["path"])
        who = principal(path, scope["headers"], settings.secret_key, settings.public_url)
        if who is None:
            await app(scope, receive, send)
            return
        if len(keys) > 1 or not valid_key(keys[0]):
            message = "must be 1-255 printable ASCII characters, sent once"
            await _respond(
                send,
                *_problem(
                    400,
                    "validation_failed",
                    "The request is not valid.",
                    errors=[{"field": "Idempotency-Key", "message": message}],
                ),
            )
            return
        messages, body = await _read_body(receive)
        if body is None:
            if messages[-1]["type"] == "http.request":
                await _respond(
                    send,
                    *_problem(413, "payload_too_large", "The request body is too large."),
                )
                return
            await app(scope, _replay_messages(messages, receive), send)  # client went away
            return

        method = scope["method"]
        claim = _Claim(
            state.pool,
            (who, endpoint(method, path, settings.secret_key), keys[0].decode("ascii")),
            fingerprint(method, path, body, scope.get("query_string", b"")),
        )
        existing = await claim.acquire()
        if existing is not None:
            await _answer_existing(send, existing, claim.fingerprint)
            return

        recorder = _Recorder(claim, send)
        try:
            await app(scope, _replaying(body, receive), recorder)
        finally:
            if not recorder.settled:  # raised, or never completed its response
                await claim.release()

    return middleware


def _replay_messages(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay


async def _answer_existing(send: Send, row: Any, print_: str) -> None:
    if row["fingerprint"] != print_:
        await _respond(
            send,
            *_problem(
                422,
                "idempotency_key_reused",
                "This Idempotency-Key was already used with a different request.",
            ),
        )
    elif row["state"] != "DONE":
        await _respond(
            send,
            *_problem(
                409,
                "idempotency_key_in_flight",
                "A request with this Idempotency-Key is still being processed; retry shortly.",
                ((b"retry-after", b"1"),),
                retryAfterSeconds=1,
            ),
        )
    else:
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in row["response_headers"]]
        await _respond(
            send, row["response_status"], [*headers, REPLAYED_HEADER], row["response_body"]
        )

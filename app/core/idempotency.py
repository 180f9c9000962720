"""`Idempotency-Key` for every POST of the partner and widget APIs, as pure ASGI middleware.

Handlers know nothing of it. Applies to POST under `/partner/v2/`, `/widget/v1/` and `/fhir/r4/`
only (not `/oauth2/token`, not `/callbacks/*`); any other request passes through untouched, and
so does a POST without the header.

* Scope of a key: the caller, from the request's principal (the partner client; the attempt of
  a widget attempt token; the appointment of a manage link; for an anonymous widget visitor,
  the setting plus the visitor's IP) + method + path. The same key on another path or from
  another caller is unrelated. A request whose caller is not identified, or not allowed the
  route right now (a partner whose token does not verify, whose client was deactivated, whose
  grant or scope was withdrawn), passes through without any bookkeeping, so the guard answers
  401/403 as usual and nothing stored is replayed to it.
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
* A claim dies with its claimer: each is also a PostgreSQL session-level advisory lock held
  by the claiming process (app/core/claims.py), so a retry of a request whose process was
  killed finds the lock free and takes the `IN_FLIGHT` row over at once (same fingerprint; a
  late result of the old claimer cannot overwrite it). While the claimer lives, a retry gets
  409 `idempotency_key_in_flight` with `Retry-After: 1`, which is then true: the claimer is
  working, not dead.
* Keys are retained 24 h (`RETENTION`) from first use; an expired row counts as absent (it is
  replaced when its key comes again) and `purge_expired` deletes them for the retention job.

PHI: a stored response can hold PHI (a patient record). It lives only in the database, only for
24 h, and is never logged; log lines here carry status codes only, never keys or bodies.
Widget callers should send random keys (UUIDv4): the publishable key alone is public.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta
from typing import Any

import anyio
import asyncpg
import msgspec
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from app.core import clock
from app.core.bodies import read_body, replaying
from app.core.claims import ClaimLocks, lock_key
from app.core.errors import send_problem
from app.core.principal import PARTNER_PATHS, Credential, principal_of
from app.core.secrets import keyed_hash

log = logging.getLogger("slotproof.idempotency")

HEADER = b"idempotency-key"
REPLAYED_HEADER = (b"idempotent-replayed", b"true")
PREFIXES = ("/partner/v2/", "/widget/v1/", "/fhir/r4/")
RETENTION = timedelta(hours=24)
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


def caller(scope: Scope, secret_key: str) -> str | None:
    """A keyed hash naming the caller, or None when the request passes through untouched: the
    caller is not identified, or not allowed this route (its guard or handler answers 401/403),
    so it claims nothing and no stored response is ever replayed to it."""
    principal = principal_of(scope)
    if scope["path"].startswith(PARTNER_PATHS):
        handler = scope.get("route_handler")
        needed = handler.opt.get("scope") if handler is not None else None
        account = (scope.get("path_params") or {}).get("account_id")
        if principal.partner is None or principal.partner_denial(account, needed) is not None:
            return None
        identity = f"partner\x00{principal.partner.client_id}"
    elif principal.managed is not None:
        identity = f"manage\x00{principal.managed['id']}"
    elif principal.attempt is not None:
        identity = f"attempt\x00{principal.attempt.id}"
    elif principal.setting is not None and principal.bearer is Credential.ABSENT:
        # an anonymous visitor (POST /attempt): the setting and the visitor's address, so one
        # visitor's key never answers another's request
        identity = f"visitor\x00{principal.setting['id']}\x00{principal.ip}"
    else:
        return None
    return keyed_hash(secret_key, "idempotency-principal", identity)


def endpoint(method: str, path: str, secret_key: str) -> str:
    return keyed_hash(secret_key, "idempotency-endpoint", f"{method} {path}")


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
       OR (k.state = 'IN_FLIGHT' AND k.fingerprint = EXCLUDED.fingerprint)
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
    """One request's hold on its key: claim it, or find what is already there.

    The row says what happened to a key; the claim lock (app.core.claims) says whether its
    claimer is still alive. Only the holder of the lock writes the row, so an `IN_FLIGHT` row
    whose lock is free was left by a claimer that died, and is taken over at once."""

    def __init__(
        self, pool: asyncpg.Pool, locks: ClaimLocks, ids: tuple[str, str, str], print_: str
    ) -> None:
        self.pool = pool
        self.locks = locks
        self.ids = ids
        self.lock = lock_key(*ids)
        self.locked = False
        self.fingerprint = print_
        self.token = secrets.token_hex(16)

    async def acquire(self) -> asyncpg.Record | None:
        """None when this request now owns the key; else the row holding it."""
        for _ in range(_CLAIM_ATTEMPTS):
            now = clock.now()
            if not await self.locks.try_claim(self.lock):  # a live claimer holds it
                row = await self.pool.fetchrow(_EXISTING, *self.ids, now)
                return row if row is not None else self._in_flight()
            self.locked = True
            won = await self.pool.fetchval(
                _CLAIM, *self.ids, self.fingerprint, self.token, now, now + RETENTION
            )
            if won:
                return None
            row = await self.pool.fetchrow(_EXISTING, *self.ids, now)
            await self.let_go()
            if row is not None:
                return row
            # deleted between the two statements (expired, purged): claim again
        return self._in_flight()

    def _in_flight(self) -> Any:
        """What a row being written by a live claimer amounts to."""
        return {"state": "IN_FLIGHT", "fingerprint": self.fingerprint}

    async def store(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        kept = [[k.decode("latin-1"), v.decode("latin-1")] for k, v in headers]
        await self.pool.execute(_STORE, *self.ids, self.token, status, kept, body)

    async def release(self) -> None:
        """Delete the row: the request did not complete, so a retry runs it again."""
        with anyio.CancelScope(shield=True):
            try:
                await self.pool.execute(_RELEASE, *self.ids, self.token)
            except Exception as exc:  # left IN_FLIGHT: once the lock is free, a retry takes it
                log.warning("could not release an idempotency key: %s", type(exc).__name__)

    async def let_go(self) -> None:
        if self.locked:
            self.locked = False
            with anyio.CancelScope(shield=True):
                await self.locks.release(self.lock)


# --- middleware ----------------------------------------------------------------------------


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
        who = caller(scope, settings.secret_key)
        if who is None:
            await app(scope, receive, send)
            return
        if len(keys) > 1 or not valid_key(keys[0]):
            message = "must be 1-255 printable ASCII characters, sent once"
            await send_problem(
                send,
                400,
                "validation_failed",
                "The request is not valid.",
                errors=[{"field": "Idempotency-Key", "message": message}],
            )
            return
        messages, body = await read_body(receive, MAX_BODY)
        if body is None:
            if messages[-1]["type"] == "http.request":
                await send_problem(send, 413, "payload_too_large", "The request body is too large.")
                return
            await app(scope, replaying(messages, receive), send)  # client went away
            return

        method = scope["method"]
        claim = _Claim(
            state.pool,
            state.claim_locks,
            (who, endpoint(method, path, settings.secret_key), keys[0].decode("ascii")),
            fingerprint(method, path, body, scope.get("query_string", b"")),
        )
        existing = await claim.acquire()
        if existing is not None:
            await _answer_existing(send, existing, claim.fingerprint)
            return

        recorder = _Recorder(claim, send)
        try:
            await app(scope, replaying(messages, receive), recorder)
        finally:
            if not recorder.settled:  # raised, or never completed its response
                await claim.release()
            await claim.let_go()

    return middleware


async def _answer_existing(send: Send, row: Any, print_: str) -> None:
    if row["fingerprint"] != print_:
        await send_problem(
            send,
            422,
            "idempotency_key_reused",
            "This Idempotency-Key was already used with a different request.",
        )
    elif row["state"] != "DONE":
        await send_problem(
            send,
            409,
            "idempotency_key_in_flight",
            "A request with this Idempotency-Key is still being processed; retry shortly.",
            ((b"retry-after", b"1"),),
            retryAfterSeconds=1,
        )
    else:
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in row["response_headers"]]
        headers = [
            *headers,
            REPLAYED_HEADER,
            (b"content-length", str(len(row["response_body"])).encode()),
        ]
        status = row["response_status"]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": row["response_body"], "more_body": False})

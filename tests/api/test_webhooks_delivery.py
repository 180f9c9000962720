"""Webhook fan-out and delivery over real HTTP to a local receiver: exact headers and body,
signatures checked by the `standardwebhooks` reference library, receivers that are down, slow or
redirecting, 24 h exhaustion, manual retry, racing dispatchers, the production address policy
at delivery time."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import socket
import threading
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import asyncpg
import msgspec
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app import events
from app.config import Settings
from app.core.db import transaction
from app.main import create_app
from app.webhooks import dispatcher, signing, store
from tests.support import Partner, make_partner, problem_code, running

HANG = "hang"


# --- a local receiver -----------------------------------------------------------------------


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    answered: int | None = None  # None: hung up without answering

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """A threaded HTTP server on 127.0.0.1 recording every request. It answers from a script
    (status codes, HANG, or ("redirect", status)), then 204."""

    def __init__(self, port: int = 0, hang_seconds: float = 5.0) -> None:
        self.requests: list[Received] = []
        self._script: deque[Any] = deque()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self.hang_seconds = hang_seconds
        self.server = _Server(("127.0.0.1", port), _handler(self))
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str = "/hooks") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, *answers: Any) -> None:
        with self._lock:
            self._script.extend(answers)

    def at(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def close(self) -> None:
        self._closing.set()
        self.server.shutdown()
        self.server.server_close()

    def _next(self) -> Any:
        with self._lock:
            return self._script.popleft() if self._script else None


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # racing dispatchers open dozens of connections at once


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            received = Received(
                method=self.command,
                path=self.path,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=self.rfile.read(length) if length else b"",
            )
            with receiver._lock:
                receiver.requests.append(received)
            answer = receiver._next()
            if answer == HANG:
                receiver._closing.wait(receiver.hang_seconds)
                self.close_connection = True
                return
            status, headers = 204, {}
            if isinstance(answer, tuple):  # ("redirect", 302)
                status, headers = answer[1], {"Location": "/elsewhere"}
            elif isinstance(answer, int):
                status = answer
            body = b"secret receiver diagnostics" if status >= 300 else b""
            received.answered = status
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

    return Handler


def free_port() -> int:
    """A port nothing listens on (yet)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def fast(settings: Settings) -> Settings:
    return msgspec.structs.replace(
        settings,
        webhook_timeout_seconds=1.0,
        webhook_backoff_base_seconds=1.0,
        webhook_backoff_cap_seconds=60.0,
    )


# --- helpers --------------------------------------------------------------------------------


async def create_endpoint(partner: Partner, url: str, types: list[str]) -> dict[str, Any]:
    return await partner.create("/webhook-endpoint", {"url": url, "events": types})


async def record(pool: asyncpg.Pool, account_id: int, type_: str, data: dict) -> int:
    async with transaction(pool) as conn:
        return await events.record(conn, account_id=account_id, type=type_, data=data)


async def delivery_rows(pool: asyncpg.Pool, endpoint_id: int) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT * FROM webhook_deliveries WHERE endpoint_id = $1 ORDER BY id", endpoint_id
    )


async def log(partner: Partner, endpoint_id: int) -> list[dict[str, Any]]:
    r = await partner.get(f"/webhook-endpoint/{endpoint_id}/delivery")
    assert r.status_code == 200, r.text
    return r.json()["deliveries"]


async def drain(pool, settings, now=None) -> dispatcher.PassResult:
    return await dispatcher.run_once(pool, settings, batch=100, now=now)


def signature_of(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    """Computed here independently of app.webhooks.signing."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def utc_now() -> datetime:
    return datetime.now(UTC)


# --- the exact request ----------------------------------------------------------------------


async def test_a_delivery_is_exactly_the_signed_standard_webhook(pool, partner, receiver, fast):
    endpoint = await create_endpoint(partner, receiver.url(), ["appointment.created"])
    event_id = await record(pool, partner.account_id, "appointment.created", {"appointmentId": 41})
    event = await pool.fetchrow("SELECT * FROM events WHERE id = $1", event_id)

    before = int(utc_now().timestamp())
    result = await drain(pool, fast)
    after = int(utc_now().timestamp())
    assert result.events >= 1 and result.deliveries >= 1

    [request] = receiver.at("/hooks")
    [row] = await delivery_rows(pool, endpoint["id"])
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == "slotproof-webhooks/1"
    assert request.headers["webhook-id"] == f"msg_{row['id']}"
    assert before <= int(request.headers["webhook-timestamp"]) <= after
    assert request.headers["webhook-signature"] == signature_of(
        endpoint["secret"],
        request.headers["webhook-id"],
        request.headers["webhook-timestamp"],
        request.body,
    )
    expected_body = (
        b'{"type":"appointment.created","timestamp":"'
        + event["created_at"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ").encode()
        + b'","data":{"appointmentId":41}}'
    )
    assert request.body == expected_body
    assert bytes(row["payload"]) == expected_body

    # the reference implementation accepts it and yields the body
    verified = Webhook(endpoint["secret"]).verify(request.body, request.headers)
    assert verified == {
        "type": "appointment.created",
        "timestamp": event["created_at"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "data": {"appointmentId": 41},
    }
    # and refuses it with another endpoint's secret or a changed body
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.generate_secret()).verify(request.body, request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint["secret"]).verify(request.body.replace(b"41", b"42"), request.headers)

    [entry] = await log(partner, endpoint["id"])
    assert entry["id"] == row["id"]
    assert entry["eventId"] == event_id
    assert entry["eventType"] == "appointment.created"
    assert entry["status"] == "DELIVERED"
    assert entry["attempts"] == 1
    assert entry["lastStatusCode"] == 204
    assert entry["lastError"] is None
    assert entry["nextAttemptAt"] is None
    assert datetime.fromisoformat(entry["deliveredAt"]) >= datetime.fromisoformat(
        entry["createdAt"]
    )
    assert set(entry) == {
        "id",
        "eventId",
        "eventType",
        "status",
        "attempts",
        "lastStatusCode",
        "lastError",
        "createdAt",
        "deliveredAt",
        "nextAttemptAt",
    }
    assert await pool.fetchval("SELECT fanned_out_at FROM events WHERE id = $1", event_id)

    # nothing more: the event fanned out once, the delivery is settled
    await drain(pool, fast)
    await drain(pool, fast, now=utc_now() + timedelta(days=2))
    assert len(receiver.at("/hooks")) == 1
    assert len(await delivery_rows(pool, endpoint["id"])) == 1


async def test_every_subscribed_endpoint_gets_its_own_signed_copy(pool, partner, receiver, fast):
    first = await create_endpoint(partner, receiver.url("/a"), ["attempt.started"])
    second = await create_endpoint(
        partner, receiver.url("/b"), ["attempt.started", "attempt.verified"]
    )
    await record(pool, partner.account_id, "attempt.started", {"attemptId": 7})
    await record(pool, partner.account_id, "attempt.verified", {"attemptId": 7})
    await drain(pool, fast)

    [to_a] = receiver.at("/a")
    # concurrent posts: no order is promised between messages
    to_b = sorted(receiver.at("/b"), key=lambda r: r.json["type"])
    assert [r.json["type"] for r in to_b] == ["attempt.started", "attempt.verified"]
    assert to_a.body == to_b[0].body  # same event, same bytes
    assert to_a.headers["webhook-id"] != to_b[0].headers["webhook-id"]
    Webhook(first["secret"]).verify(to_a.body, to_a.headers)
    for request in to_b:
        Webhook(second["secret"]).verify(request.body, request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(first["secret"]).verify(to_b[0].body, to_b[0].headers)


# --- who receives what ----------------------------------------------------------------------


async def test_unsubscribed_types_produce_no_delivery(pool, partner, receiver, fast):
    endpoint = await create_endpoint(partner, receiver.url(), ["appointment.cancelled"])
    for type_ in events.EVENT_TYPES:
        if type_ != "appointment.cancelled":
            await record(pool, partner.account_id, type_, {"n": 1})
    await drain(pool, fast)
    assert receiver.requests == []
    assert await delivery_rows(pool, endpoint["id"]) == []
    assert await log(partner, endpoint["id"]) == []

    await record(pool, partner.account_id, "appointment.cancelled", {"appointmentId": 3})
    await drain(pool, fast)
    assert [r.json["type"] for r in receiver.requests] == ["appointment.cancelled"]


async def test_other_accounts_endpoints_never_receive(pool, client, partner, receiver, fast):
    other = await make_partner(client, pool)
    mine = await create_endpoint(partner, receiver.url("/mine"), list(events.EVENT_TYPES))
    theirs = await create_endpoint(other, receiver.url("/theirs"), list(events.EVENT_TYPES))
    await record(pool, partner.account_id, "appointment.created", {"appointmentId": 1})
    await record(pool, partner.account_id, "notification.failed", {"notificationId": 2})
    await drain(pool, fast)

    assert sorted((r.json["type"], r.json["data"]) for r in receiver.at("/mine")) == [
        ("appointment.created", {"appointmentId": 1}),
        ("notification.failed", {"notificationId": 2}),
    ]
    assert receiver.at("/theirs") == []
    assert len(await delivery_rows(pool, mine["id"])) == 2
    assert await delivery_rows(pool, theirs["id"]) == []
    # and the other account cannot read this account's log
    r = await other.get(f"/webhook-endpoint/{mine['id']}/delivery")
    assert r.status_code == 404
    assert problem_code(r) == "not_found"


async def test_an_endpoint_receives_only_events_after_its_creation(pool, partner, receiver, fast):
    await record(pool, partner.account_id, "attempt.abandoned", {"attemptId": 1})
    await drain(pool, fast)  # fanned out while no endpoint exists
    await record(pool, partner.account_id, "attempt.abandoned", {"attemptId": 2})
    endpoint = await create_endpoint(partner, receiver.url(), ["attempt.abandoned"])
    await record(pool, partner.account_id, "attempt.abandoned", {"attemptId": 3})
    await drain(pool, fast)
    # event 2 was waiting when the endpoint appeared, but happened before it: not delivered
    assert [r.json["data"]["attemptId"] for r in receiver.requests] == [3]
    assert len(await delivery_rows(pool, endpoint["id"])) == 1


# --- failures and recovery ------------------------------------------------------------------


async def test_a_receiver_answering_500_gets_the_event_later_exactly_once(
    pool, partner, receiver, fast
):
    endpoint = await create_endpoint(partner, receiver.url(), ["appointment.rescheduled"])
    await record(pool, partner.account_id, "appointment.rescheduled", {"appointmentId": 9})
    receiver.answer(500, 502)
    start = utc_now()

    await drain(pool, fast, now=start)
    [entry] = await log(partner, endpoint["id"])
    assert entry["status"] == "PENDING"
    assert entry["attempts"] == 1
    assert entry["lastStatusCode"] == 500
    assert entry["lastError"] == "HTTP 500"  # never the receiver's body
    assert entry["deliveredAt"] is None
    due = datetime.fromisoformat(entry["nextAttemptAt"])
    assert start <= due <= start + timedelta(seconds=1.001)  # backoff base 1 s, full jitter

    # not due again before its backoff ran out
    await drain(pool, fast, now=start - timedelta(seconds=1))
    assert len(receiver.requests) == 1

    await drain(pool, fast, now=start + timedelta(minutes=1))
    [entry] = await log(partner, endpoint["id"])
    assert (entry["status"], entry["attempts"], entry["lastStatusCode"]) == ("PENDING", 2, 502)
    assert start + timedelta(minutes=1) <= datetime.fromisoformat(entry["nextAttemptAt"])

    later = start + timedelta(hours=1)
    await drain(pool, fast, now=later)
    [entry] = await log(partner, endpoint["id"])
    assert (entry["status"], entry["attempts"], entry["lastStatusCode"]) == ("DELIVERED", 3, 204)
    assert entry["lastError"] is None
    assert datetime.fromisoformat(entry["deliveredAt"]) == later

    for _ in range(2):
        await drain(pool, fast, now=later + timedelta(hours=3))
    answers = [r.answered for r in receiver.requests]
    assert answers == [500, 502, 204]  # exactly one success, no send after it
    # one message: the same id and body each time; each attempt signed at its own time
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1
    assert len({r.body for r in receiver.requests}) == 1
    stamps = [int(r.headers["webhook-timestamp"]) for r in receiver.requests]
    assert stamps == [
        int(start.timestamp()),
        int((start + timedelta(minutes=1)).timestamp()),
        int(later.timestamp()),
    ]
    for request, stamp in zip(receiver.requests, stamps, strict=True):
        assert signing.verify(endpoint["secret"], request.headers, request.body, now=stamp)


async def test_a_receiver_that_is_down_gets_the_event_once_it_is_back(pool, partner, fast):
    port = free_port()
    endpoint = await create_endpoint(
        partner, f"http://127.0.0.1:{port}/down", ["appointment.created"]
    )
    await record(pool, partner.account_id, "appointment.created", {"appointmentId": 5})
    start = utc_now()
    await drain(pool, fast, now=start)
    [entry] = await log(partner, endpoint["id"])
    assert (entry["status"], entry["attempts"]) == ("PENDING", 1)
    assert entry["lastStatusCode"] is None
    assert entry["lastError"] == "connect error"

    back = Receiver(port=port)
    try:
        await drain(pool, fast, now=start + timedelta(minutes=5))
        await drain(pool, fast, now=start + timedelta(hours=2))
        [request] = back.at("/down")
        assert request.json == {
            "type": "appointment.created",
            "timestamp": request.json["timestamp"],
            "data": {"appointmentId": 5},
        }
        assert request.headers["webhook-signature"] == signature_of(
            endpoint["secret"],
            request.headers["webhook-id"],
            request.headers["webhook-timestamp"],
            request.body,
        )
    finally:
        back.close()
    [entry] = await log(partner, endpoint["id"])
    assert (entry["status"], entry["attempts"], entry["lastStatusCode"]) == ("DELIVERED", 2, 204)


async def test_a_receiver_that_does_not_answer_in_time_is_retried(pool, partner, fast):
    slow = Receiver(hang_seconds=5.0)
    try:
        endpoint = await create_endpoint(partner, slow.url(), ["attempt.started"])
        await record(pool, partner.account_id, "attempt.started", {"attemptId": 11})
        slow.answer(HANG)
        quick = msgspec.structs.replace(fast, webhook_timeout_seconds=0.3)
        start = utc_now()
        loop = asyncio.get_running_loop()
        began = loop.time()
        await drain(pool, quick, now=start)
        assert loop.time() - began < 3.0  # the timeout, not the receiver, ended the attempt
        [entry] = await log(partner, endpoint["id"])
        assert (entry["status"], entry["lastError"], entry["lastStatusCode"]) == (
            "PENDING",
            "timeout",
            None,
        )
        await drain(pool, quick, now=start + timedelta(minutes=5))
        assert [r.answered for r in slow.requests] == [None, 204]
        [entry] = await log(partner, endpoint["id"])
        assert (entry["status"], entry["attempts"]) == ("DELIVERED", 2)
    finally:
        slow.close()


async def test_redirects_are_not_followed_and_count_as_failures(pool, partner, receiver, fast):
    endpoint = await create_endpoint(partner, receiver.url("/moved"), ["attempt.verified"])
    await record(pool, partner.account_id, "attempt.verified", {"attemptId": 4})
    receiver.answer(("redirect", 302), ("redirect", 307))
    start = utc_now()
    await drain(pool, fast, now=start)
    [entry] = await log(partner, endpoint["id"])
    assert entry["status"] == "PENDING"
    assert entry["lastStatusCode"] == 302
    assert entry["lastError"] == "HTTP 302 (redirects are not followed)"
    assert [r.path for r in receiver.requests] == ["/moved"]  # /elsewhere never asked
    await drain(pool, fast, now=start + timedelta(minutes=5))
    await drain(pool, fast, now=start + timedelta(hours=2))
    assert [r.path for r in receiver.requests] == ["/moved", "/moved", "/moved"]
    assert [r.answered for r in receiver.requests] == [302, 307, 204]


async def test_after_24_hours_of_failures_the_delivery_is_failed(pool, partner, receiver, fast):
    endpoint = await create_endpoint(partner, receiver.url(), ["notification.failed"])
    await record(pool, partner.account_id, "notification.failed", {"notificationId": 8})
    receiver.answer(*([503] * 10))
    start = utc_now()
    await drain(pool, fast, now=start)
    [row] = await delivery_rows(pool, endpoint["id"])
    assert row["give_up_at"] == row["created_at"] + timedelta(hours=24)
    assert row["created_at"] == start

    # the last retry of the window is due at its end, never after
    await drain(pool, fast, now=start + timedelta(hours=23, minutes=59, seconds=30))
    [entry] = await log(partner, endpoint["id"])
    assert (entry["status"], entry["attempts"]) == ("PENDING", 2)
    due = datetime.fromisoformat(entry["nextAttemptAt"])
    assert start + timedelta(hours=23, minutes=59, seconds=30) <= due <= start + timedelta(hours=24)

    await drain(pool, fast, now=start + timedelta(hours=24))
    [entry] = await log(partner, endpoint["id"])
    assert entry["status"] == "FAILED"
    assert entry["attempts"] == 3
    assert entry["lastStatusCode"] == 503
    assert entry["lastError"] == "HTTP 503"
    assert entry["nextAttemptAt"] is None
    assert entry["deliveredAt"] is None

    await drain(pool, fast, now=start + timedelta(days=3))
    assert [r.answered for r in receiver.requests] == [503, 503, 503]


async def test_a_dispatcher_that_died_after_claiming_is_replaced_once_its_lease_ends(
    pool, partner, receiver, fast
):
    endpoint = await create_endpoint(partner, receiver.url(), ["appointment.created"])
    await record(pool, partner.account_id, "appointment.created", {"appointmentId": 6})
    start = utc_now()
    await dispatcher.fan_out(pool, fast, now=start)
    async with transaction(pool) as conn:  # a dispatcher claims ... and dies
        claimed = await store.claim_due(conn, limit=100, lease_seconds=60, now=start)
    assert endpoint["id"] in {r["endpoint_id"] for r in claimed}

    await drain(pool, fast, now=start + timedelta(seconds=30))  # lease still running
    assert receiver.requests == []
    [entry] = await log(partner, endpoint["id"])
    assert entry["status"] == "PENDING"  # SENDING is shown as PENDING

    await drain(pool, fast, now=start + timedelta(seconds=61))
    assert len(receiver.requests) == 1
    [entry] = await log(partner, endpoint["id"])
    assert (entry["status"], entry["attempts"]) == ("DELIVERED", 2)


# --- concurrency ------------------------------------------------------------------------------


async def test_racing_dispatchers_fan_out_each_event_once_and_send_it_once(
    pool, partner, receiver, fast
):
    await drain(pool, fast)  # nothing else waiting
    endpoint = await create_endpoint(partner, receiver.url(), ["attempt.started"])
    for n in range(30):
        await record(pool, partner.account_id, "attempt.started", {"attemptId": n})

    async def fan_out_all() -> int:
        total = 0
        while (count := await dispatcher.fan_out(pool, fast, batch=4)) > 0:
            total += count
        return total

    counts = await asyncio.gather(*(fan_out_all() for _ in range(5)))
    assert sum(counts) == 30
    assert len(await delivery_rows(pool, endpoint["id"])) == 30

    results = await asyncio.gather(*(dispatcher.run_once(pool, fast, batch=7) for _ in range(6)))
    while (await drain(pool, fast)).deliveries:
        pass
    assert all(r.answered == 204 for r in receiver.requests)
    assert sum(r.deliveries for r in results) <= 30
    ids = sorted(r.json["data"]["attemptId"] for r in receiver.requests)
    assert ids == list(range(30))  # every event once, none twice
    assert {e["status"] for e in await log(partner, endpoint["id"])} == {"DELIVERED"}


# --- manual retry and deletion ----------------------------------------------------------------


async def test_manual_retry_requeues_a_delivery(pool, client, partner, receiver, fast):
    endpoint = await create_endpoint(partner, receiver.url(), ["appointment.cancelled"])
    await record(pool, partner.account_id, "appointment.cancelled", {"appointmentId": 12})
    receiver.answer(*([500] * 3))
    start = utc_now()
    await drain(pool, fast, now=start)
    await drain(pool, fast, now=start + timedelta(hours=25))
    [entry] = await log(partner, endpoint["id"])
    assert entry["status"] == "FAILED"
    delivery_id = entry["id"]

    r = await partner.post(f"/webhook-endpoint/{endpoint['id']}/delivery/{delivery_id}/retry")
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["id"] == delivery_id
    assert body["status"] == "PENDING"
    assert body["attempts"] == 2
    assert body["nextAttemptAt"] is not None
    row = (await delivery_rows(pool, endpoint["id"]))[0]
    assert row["give_up_at"] >= row["next_attempt_at"] + timedelta(hours=23, minutes=59)

    # due at once: the next pass delivers it (the receiver now answers 500 once more, then 204)
    await drain(pool, fast)
    assert [r.answered for r in receiver.requests] == [500, 500, 500]
    await drain(pool, fast, now=utc_now() + timedelta(minutes=2))
    [entry] = await log(partner, endpoint["id"])
    assert (entry["status"], entry["attempts"], entry["lastStatusCode"]) == ("DELIVERED", 4, 204)

    # a delivered one may be sent again on request, with the same webhook-id
    r = await partner.post(f"/webhook-endpoint/{endpoint['id']}/delivery/{delivery_id}/retry")
    assert r.status_code == 202
    assert r.json()["status"] == "PENDING"
    assert r.json()["deliveredAt"] is None
    await drain(pool, fast, now=utc_now() + timedelta(minutes=3))
    assert [r.answered for r in receiver.requests] == [500, 500, 500, 204, 204]
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1
    [entry] = await log(partner, endpoint["id"])
    assert (entry["status"], entry["attempts"]) == ("DELIVERED", 5)

    # unknown ids, another endpoint's delivery, another account's endpoint: 404
    other_endpoint = await create_endpoint(partner, receiver.url("/x"), ["attempt.started"])
    for path in (
        f"/webhook-endpoint/{endpoint['id']}/delivery/{delivery_id + 10**9}/retry",
        f"/webhook-endpoint/{other_endpoint['id']}/delivery/{delivery_id}/retry",
        f"/webhook-endpoint/{10**12}/delivery/{delivery_id}/retry",
    ):
        r = await partner.post(path)
        assert r.status_code == 404, path
        assert problem_code(r) == "not_found"
    other = await make_partner(client, pool)
    r = await other.post(f"/webhook-endpoint/{endpoint['id']}/delivery/{delivery_id}/retry")
    assert r.status_code == 404
    assert problem_code(r) == "not_found"
    [entry] = await log(partner, endpoint["id"])
    assert entry["status"] == "DELIVERED"  # none of those touched it


async def test_a_deleted_endpoint_receives_nothing_more(pool, partner, receiver, fast):
    endpoint = await create_endpoint(partner, receiver.url(), ["appointment.created"])
    await record(pool, partner.account_id, "appointment.created", {"appointmentId": 1})
    receiver.answer(500)
    start = utc_now()
    await drain(pool, fast, now=start)
    assert len(receiver.requests) == 1

    r = await partner.delete(f"/webhook-endpoint/{endpoint['id']}")
    assert r.status_code == 204
    await record(pool, partner.account_id, "appointment.created", {"appointmentId": 2})
    await drain(pool, fast, now=start + timedelta(hours=1))
    assert len(receiver.requests) == 1
    assert await delivery_rows(pool, endpoint["id"]) == []
    r = await partner.get(f"/webhook-endpoint/{endpoint['id']}/delivery")
    assert r.status_code == 404


# --- production address policy at delivery time -------------------------------------------------


async def test_production_refuses_at_delivery_time_without_connecting(
    pool, partner, receiver, fast
):
    """An endpoint whose address became private (DNS rebinding) is not contacted."""
    endpoint = await create_endpoint(partner, receiver.url(), ["attempt.started"])
    await record(pool, partner.account_id, "attempt.started", {"attemptId": 1})
    production = msgspec.structs.replace(fast, env="production")
    start = utc_now()
    await dispatcher.run_once(pool, production, batch=100, now=start)
    assert receiver.requests == []
    [entry] = await log(partner, endpoint["id"])
    assert entry["status"] == "PENDING"
    assert entry["lastStatusCode"] is None
    assert entry["lastError"] == "url_not_allowed: the host resolves to a loopback address"

    # the same delivery goes out from a development dispatcher
    await drain(pool, fast, now=start + timedelta(hours=1))
    assert len(receiver.requests) == 1


async def test_production_rechecks_a_hostname_that_now_resolves_privately(
    database_url, settings, pool, client, receiver
):
    """Created while the name resolved publicly; by delivery time it points at 127.0.0.1."""
    answers = {"hooks.partner.example": ["93.184.216.34"]}

    async def fake_resolve(host: str, port: int):
        import ipaddress

        return [ipaddress.ip_address(a) for a in answers[host]]

    production = msgspec.structs.replace(settings, env="production", in_process_worker=False)
    app = create_app(production)
    async with running(app):
        app.state.webhook_resolver = fake_resolve
        partner = await make_partner(client, pool)
        prod = Partner(
            _client_for(app), partner.account_id, partner.client_id, partner.secret, partner.token
        )
        async with prod.http:
            url = f"https://hooks.partner.example:{receiver.port}/hooks"
            endpoint = await create_endpoint(prod, url, ["appointment.created"])
            await record(pool, partner.account_id, "appointment.created", {"appointmentId": 2})
            answers["hooks.partner.example"] = ["127.0.0.1"]
            await dispatcher.run_once(pool, production, batch=100, resolve=fake_resolve)
            [entry] = await log(prod, endpoint["id"])
    assert receiver.requests == []
    assert entry["lastError"] == "url_not_allowed: the host resolves to a loopback address"


def _client_for(app):
    import httpx

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def test_production_connects_to_the_checked_address_with_the_original_host(
    pool, partner, receiver, fast, monkeypatch
):
    """The request goes to the address that passed the check (not to a fresh DNS answer), with
    the endpoint's host in `Host`; an address that refuses the connection falls through to the
    next checked one. (Loopback is allowed here only to have something local to connect to.)"""
    from app.webhooks import urls

    endpoint = await create_endpoint(
        partner, f"http://hooks.partner.example:{receiver.port}/pinned", ["attempt.started"]
    )
    await record(pool, partner.account_id, "attempt.started", {"attemptId": 77})
    asked = []

    async def resolve(host: str, port: int):
        import ipaddress

        asked.append((host, port))
        return [ipaddress.ip_address("::1"), ipaddress.ip_address("127.0.0.1")]

    monkeypatch.setattr(urls, "refusal", lambda address: None)
    production = msgspec.structs.replace(fast, env="production")
    await dispatcher.run_once(pool, production, batch=100, resolve=resolve)
    [request] = receiver.at("/pinned")
    assert request.headers["host"] == f"hooks.partner.example:{receiver.port}"
    # deliveries other tests left pending may be resolved in the same pass: look at ours only
    ours = [a for a in asked if a[1] == receiver.port]
    assert ours == [("hooks.partner.example", receiver.port)]
    Webhook(endpoint["secret"]).verify(request.body, request.headers)
    [entry] = await log(partner, endpoint["id"])
    assert (entry["status"], entry["attempts"]) == ("DELIVERED", 1)

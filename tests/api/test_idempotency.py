"""Idempotency-Key on partner POSTs (contract: Self-scheduling attempt, Errors)."""

from __future__ import annotations

import asyncio
import json
import secrets
from http import HTTPStatus

import httpx
import msgspec
import pytest

from app.config import Settings
from app.core.idempotency import purge_expired
from app.main import create_app
from app.partners.scopes import SCHEDULING
from app.partners.store import create_client
from app.practice import store as practice_store
from tests.support import Partner, fetch_token, make_partner, problem_code, running


def _key() -> str:
    return "key-" + secrets.token_hex(8)


def _body(name: str = "Downtown") -> dict:
    return {"name": name, "timeZone": "America/Chicago"}


def _idem(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


async def _locations(pool, account_id: int) -> int:
    return await pool.fetchval("SELECT count(*) FROM locations WHERE account_id = $1", account_id)


async def _rows(pool, key: str) -> list:
    return await pool.fetch(
        "SELECT state, response_status FROM idempotency_keys WHERE idempotency_key = $1", key
    )


def _replayed(response) -> bool:
    return response.headers.get("idempotent-replayed") == "true"


async def test_replay_returns_the_first_response_and_creates_one_row(partner: Partner, pool):
    key = _key()
    first = await partner.post("/location", json=_body(), headers=_idem(key))
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    again = await partner.post("/location", json=_body(), headers=_idem(key))
    assert again.status_code == 201
    assert _replayed(again)
    assert again.content == first.content
    assert again.headers["content-type"] == first.headers["content-type"]
    assert again.headers["x-request-id"] != first.headers["x-request-id"]
    # the same JSON with other whitespace and key order is the same request
    raw = '{ "timeZone" : "America/Chicago",\n "name": "Downtown" }'
    third = await partner.post(
        "/location", content=raw, headers={**_idem(key), "Content-Type": "application/json"}
    )
    assert third.status_code == 201 and _replayed(third)
    assert third.json() == first.json()
    assert await _locations(pool, partner.account_id) == 1
    assert [tuple(r) for r in await _rows(pool, key)] == [("DONE", 201)]


async def test_reused_key_with_another_body_is_422(partner: Partner, pool):
    key = _key()
    assert (await partner.post("/location", json=_body(), headers=_idem(key))).status_code == 201
    r = await partner.post("/location", json=_body("Uptown"), headers=_idem(key))
    assert r.status_code == 422
    assert problem_code(r) == "idempotency_key_reused"
    problem = r.json()
    assert set(problem) == {"type", "title", "status", "detail", "code", "requestId"}
    assert problem["status"] == 422 and problem["title"] == HTTPStatus(422).phrase
    assert problem["requestId"] == r.headers["x-request-id"]
    # a query string is part of the request too
    r = await partner.post("/location?x=1", json=_body(), headers=_idem(key))
    assert problem_code(r) == "idempotency_key_reused"
    assert await _locations(pool, partner.account_id) == 1


async def test_same_key_on_another_path_is_independent(partner: Partner, pool):
    key = _key()
    loc = await partner.post("/location", json=_body(), headers=_idem(key))
    doc = await partner.post(
        "/practitioner", json={"firstName": "Ann", "lastName": "Lee"}, headers=_idem(key)
    )
    assert (loc.status_code, doc.status_code) == (201, 201), doc.text
    assert not _replayed(loc) and not _replayed(doc)
    assert len(await _rows(pool, key)) == 2


async def test_same_key_from_another_client_is_independent(partner: Partner, client, pool):
    async with pool.acquire() as conn:
        other_id, secret = await create_client(
            conn, "other partner", ["config", SCHEDULING], [partner.account_id]
        )
    other_token = await fetch_token(client, other_id, secret)
    key = _key()
    a = await partner.post("/location", json=_body(), headers=_idem(key))
    b = await partner.post("/location", json=_body(), headers=_idem(key), token=other_token)
    assert (a.status_code, b.status_code) == (201, 201)
    assert not _replayed(b)
    assert a.json()["id"] != b.json()["id"]
    assert await _locations(pool, partner.account_id) == 2
    # a fresh token for the first client is still the same caller
    token = await fetch_token(client, partner.client_id, partner.secret)
    c = await partner.post("/location", json=_body(), headers=_idem(key), token=token)
    assert _replayed(c) and c.json() == a.json()


async def test_concurrent_identical_requests_run_once(partner: Partner, pool):
    key = _key()
    responses = await asyncio.gather(
        *(partner.post("/location", json=_body(), headers=_idem(key)) for _ in range(20))
    )
    originals = [r for r in responses if r.status_code == 201 and not _replayed(r)]
    replays = [r for r in responses if r.status_code == 201 and _replayed(r)]
    in_flight = [r for r in responses if r.status_code == 409]
    assert len(originals) == 1
    assert len(originals) + len(replays) + len(in_flight) == 20
    assert all(problem_code(r) == "idempotency_key_in_flight" for r in in_flight)
    assert all(r.headers["retry-after"] == "1" for r in in_flight)
    assert all(r.content == originals[0].content for r in replays)
    assert await _locations(pool, partner.account_id) == 1


@pytest.mark.parametrize(
    "key", [b"", b"x" * 256, "caf\u00e9".encode(), b"tab\there", b"bell\x07"], ids=repr
)
async def test_invalid_key_is_400(partner: Partner, pool, key: bytes):
    r = await partner.post("/location", json=_body(), headers={"Idempotency-Key": key})
    assert r.status_code == 400
    assert problem_code(r) == "validation_failed"
    assert r.json()["errors"] == [
        {
            "field": "Idempotency-Key",
            "message": "must be 1-255 printable ASCII characters, sent once",
        }
    ]
    assert r.json()["requestId"] == r.headers["x-request-id"]
    assert await _locations(pool, partner.account_id) == 0


async def test_longest_key_is_accepted(partner: Partner):
    r = await partner.post("/location", json=_body(), headers=_idem("k" * 255))
    assert r.status_code == 201


async def test_4xx_is_stored_and_replayed(partner: Partner, pool):
    """Like Stripe: a 4xx result is that key's answer for 24 h; a fixed request needs a new
    key (the fixed body under the old key is a different request: 422)."""
    key = _key()
    bad = {"name": "", "timeZone": "America/Chicago"}
    first = await partner.post("/location", json=bad, headers=_idem(key))
    assert first.status_code == 400 and problem_code(first) == "validation_failed"
    again = await partner.post("/location", json=bad, headers=_idem(key))
    assert again.status_code == 400 and _replayed(again)
    assert again.content == first.content  # the original requestId included
    assert again.headers["content-type"].startswith("application/problem+json")
    fixed = await partner.post("/location", json=_body(), headers=_idem(key))
    assert problem_code(fixed) == "idempotency_key_reused"
    assert (await partner.post("/location", json=_body(), headers=_idem(_key()))).status_code == 201


async def test_unmatched_routes_are_left_alone(partner: Partner, pool):
    # unknown routes and wrong methods never reach route middleware: nothing to store
    key = _key()
    for _ in range(2):
        r = await partner.post("/location/1/nothing", json={}, headers=_idem(key))
        assert r.status_code == 404 and not _replayed(r)
    assert await _rows(pool, key) == []


async def test_5xx_is_not_stored_so_a_retry_runs(partner: Partner, pool, monkeypatch):
    key = _key()

    async def broken(*args, **kwargs):
        raise RuntimeError("database on fire")

    with monkeypatch.context() as m:
        m.setattr(practice_store.locations, "insert", broken)
        r = await partner.post("/location", json=_body(), headers=_idem(key))
    assert r.status_code == 500
    assert await _rows(pool, key) == []
    retry = await partner.post("/location", json=_body(), headers=_idem(key))
    assert retry.status_code == 201 and not _replayed(retry)
    assert await _locations(pool, partner.account_id) == 1


async def test_in_flight_is_409_then_replayed(partner: Partner, pool, monkeypatch):
    key = _key()
    entered, release = asyncio.Event(), asyncio.Event()
    original = practice_store.locations.insert

    async def slow(*args, **kwargs):
        entered.set()
        await release.wait()
        return await original(*args, **kwargs)

    monkeypatch.setattr(practice_store.locations, "insert", slow)
    first = asyncio.create_task(partner.post("/location", json=_body(), headers=_idem(key)))
    await asyncio.wait_for(entered.wait(), 5)
    busy = await partner.post("/location", json=_body(), headers=_idem(key))
    assert busy.status_code == 409
    assert problem_code(busy) == "idempotency_key_in_flight"
    assert busy.headers["retry-after"] == "1"
    assert busy.json()["retryAfterSeconds"] == 1
    assert busy.json()["requestId"] == busy.headers["x-request-id"]
    # a different body under the running key is a reuse, not a wait
    other = await partner.post("/location", json=_body("Other"), headers=_idem(key))
    assert problem_code(other) == "idempotency_key_reused"
    release.set()
    done = await first
    assert done.status_code == 201 and not _replayed(done)
    replay = await partner.post("/location", json=_body(), headers=_idem(key))
    assert _replayed(replay) and replay.content == done.content
    assert await _locations(pool, partner.account_id) == 1


async def test_a_dead_claimers_key_is_taken_over_and_its_late_result_discarded(
    app, partner: Partner, pool, settings: Settings, monkeypatch
):
    """A claim lives as long as its claimer's claim-lock session: while it lives, another
    instance gets 409 with `Retry-After: 1`; once that session is gone (the process killed),
    the other instance takes the key over at once. Should the first request still finish, it
    cannot overwrite the new owner's result."""
    key = _key()
    entered, release = asyncio.Event(), asyncio.Event()
    original = practice_store.locations.insert
    calls = 0

    async def first_one_hangs(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 1:
            entered.set()
            await release.wait()
        return await original(*args, **kwargs)

    monkeypatch.setattr(practice_store.locations, "insert", first_one_hangs)
    stuck = asyncio.create_task(partner.post("/location", json=_body(), headers=_idem(key)))
    try:
        await asyncio.wait_for(entered.wait(), 5)
        takeover = await _post_on_another_instance_after_the_claimer_died(
            app, settings, partner, key
        )
    finally:  # never leave the first request pending, whatever happened
        release.set()
        late = await stuck
    assert late.status_code == 201
    replay = await partner.post("/location", json=_body(), headers=_idem(key))
    assert replay.content == takeover.content != late.content


async def _post_on_another_instance_after_the_claimer_died(
    app, settings: Settings, partner: Partner, key: str
) -> httpx.Response:
    other = create_app(msgspec.structs.replace(settings, db_pool_min=1, db_pool_max=2))
    async with running(other):
        transport = httpx.ASGITransport(app=other)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as elsewhere:

            async def post_elsewhere() -> httpx.Response:
                headers = partner.headers(**_idem(key))
                return await elsewhere.post(partner.url("/location"), json=_body(), headers=headers)

            busy = await post_elsewhere()
            assert busy.status_code == 409 and busy.headers["retry-after"] == "1"
            claimer = app.state.claim_locks._conn.get_server_pid()
            # with a timeout it waits until the session is gone (and its advisory locks with it)
            await app.state.pool.execute("SELECT pg_terminate_backend($1, 10000)", claimer)
            takeover = await post_elsewhere()
            assert takeover.status_code == 201 and not _replayed(takeover), takeover.text
            return takeover


async def test_an_expired_key_runs_again(partner: Partner, pool):
    key = _key()
    first = await partner.post("/location", json=_body(), headers=_idem(key))
    await pool.execute(
        "UPDATE idempotency_keys SET expires_at = now() - interval '1 second' "
        "WHERE idempotency_key = $1",
        key,
    )
    again = await partner.post("/location", json=_body(), headers=_idem(key))
    assert again.status_code == 201 and not _replayed(again)
    assert again.json()["id"] != first.json()["id"]
    assert await _locations(pool, partner.account_id) == 2
    # expired rows are absent even for a different body
    await pool.execute(
        "UPDATE idempotency_keys SET expires_at = now() - interval '1 second' "
        "WHERE idempotency_key = $1",
        key,
    )
    other = await partner.post("/location", json=_body("Elsewhere"), headers=_idem(key))
    assert other.status_code == 201 and not _replayed(other)
    assert len(await _rows(pool, key)) == 1


async def test_purge_expired_deletes_only_expired_rows(partner: Partner, pool):
    old, fresh = _key(), _key()
    for key in (old, fresh):
        await partner.post("/location", json=_body(), headers=_idem(key))
    await pool.execute(
        "UPDATE idempotency_keys SET expires_at = now() - interval '1 hour' "
        "WHERE idempotency_key = $1",
        old,
    )
    assert await purge_expired(pool) >= 1
    assert await _rows(pool, old) == []
    assert len(await _rows(pool, fresh)) == 1
    assert await purge_expired(pool) == 0


async def test_get_ignores_the_header(partner: Partner, pool):
    key = _key()
    await partner.post("/location", json=_body(), headers=_idem(_key()))
    for _ in range(2):
        r = await partner.get("/location", headers=_idem(key))
        assert r.status_code == 200 and not _replayed(r)
    r = await partner.get("/location", headers={"Idempotency-Key": ""})  # not even validated
    assert r.status_code == 200
    assert await _rows(pool, key) == []


async def test_no_header_means_no_bookkeeping(partner: Partner, pool):
    for _ in range(2):
        assert (await partner.post("/location", json=_body())).status_code == 201
    assert await _locations(pool, partner.account_id) == 2


async def test_invalid_token_passes_through_and_stores_nothing(partner: Partner, pool):
    key = _key()
    for token in ("not-a-token", "x"):
        r = await partner.post("/location", json=_body(), headers=_idem(key), token=token)
        assert r.status_code == 401 and problem_code(r) == "invalid_token"
    # even an invalid key: an unauthenticated caller is told about the token first
    r = await partner.post("/location", json=_body(), headers={"Idempotency-Key": ""}, token="x")
    assert r.status_code == 401
    assert await _rows(pool, key) == []


async def test_forbidden_is_not_stored(client, pool):
    reader = await make_partner(client, pool, scopes=(SCHEDULING,))
    key = _key()
    r = await reader.post("/location", json=_body(), headers=_idem(key))
    assert r.status_code == 403 and problem_code(r) == "forbidden"
    assert await _rows(pool, key) == []


async def test_token_endpoint_is_not_idempotent(partner: Partner, client):
    form = {
        "grant_type": "client_credentials",
        "client_id": partner.client_id,
        "client_secret": partner.secret,
    }
    key = _key()
    a = await client.post("/oauth2/token", data=form, headers=_idem(key))
    b = await client.post("/oauth2/token", data=form, headers=_idem(key))
    assert (a.status_code, b.status_code) == (200, 200)
    assert not _replayed(b)
    assert a.json()["access_token"] != b.json()["access_token"]


async def test_stored_row_holds_no_clear_caller_or_path(partner: Partner, pool):
    key = _key()
    await partner.post("/location", json=_body(), headers=_idem(key))
    row = await pool.fetchrow("SELECT * FROM idempotency_keys WHERE idempotency_key = $1", key)
    assert partner.client_id not in row["principal_hash"]
    assert "location" not in row["endpoint_hash"]
    assert json.loads(row["response_body"])["name"] == "Downtown"
    assert [h[0] for h in row["response_headers"]] == ["content-type"]

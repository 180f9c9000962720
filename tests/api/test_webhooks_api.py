"""Webhook endpoint calls: create (secret shown once), list, delete, validation, the production
URL policy, scopes and account isolation."""

from __future__ import annotations

import base64
import ipaddress
import re
from datetime import datetime

import httpx
import msgspec
import pytest

from app.events import EVENT_TYPES
from app.main import create_app
from app.partners.scopes import SCHEDULING
from app.webhooks import vault
from app.webhooks.api import MAX_ENDPOINTS_PER_ACCOUNT
from tests.conftest import TEST_SECRET_KEY
from tests.support import Partner, fetch_token, make_partner, problem_code, running

SECRET = re.compile(r"^whsec_[A-Za-z0-9+/]{32}$")


def _validation(r: httpx.Response, field: str) -> str:
    assert r.status_code == 400, r.text
    assert problem_code(r) == "validation_failed"
    [error] = r.json()["errors"]
    assert error["field"] == field, error
    return error["message"]


async def test_create_shows_the_secret_once_and_stores_it_sealed(pool, partner: Partner):
    r = await partner.post(
        "/webhook-endpoint",
        json={
            "url": "http://127.0.0.1:9/hooks?team=ops",
            "events": ["appointment.cancelled", "attempt.started", "appointment.cancelled"],
        },
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert set(created) == {"id", "url", "events", "createdAt", "secret"}
    assert created["url"] == "http://127.0.0.1:9/hooks?team=ops"
    # deduplicated, in the contract's order
    assert created["events"] == ["attempt.started", "appointment.cancelled"]
    assert datetime.fromisoformat(created["createdAt"]).tzinfo is not None
    secret = created["secret"]
    assert SECRET.fullmatch(secret), secret
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 24

    # never again: not in the list, nowhere in its text
    r = await partner.get("/webhook-endpoint")
    assert r.status_code == 200
    [listed] = r.json()["webhookEndpoints"]
    assert listed == {k: v for k, v in created.items() if k != "secret"}
    assert r.json()["nextCursor"] is None
    assert secret not in r.text
    assert secret.removeprefix("whsec_") not in r.text

    # stored sealed (not in clear), and it opens to the same signing key
    stored = await pool.fetchval(
        "SELECT secret_sealed FROM webhook_endpoints WHERE id = $1", created["id"]
    )
    assert secret.removeprefix("whsec_") not in stored
    assert stored.startswith("v1:")
    assert vault.unseal(TEST_SECRET_KEY, partner.account_id, stored) == secret

    # every endpoint gets its own secret
    again = await partner.create(
        "/webhook-endpoint", {"url": "http://127.0.0.1:9/other", "events": ["attempt.started"]}
    )
    assert again["secret"] != secret


async def test_every_contract_event_type_is_accepted(partner: Partner):
    created = await partner.create(
        "/webhook-endpoint", {"url": "https://127.0.0.1/all", "events": list(EVENT_TYPES)}
    )
    assert created["events"] == list(EVENT_TYPES)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "https://127.0.0.1/h", "events": []}, "events"),
        (
            {"url": "https://127.0.0.1/h", "events": ["attempt.started", "patient.created"]},
            "events[1]",
        ),
        ({"url": "https://127.0.0.1/h", "events": ["Attempt.Started"]}, "events[0]"),
        ({"url": "https://127.0.0.1/h"}, "events"),
        ({"events": ["attempt.started"]}, "url"),
        ({"url": "", "events": ["attempt.started"]}, "url"),
        ({"url": "ftp://127.0.0.1/h", "events": ["attempt.started"]}, "url"),
        ({"url": "127.0.0.1/h", "events": ["attempt.started"]}, "url"),
        ({"url": "https:///nohost", "events": ["attempt.started"]}, "url"),
        ({"url": "https://user:pw@127.0.0.1/h", "events": ["attempt.started"]}, "url"),
        ({"url": "https://127.0.0.1/h#frag", "events": ["attempt.started"]}, "url"),
        ({"url": "https://127.0.0.1:99999/h", "events": ["attempt.started"]}, "url"),
        ({"url": "https://127.0.0.1/a b", "events": ["attempt.started"]}, "url"),
        ({"url": "https://127.0.0.1/" + "a" * 2000, "events": ["attempt.started"]}, "url"),
        ({"url": "https://127.0.0.1/h", "events": "attempt.started"}, "events"),
    ],
)
async def test_bad_bodies_are_400_validation_failed(partner: Partner, body, field):
    r = await partner.post("/webhook-endpoint", json=body)
    message = _validation(r, field)
    assert "patient.created" not in r.text and "user:pw" not in r.text  # no echo
    assert message
    r = await partner.get("/webhook-endpoint")
    assert r.json()["webhookEndpoints"] == []


async def test_unknown_event_message_names_the_contract_list(partner: Partner):
    r = await partner.post(
        "/webhook-endpoint", json={"url": "https://127.0.0.1/h", "events": ["x.y"]}
    )
    assert _validation(r, "events[0]") == "must be one of " + ", ".join(EVENT_TYPES)


async def test_delete(partner: Partner):
    keep = await partner.create(
        "/webhook-endpoint", {"url": "http://127.0.0.1:9/keep", "events": ["attempt.started"]}
    )
    gone = await partner.create(
        "/webhook-endpoint", {"url": "http://127.0.0.1:9/gone", "events": ["attempt.started"]}
    )
    r = await partner.delete(f"/webhook-endpoint/{gone['id']}")
    assert r.status_code == 204
    assert r.content == b""
    r = await partner.get("/webhook-endpoint")
    assert [e["id"] for e in r.json()["webhookEndpoints"]] == [keep["id"]]
    r = await partner.delete(f"/webhook-endpoint/{gone['id']}")
    assert r.status_code == 404
    assert problem_code(r) == "not_found"
    r = await partner.get(f"/webhook-endpoint/{gone['id']}/delivery")
    assert r.status_code == 404


async def test_pagination(partner: Partner):
    ids = [
        (
            await partner.create(
                "/webhook-endpoint",
                {"url": f"http://127.0.0.1:9/{n}", "events": ["attempt.started"]},
            )
        )["id"]
        for n in range(3)
    ]
    r = await partner.get("/webhook-endpoint", params={"limit": 2})
    first = r.json()
    assert [e["id"] for e in first["webhookEndpoints"]] == ids[:2]
    assert first["nextCursor"]
    r = await partner.get("/webhook-endpoint", params={"limit": 2, "cursor": first["nextCursor"]})
    assert [e["id"] for e in r.json()["webhookEndpoints"]] == ids[2:]
    assert r.json()["nextCursor"] is None
    _validation(await partner.get("/webhook-endpoint", params={"cursor": "nope"}), "cursor")
    r = await partner.get("/webhook-endpoint", params={"limit": 0})
    assert r.status_code == 400
    assert problem_code(r) == "validation_failed"
    r = await partner.get(f"/webhook-endpoint/{ids[0]}/delivery", params={"cursor": "nope"})
    _validation(r, "cursor")


async def test_another_accounts_endpoint_is_404(client, pool, partner: Partner):
    mine = await partner.create(
        "/webhook-endpoint", {"url": "http://127.0.0.1:9/mine", "events": ["attempt.started"]}
    )
    other = await make_partner(client, pool)
    for method, path in (
        ("DELETE", f"/webhook-endpoint/{mine['id']}"),
        ("GET", f"/webhook-endpoint/{mine['id']}/delivery"),
        ("POST", f"/webhook-endpoint/{mine['id']}/delivery/1/retry"),
    ):
        r = await other.request(method, path)
        assert r.status_code == 404, (method, path)
        assert problem_code(r) == "not_found"
    r = await other.get("/webhook-endpoint")
    assert r.json()["webhookEndpoints"] == []
    # and the other client has no grant on this account at all
    r = await client.get(partner.url("/webhook-endpoint"), headers=other.headers())
    assert r.status_code == 403
    assert problem_code(r) == "forbidden"
    r = await partner.get("/webhook-endpoint")
    assert [e["id"] for e in r.json()["webhookEndpoints"]] == [mine["id"]]


async def test_the_config_scope_is_required(client, partner: Partner):
    token = await fetch_token(client, partner.client_id, partner.secret, scope=SCHEDULING)
    for method, path in (
        ("POST", "/webhook-endpoint"),
        ("GET", "/webhook-endpoint"),
        ("DELETE", "/webhook-endpoint/1"),
        ("GET", "/webhook-endpoint/1/delivery"),
        ("POST", "/webhook-endpoint/1/delivery/1/retry"),
    ):
        kw = {"json": {"url": "https://127.0.0.1/", "events": ["attempt.started"]}}
        r = await partner.request(method, path, token=token, **(kw if method == "POST" else {}))
        assert r.status_code == 403, (method, path)
        assert problem_code(r) == "forbidden"
    r = await client.get(partner.url("/webhook-endpoint"))
    assert r.status_code == 401
    assert problem_code(r) == "invalid_token"


async def test_an_account_has_at_most_twenty_endpoints(partner: Partner):
    for n in range(MAX_ENDPOINTS_PER_ACCOUNT):
        await partner.create(
            "/webhook-endpoint", {"url": f"http://127.0.0.1:9/{n}", "events": ["attempt.started"]}
        )
    r = await partner.post(
        "/webhook-endpoint", json={"url": "http://127.0.0.1:9/x", "events": ["attempt.started"]}
    )
    assert r.status_code == 409
    assert problem_code(r) == "endpoint_limit_reached"


# --- production URL policy --------------------------------------------------------------------


@pytest.fixture(scope="module")
async def production_app(settings):
    """The same database and keys, but SLOTPROOF_ENV=production semantics; names resolve from
    a fixed table (no network)."""
    names = {
        "hooks.partner.example": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
        "split.partner.example": ["93.184.216.34", "10.0.0.7"],
        "intranet.partner.example": ["192.168.1.20"],
    }

    async def resolve(host: str, port: int):
        if host in names:
            return [ipaddress.ip_address(a) for a in names[host]]
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            if host == "localhost":
                return [ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")]
            raise OSError("no such host") from None

    production = msgspec.structs.replace(settings, env="production", in_process_worker=False)
    app = create_app(production)
    async with running(app):
        app.state.webhook_resolver = resolve
        yield app


@pytest.fixture
async def production(production_app, partner: Partner):
    transport = httpx.ASGITransport(app=production_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield Partner(http, partner.account_id, partner.client_id, partner.secret, partner.token)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://127.0.0.1/h", "a loopback address"),
        ("http://127.8.9.10:8080/h", "a loopback address"),
        ("https://[::1]/h", "a loopback address"),
        ("https://localhost/h", "a loopback address"),
        ("https://10.1.2.3/h", "a private address"),
        ("https://172.16.0.1/h", "a private address"),
        ("https://192.168.0.10/h", "a private address"),
        ("https://intranet.partner.example/h", "a private address"),
        ("https://split.partner.example/h", "a private address"),  # one bad answer suffices
        ("https://[fd00::1]/h", "a private address"),
        ("https://169.254.169.254/latest/meta-data", "a link-local address"),
        ("https://[fe80::1]/h", "a link-local address"),
        ("https://0.0.0.0/h", "an unspecified address"),
        ("https://224.0.0.1/h", "a multicast address"),
        ("https://240.0.0.1/h", "a private address"),
        ("https://100.64.0.1/h", "a non-public address"),
        ("https://[::ffff:10.0.0.1]/h", "a private address"),
        ("https://nowhere.partner.example/h", None),
    ],
)
async def test_production_refuses_non_public_urls(production: Partner, url, reason):
    r = await production.post("/webhook-endpoint", json={"url": url, "events": ["attempt.started"]})
    assert r.status_code == 400, r.text
    assert problem_code(r) == "url_not_allowed"
    [error] = r.json()["errors"]
    assert error["field"] == "url"
    expected = "the host does not resolve" if reason is None else f"the host resolves to {reason}"
    assert error["message"] == expected
    assert r.json()["detail"] == f"Webhook URLs must resolve to public addresses only ({expected})."
    r = await production.get("/webhook-endpoint")
    assert r.json()["webhookEndpoints"] == []


async def test_production_accepts_public_urls(production: Partner):
    for url in (
        "https://hooks.partner.example/slotproof",
        "https://93.184.216.34:8443/h",
        "http://[2606:4700:4700::1111]/h",
    ):
        r = await production.post(
            "/webhook-endpoint", json={"url": url, "events": ["appointment.created"]}
        )
        assert r.status_code == 201, (url, r.text)
        assert r.json()["url"] == url


async def test_development_accepts_loopback_and_private_urls(partner: Partner):
    for url in ("http://127.0.0.1:8080/h", "http://localhost/h", "https://10.0.0.5/h"):
        created = await partner.create(
            "/webhook-endpoint", {"url": url, "events": ["appointment.created"]}
        )
        assert created["url"] == url

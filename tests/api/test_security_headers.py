"""Security headers on every response (errors and unknown routes included), no-store on PHI,
HSTS in production only, and CORS for listed origins only (app/core/security.py); plus SQL
metacharacters treated as data."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import msgspec
import pytest

from app.config import ConfigError, Settings, load_settings
from app.core.security import API_CSP, DOCS_CSP
from app.embed.assets import DEMO_CSP
from app.main import create_app
from tests.builders import build_practice
from tests.support import Partner, make_partner, running

LISTED = "https://portal.example-practice.com"
UNLISTED = "https://evil.example"


def assert_baseline(r: httpx.Response) -> None:
    assert r.headers["x-content-type-options"] == "nosniff", r.request.url
    assert "content-security-policy" in r.headers, r.request.url
    assert "strict-transport-security" not in r.headers  # development


def assert_api_headers(r: httpx.Response) -> None:
    assert_baseline(r)
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["content-security-policy"] == API_CSP.decode()
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers.get_list("content-security-policy") == [API_CSP.decode()]


@asynccontextmanager
async def served(settings: Settings, **changes) -> AsyncIterator[httpx.AsyncClient]:
    application = create_app(
        msgspec.structs.replace(settings, db_pool_min=1, db_pool_max=2, **changes)
    )
    async with running(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def test_every_kind_of_response_carries_the_headers(client, partner: Partner):
    responses = [
        await client.get("/healthz"),
        await client.get("/readyz"),
        await client.get("/no/such/route"),  # 404 before any route matched
        await client.patch("/healthz"),  # 405
        await client.get("/schema/openapi.json"),
        await client.post("/oauth2/token", data={"grant_type": "password"}),  # 400/401
        await partner.get("/location"),  # 200 PHI-bearing API
        await partner.get("/location", token="not-a-token"),  # 401
        await partner.get("/location/999999999"),  # 404 of a matched route
        await partner.post("/location", json={"name": 7}),  # 400 validation
        await client.get("/widget/v1/config"),  # 401 widget key
    ]
    assert [r.status_code for r in responses][:5] == [200, 200, 404, 405, 200]
    for r in responses:
        assert_api_headers(r)


async def test_phi_responses_are_never_stored(client, partner: Partner):
    practice = await build_practice(partner)
    widget = {"X-Widget-Key": practice.publishable_key}
    for r in (
        await partner.get("/location"),
        await partner.get(f"/self-scheduling/setting/{practice.setting_id}"),
        await partner.get("/no-such-thing"),
        await client.get("/widget/v1/config", headers=widget),
        await client.post("/widget/v1/attempt", headers=widget),
        await client.get("/widget/v1/manage/mg_doesnotexist"),
        await client.post(
            "/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": partner.client_id,
                "client_secret": partner.secret,
            },
        ),
    ):
        assert r.status_code < 500, r.text
        assert r.headers.get_list("cache-control") == ["no-store"], r.request.url
        assert_api_headers(r)


async def test_doubled_slashes_do_not_escape_no_store(client, partner: Partner):
    """Finding (LOW): `//partner/...` and `//widget/v1/manage/...` reached their routes (the
    router collapses slashes) but lost `Cache-Control: no-store`."""
    practice = await build_practice(partner)
    bearer = {"Authorization": f"Bearer {partner.token}"}
    for url, headers, status in (
        (f"http://testserver//partner/v2/account/{partner.account_id}/location", bearer, 200),
        (f"http://testserver/partner//v2/account/{partner.account_id}/location", bearer, 200),
        ("http://testserver//widget/v1/config", {"X-Widget-Key": practice.publishable_key}, 200),
        ("http://testserver//widget/v1/manage/mg_doesnotexist", {}, 404),
    ):
        r = await client.get(url, headers=headers)
        assert b"//" in r.request.url.raw_path
        assert r.status_code == status, (url, r.text)
        assert r.headers.get_list("cache-control") == ["no-store"], url


async def test_widget_assets_keep_their_own_caching_and_csp(client, partner: Partner):
    practice = await build_practice(partner)
    loader = await client.get("/widget/v1/loader.js")
    assert loader.status_code == 200
    assert loader.headers["cache-control"] == "public, max-age=300"
    assert loader.headers["access-control-allow-origin"] == "*"  # public script, by design
    assert_baseline(loader)

    static = await client.get("/widget/v1/static/app.js")
    assert static.status_code == 200 and static.headers["cache-control"].startswith("public")
    assert_baseline(static)

    frame = await client.get("/widget/v1/frame", params={"key": practice.publishable_key})
    assert frame.status_code == 200
    csp = frame.headers.get_list("content-security-policy")
    assert len(csp) == 1 and "frame-ancestors 'self' http://127.0.0.1:8000" in csp[0]
    assert "x-frame-options" not in frame.headers  # would forbid the allowed embedders
    assert frame.headers["cache-control"] == "no-cache"
    assert frame.headers["referrer-policy"] == "no-referrer"
    assert_baseline(frame)

    demo = await client.get("/demo")
    assert demo.status_code == 200
    assert demo.headers.get_list("content-security-policy") == [DEMO_CSP]
    assert demo.headers["referrer-policy"] == "strict-origin-when-cross-origin"  # its own
    assert_baseline(demo)


async def test_the_openapi_page_may_load_its_ui_but_not_be_framed(client):
    page = await client.get("/schema")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == DOCS_CSP.decode()
    assert page.headers["x-frame-options"] == "DENY"
    document = await client.get("/schema/openapi.json")
    assert document.headers["content-security-policy"] == API_CSP.decode()


async def test_the_openapi_page_works_offline(client):
    """Every file the /schema page loads comes from the app itself, none from a CDN."""
    page = (await client.get("/schema")).text
    urls = re.findall(r"""(?:href|src)=["']([^"']+)""", page)
    assert len(urls) == 4 and "SwaggerUIBundle" in page
    for url in urls:
        assert url.startswith("/schema-ui/"), url
        asset = await client.get(url)
        assert asset.status_code == 200 and len(asset.content) > 500
    assert (await client.get("/schema-ui/index.html")).status_code == 404  # listed files only


async def test_hsts_in_production_only(client, settings):
    assert "strict-transport-security" not in (await client.get("/healthz")).headers
    async with served(settings, env="production") as prod:
        for r in (await prod.get("/healthz"), await prod.get("/nope"), await prod.get("/demo")):
            assert r.headers["strict-transport-security"] == ("max-age=63072000; includeSubDomains")
        assert (await prod.get("/demo")).status_code == 404  # no demo page in production
    assert (await client.get("/demo")).status_code == 200


async def test_no_cors_by_default(client, partner: Partner):
    for origin in (UNLISTED, LISTED, "null"):
        r = await partner.get("/location", headers={"Origin": origin})
        assert r.status_code == 200
        assert "access-control-allow-origin" not in r.headers
        preflight = await client.options(
            partner.url("/location"),
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        assert "access-control-allow-origin" not in preflight.headers
        assert "access-control-allow-headers" not in preflight.headers
        assert_api_headers(preflight)


async def test_cors_for_listed_origins_only(settings, client, partner: Partner):
    async with served(settings, cors_origins=(LISTED,)) as http:
        path = partner.url("/location")
        auth = {"Authorization": f"Bearer {partner.token}"}

        listed = await http.get(path, headers={**auth, "Origin": LISTED})
        assert listed.status_code == 200
        assert listed.headers["access-control-allow-origin"] == LISTED
        assert "access-control-allow-credentials" not in listed.headers
        assert "X-Request-Id" in listed.headers["access-control-expose-headers"]
        assert "Origin" in listed.headers.get_list("vary")
        assert listed.headers["cache-control"] == "no-store"

        preflight = await http.options(
            path,
            headers={
                "Origin": LISTED,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "Authorization, Content-Type, X-Evil",
            },
        )
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == LISTED
        assert preflight.headers["access-control-allow-methods"] == "GET, POST, PUT, DELETE"
        assert preflight.headers["access-control-allow-headers"] == "authorization, content-type"
        assert_api_headers(preflight)

        for origin in (UNLISTED, LISTED + ".evil.example", "http://portal.example-practice.com"):
            r = await http.get(path, headers={**auth, "Origin": origin})
            assert r.status_code == 200
            assert "access-control-allow-origin" not in r.headers, origin
            refused = await http.options(
                path, headers={"Origin": origin, "Access-Control-Request-Method": "GET"}
            )
            assert "access-control-allow-origin" not in refused.headers, origin

        # errors and unknown routes answer the listed origin too (so the caller can read them)
        missing = await http.get("/no/such/route", headers={"Origin": LISTED})
        assert missing.status_code == 404
        assert missing.headers["access-control-allow-origin"] == LISTED
        assert_api_headers(missing)


def test_cors_origins_setting():
    parsed = load_settings({"SLOTPROOF_CORS_ORIGINS": f"{LISTED}/, http://localhost:3000"})
    assert parsed.cors_origins == (LISTED, "http://localhost:3000")
    assert load_settings({}).cors_origins == ()
    for bad in ("*", "https://a.example/path", "portal.example.com"):
        with pytest.raises(ConfigError, match="SLOTPROOF_CORS_ORIGINS"):
            load_settings({"SLOTPROOF_CORS_ORIGINS": bad})
    production = {
        "SLOTPROOF_ENV": "production",
        "SLOTPROOF_SECRET_KEY": "p" * 40,
        "DATABASE_URL": "postgresql://db/slotproof",
        "SLOTPROOF_PUBLIC_URL": "https://book.example.com",
        "SLOTPROOF_DELIVERY": "providers",
        "TWILIO_ACCOUNT_SID": "AC1",
        "TWILIO_AUTH_TOKEN": "t",
        "TWILIO_MESSAGING_SERVICE_SID": "MG1",
        "SENDGRID_API_KEY": "SG.x",
        "SENDGRID_FROM_EMAIL": "no-reply@example.com",
    }
    assert load_settings(production).is_production
    with pytest.raises(ConfigError, match="https"):
        load_settings({**production, "SLOTPROOF_CORS_ORIGINS": "http://portal.example.com"})


async def test_sql_metacharacters_are_data_not_code(partner: Partner, pool):
    """Every statement is parameterised ($n); column names come from allow-lists. Quotes,
    comments and statement separators in bodies and query strings are stored and matched as
    plain text."""
    evil = "Robert'); DROP TABLE locations; --"
    created = await partner.create("/location", {"name": evil, "timeZone": "America/New_York"})
    assert created["name"] == evil
    found = await partner.get("/location", params={"name": evil})
    assert found.status_code == 200, found.text
    assert [loc["id"] for loc in found.json()["locations"]] == [created["id"]]
    for probe in ("' OR '1'='1", "x' UNION SELECT client_secret_hash FROM partner_clients --"):
        r = await partner.get("/location", params={"name": probe, "storeId": probe})
        assert r.status_code == 200 and r.json()["locations"] == []
    assert (await partner.get("/location/1 OR 1=1")).status_code in (400, 404)
    assert await pool.fetchval("SELECT to_regclass('locations') IS NOT NULL")


async def test_production_refuses_plain_http_allowed_origins(settings, pool):
    """Finding (LOW): production accepted `http://` origins as a setting's allowedOrigins (who
    may frame the widget); a plain-HTTP page can be rewritten by anyone on its network."""
    async with served(settings, env="production") as c:
        p = await make_partner(c, pool)
        created = await p.post("/self-scheduling/setting", json={"name": "X"})
        path = f"/self-scheduling/setting/{created.json()['id']}"
        r = await p.put(path, json={"widget": {"allowedOrigins": ["http://clinic.example"]}})
        assert r.status_code == 400, r.text
        assert r.json()["errors"] == [
            {"field": "widget.allowedOrigins[0]", "message": "must be https:// in production"}
        ]
        ok = await p.put(path, json={"widget": {"allowedOrigins": ["https://clinic.example"]}})
        assert ok.status_code == 200, ok.text
        created = await p.post(
            "/self-scheduling/setting",
            json={"name": "X", "widget": {"allowedOrigins": ["http://localhost:5173"]}},
        )
        assert created.status_code == 400

"""POST /oauth2/token and the partner guard (contract: Partner authentication, Errors)."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote_plus

import httpx
import msgspec
import pytest

from app.config import Settings
from app.main import create_app
from app.partners import tokens
from app.partners.scopes import ALL_SCOPES
from app.partners.store import create_client
from tests.support import Partner, fetch_token, make_account, make_partner, problem_code, running

TOKEN_URL = "/oauth2/token"


def _form(client_id: str, secret: str, **extra: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": secret,
        **extra,
    }


def _basic(client_id: str, secret: str) -> dict[str, str]:
    """RFC 6749 2.3.1: form-urlencode both parts, then HTTP Basic."""
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


async def _new_client(pool, scopes: list[str], account_ids: list[int], **kw) -> tuple[str, str]:
    async with pool.acquire() as conn:
        return await create_client(conn, "auth test", scopes, account_ids, **kw)


# --- token endpoint -------------------------------------------------------------------------


async def test_token_with_form_credentials(client, partner: Partner, settings: Settings):
    r = await client.post(TOKEN_URL, data=_form(partner.client_id, partner.secret))
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == " ".join(ALL_SCOPES)
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["pragma"] == "no-cache"
    claims = tokens.verify(settings.secret_key, settings.public_url, body["access_token"])
    assert claims.client_id == partner.client_id
    assert claims.scopes == set(ALL_SCOPES) >= {"scheduling", "config", "analytics", "audit"}
    # the token works on the partner API
    listed = await partner.get("/location", token=body["access_token"])
    assert listed.status_code == 200, listed.text


async def test_token_with_http_basic_form_urlencoded_credentials(client, pool):
    account_id = await make_account(pool)
    # characters that RFC 6749 2.3.1 form-urlencoding changes: space, '+', ':', '%', '/'
    client_id = "cli_basic:test+1"
    secret = "s3c ret+with:colon%25/slash"
    await _new_client(pool, ["scheduling"], [account_id], client_id=client_id, client_secret=secret)
    r = await client.post(
        TOKEN_URL, data={"grant_type": "client_credentials"}, headers=_basic(client_id, secret)
    )
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "scheduling"
    assert r.headers["cache-control"] == "no-store"
    assert _claims(r.json()["access_token"])["sub"] == client_id


async def test_token_with_http_basic_plain_generated_credentials(client, partner: Partner):
    # generated ids and secrets are URL-safe, so encoded and raw Basic credentials agree
    raw = f"{partner.client_id}:{partner.secret}".encode()
    r = await client.post(
        TOKEN_URL,
        data={"grant_type": "client_credentials"},
        headers={"Authorization": "Basic " + base64.b64encode(raw).decode()},
    )
    assert r.status_code == 200, r.text
    assert r.json()["token_type"] == "Bearer"


async def test_wrong_secret_is_invalid_client(client, partner: Partner):
    r = await client.post(TOKEN_URL, data=_form(partner.client_id, partner.secret + "x"))
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"
    assert r.headers["cache-control"] == "no-store"
    assert "access_token" not in r.text


async def test_unknown_client_gets_the_same_answer(client, partner: Partner):
    wrong = await client.post(TOKEN_URL, data=_form(partner.client_id, "not-the-secret"))
    unknown = await client.post(TOKEN_URL, data=_form("cli_does_not_exist", "not-the-secret"))
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert unknown.json()["error"] == "invalid_client"
    assert wrong.headers.get("www-authenticate") == unknown.headers.get("www-authenticate")


async def test_wrong_basic_secret_is_invalid_client_with_basic_challenge(client, partner):
    r = await client.post(
        TOKEN_URL,
        data={"grant_type": "client_credentials"},
        headers=_basic(partner.client_id, "wrong"),
    )
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"
    assert r.headers["www-authenticate"].startswith("Basic")


async def test_malformed_basic_header_is_invalid_client(client):
    r = await client.post(
        TOKEN_URL,
        data={"grant_type": "client_credentials"},
        headers={"Authorization": "Basic %%%not-base64"},
    )
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"


async def test_missing_credentials_is_invalid_client(client):
    r = await client.post(TOKEN_URL, data={"grant_type": "client_credentials"})
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"


async def test_unsupported_grant_type(client, partner: Partner):
    form = _form(partner.client_id, partner.secret, grant_type="password")
    r = await client.post(TOKEN_URL, data=form)
    assert r.status_code == 400
    assert r.json()["error"] == "unsupported_grant_type"


async def test_missing_grant_type_is_invalid_request(client, partner: Partner):
    r = await client.post(
        TOKEN_URL, data={"client_id": partner.client_id, "client_secret": partner.secret}
    )
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"


async def test_scope_subset_is_granted_and_reflected(client, partner: Partner, settings):
    r = await client.post(
        TOKEN_URL, data=_form(partner.client_id, partner.secret, scope="analytics  scheduling")
    )
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "analytics scheduling"
    claims = tokens.verify(settings.secret_key, settings.public_url, r.json()["access_token"])
    assert claims.scopes == {"analytics", "scheduling"}


async def test_scope_beyond_held_is_invalid_scope(client, pool):
    account_id = await make_account(pool)
    client_id, secret = await _new_client(pool, ["scheduling"], [account_id])
    r = await client.post(TOKEN_URL, data=_form(client_id, secret, scope="scheduling config"))
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_scope"


async def test_unknown_scope_is_invalid_scope(client, partner: Partner):
    r = await client.post(TOKEN_URL, data=_form(partner.client_id, partner.secret, scope="admin"))
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_scope"


async def test_deactivated_client_cannot_get_a_token(client, partner: Partner, pool):
    await pool.execute(
        "UPDATE partner_clients SET active = false WHERE client_id = $1", partner.client_id
    )
    r = await client.post(TOKEN_URL, data=_form(partner.client_id, partner.secret))
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"


async def test_token_endpoint_rate_limit(settings: Settings):
    limited = msgspec.structs.replace(settings, token_rate_limit_per_minute=3, db_pool_max=2)
    app = create_app(limited)
    async with running(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            for _ in range(3):
                r = await c.post(TOKEN_URL, data=_form("cli_nobody", "nothing"))
                assert r.status_code == 401, r.text
            r = await c.post(TOKEN_URL, data=_form("cli_nobody", "nothing"))
    assert r.status_code == 429
    assert problem_code(r) == "rate_limited"
    retry = int(r.headers["retry-after"])
    assert 1 <= retry <= 60
    assert r.json()["retryAfterSeconds"] == retry
    assert r.json()["status"] == 429


# --- the partner guard ----------------------------------------------------------------------


async def test_no_authorization_header_is_401_with_challenge(client, partner: Partner):
    r = await client.get(partner.url("/location"))
    assert r.status_code == 401
    assert problem_code(r) == "invalid_token"
    assert r.headers["www-authenticate"].startswith("Bearer")


async def test_non_bearer_scheme_is_401(client, partner: Partner):
    r = await client.get(
        partner.url("/location"), headers={"Authorization": f"Basic {partner.token}"}
    )
    assert r.status_code == 401
    assert problem_code(r) == "invalid_token"


async def test_expired_token_is_401(partner: Partner, settings: Settings):
    expired = tokens.mint(
        settings.secret_key, settings.public_url, partner.client_id, ["scheduling"], -10
    )
    r = await partner.get("/location", token=expired)
    assert r.status_code == 401
    assert problem_code(r) == "invalid_token"
    assert 'error="invalid_token"' in r.headers["www-authenticate"]


def _tamper(token: str, **claims) -> str:
    header, _payload, signature = token.split(".")
    data = _claims(token) | claims
    raw = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    return f"{header}.{raw}.{signature}"


async def test_tampered_token_is_401(partner: Partner, client, settings: Settings):
    narrow = await fetch_token(client, partner.client_id, partner.secret, scope="scheduling")
    forged = _tamper(narrow, scope="scheduling config analytics")
    r = await partner.post("/location", token=forged, json={"name": "X", "timeZone": "UTC"})
    assert r.status_code == 401
    assert problem_code(r) == "invalid_token"
    # signed with another key
    other = tokens.mint(
        "another-secret-key-" + "x" * 32,
        settings.public_url,
        partner.client_id,
        ["scheduling"],
        600,
    )
    assert (await partner.get("/location", token=other)).status_code == 401
    # issued for another deployment
    foreign = tokens.mint(
        settings.secret_key, "https://elsewhere.example", partner.client_id, ["scheduling"], 600
    )
    assert (await partner.get("/location", token=foreign)).status_code == 401
    # unsigned ("alg": "none")
    none_header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').decode().rstrip("=")
    unsigned = f"{none_header}.{narrow.split('.')[1]}."
    assert (await partner.get("/location", token=unsigned)).status_code == 401
    assert (await partner.get("/location", token="not-a-jwt")).status_code == 401


async def test_deactivated_client_token_is_401(partner: Partner, pool):
    assert (await partner.get("/location")).status_code == 200
    await pool.execute(
        "UPDATE partner_clients SET active = false WHERE client_id = $1", partner.client_id
    )
    r = await partner.get("/location")
    assert r.status_code == 401
    assert problem_code(r) == "invalid_token"


async def test_deleted_client_token_is_401(partner: Partner, pool):
    await pool.execute("DELETE FROM partner_clients WHERE client_id = $1", partner.client_id)
    r = await partner.get("/location")
    assert r.status_code == 401
    assert problem_code(r) == "invalid_token"


async def test_no_grant_on_account_is_403(partner: Partner, client, pool):
    other_account = await make_account(pool)
    r = await client.get(f"/partner/v2/account/{other_account}/location", headers=partner.headers())
    assert r.status_code == 403
    assert problem_code(r) == "forbidden"
    # an account that does not exist reads the same (no account enumeration)
    r = await client.get("/partner/v2/account/987654321/location", headers=partner.headers())
    assert r.status_code == 403
    assert problem_code(r) == "forbidden"
    # an id beyond bigint is no grant either, not a database error
    r = await client.get(f"/partner/v2/account/{2**64}/location", headers=partner.headers())
    assert r.status_code == 403
    assert problem_code(r) == "forbidden"


async def test_inactive_grant_is_403(partner: Partner, pool):
    await pool.execute(
        "UPDATE partner_grants SET active = false WHERE account_id = $1", partner.account_id
    )
    r = await partner.get("/location")
    assert r.status_code == 403
    assert problem_code(r) == "forbidden"


async def test_missing_scope_is_403(partner: Partner, client):
    analytics = await fetch_token(client, partner.client_id, partner.secret, scope="analytics")
    r = await partner.get("/location", token=analytics)
    assert r.status_code == 403
    assert problem_code(r) == "forbidden"
    assert "scheduling" in r.json()["detail"]
    # a read-only token reads but cannot write
    reader = await fetch_token(client, partner.client_id, partner.secret, scope="scheduling")
    assert (await partner.get("/location", token=reader)).status_code == 200
    r = await partner.post("/location", token=reader, json={"name": "X", "timeZone": "UTC"})
    assert r.status_code == 403
    assert problem_code(r) == "forbidden"
    assert "config" in r.json()["detail"]


async def test_other_accounts_ids_are_404_like_absent_ones(partner: Partner, client, pool):
    other = await make_partner(client, pool)
    theirs = await other.create("/location", {"name": "Theirs", "timeZone": "UTC"})

    foreign = await partner.get(f"/location/{theirs['id']}")
    absent = await partner.get("/location/987654321")
    assert foreign.status_code == absent.status_code == 404
    assert problem_code(foreign) == problem_code(absent) == "not_found"
    strip = {"requestId"}
    assert {k: v for k, v in foreign.json().items() if k not in strip} == {
        k: v for k, v in absent.json().items() if k not in strip
    }

    r = await partner.put(f"/location/{theirs['id']}", json={"name": "Hijacked"})
    assert r.status_code == 404
    r = await partner.delete(f"/location/{theirs['id']}")
    assert r.status_code == 404
    still = await other.get(f"/location/{theirs['id']}")
    assert still.status_code == 200
    assert still.json()["name"] == "Theirs"
    # and it never shows in our listing
    listed = await partner.get("/location")
    assert theirs["id"] not in [x["id"] for x in listed.json()["locations"]]


async def test_check_order_401_before_403_before_404(
    partner: Partner, client, pool, settings: Settings
):
    other = await make_partner(client, pool)
    theirs = await other.create("/location", {"name": "Theirs", "timeZone": "UTC"})
    their_path = f"/partner/v2/account/{other.account_id}/location/{theirs['id']}"
    expired = tokens.mint(
        settings.secret_key, settings.public_url, partner.client_id, ["scheduling"], -10
    )
    # expired token on an account we have no grant on: 401, not 403/404
    r = await client.get(their_path, headers=partner.headers(expired))
    assert r.status_code == 401
    assert problem_code(r) == "invalid_token"
    # valid token without a grant there, even with a missing scope: 403 (not 404)
    analytics = await fetch_token(client, partner.client_id, partner.secret, scope="analytics")
    r = await client.get(their_path, headers=partner.headers(analytics))
    assert r.status_code == 403
    assert problem_code(r) == "forbidden"
    r = await client.get(their_path, headers=partner.headers())
    assert r.status_code == 403
    # deactivated client on an account it has no grant on: 401 wins
    await pool.execute(
        "UPDATE partner_clients SET active = false WHERE client_id = $1", partner.client_id
    )
    r = await client.get(their_path, headers=partner.headers())
    assert r.status_code == 401


@pytest.mark.parametrize("header", ["Bearer", "Bearer    ", "bearer"])
async def test_empty_bearer_is_401(client, partner: Partner, header: str):
    r = await client.get(partner.url("/location"), headers={"Authorization": header})
    assert r.status_code == 401
    assert problem_code(r) == "invalid_token"

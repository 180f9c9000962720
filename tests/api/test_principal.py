"""The request's principal, resolved once (app/authentication.py): findings of the second
security review that came from each layer working out the caller on its own."""

from __future__ import annotations

import httpx

from tests.builders import build_practice
from tests.support import Partner, fetch_token, problem_code


async def test_a_revoked_grant_takes_effect_on_the_next_call(partner: Partner, pool):
    """Finding (LOW): scope or grant changes took effect only when the token expired."""
    assert (await partner.get("/location")).status_code == 200
    await pool.execute(
        "UPDATE partner_grants SET active = false WHERE account_id = $1", partner.account_id
    )
    r = await partner.get("/location")  # the same, unexpired token
    assert r.status_code == 403 and problem_code(r) == "forbidden"
    await pool.execute(
        "UPDATE partner_grants SET active = true WHERE account_id = $1", partner.account_id
    )
    assert (await partner.get("/location")).status_code == 200


async def test_a_removed_scope_takes_effect_on_the_next_call(partner: Partner, pool):
    assert (await partner.get("/self-scheduling/funnel?from=2026-03-01&to=2026-03-02")).is_success
    await pool.execute(
        "UPDATE partner_clients SET scopes = array_remove(scopes, 'analytics')"
        " WHERE client_id = $1",
        partner.client_id,
    )
    r = await partner.get("/self-scheduling/funnel?from=2026-03-01&to=2026-03-02")
    assert r.status_code == 403 and problem_code(r) == "forbidden"
    assert (await partner.get("/location")).status_code == 200  # other scopes still held


async def test_a_deactivated_client_is_refused_at_once(partner: Partner, pool):
    await pool.execute(
        "UPDATE partner_clients SET active = false WHERE client_id = $1", partner.client_id
    )
    r = await partner.get("/location")
    assert r.status_code == 401 and problem_code(r) == "invalid_token"


async def test_an_idempotent_replay_is_refused_once_the_grant_is_revoked(partner: Partner, pool):
    """Finding (LOW): a replay served the stored response (possibly PHI) to a client whose
    grant had been revoked since."""
    key = {"Idempotency-Key": "replay-after-revoke-1"}
    body = {"verificationMethod": "EMAIL"}
    first = await partner.post("/identity-proof", json=body, headers=key)
    assert first.status_code == 201, first.text
    replay = await partner.post("/identity-proof", json=body, headers=key)
    assert replay.headers.get("idempotent-replayed") == "true"
    await pool.execute(
        "UPDATE partner_grants SET active = false WHERE account_id = $1", partner.account_id
    )
    refused = await partner.post("/identity-proof", json=body, headers=key)
    assert refused.status_code == 403 and problem_code(refused) == "forbidden"
    assert "idempotent-replayed" not in refused.headers
    assert "id" not in refused.json()


async def test_an_idempotent_replay_needs_the_routes_scope(client, partner: Partner):
    key = {"Idempotency-Key": "replay-needs-scope-1"}
    body = {"verificationMethod": "EMAIL"}
    assert (await partner.post("/identity-proof", json=body, headers=key)).status_code == 201
    analyst = await fetch_token(client, partner.client_id, partner.secret, scope="analytics")
    r = await partner.post("/identity-proof", json=body, headers=key, token=analyst)
    assert r.status_code == 403 and "idempotent-replayed" not in r.headers


async def test_anonymous_attempt_keys_are_scoped_per_visitor(app, partner: Partner):
    """Finding (LOW): POST /widget/v1/attempt shared one idempotency scope per public key, so
    a reused Idempotency-Key returned another visitor's attempt token."""
    practice = await build_practice(partner)
    headers = {"X-Widget-Key": practice.publishable_key, "Idempotency-Key": "attempt-1"}

    async def start(ip: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(ip, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as visitor:
            return await visitor.post("/widget/v1/attempt", headers=headers, json={})

    victim = await start("198.51.100.20")
    assert victim.status_code == 201, victim.text
    retry = await start("198.51.100.20")  # the same visitor's retry still replays
    assert retry.headers.get("idempotent-replayed") == "true"
    assert retry.json()["attemptToken"] == victim.json()["attemptToken"]
    other = await start("203.0.113.77")
    assert other.status_code == 201 and "idempotent-replayed" not in other.headers
    assert other.json()["attemptToken"] != victim.json()["attemptToken"]

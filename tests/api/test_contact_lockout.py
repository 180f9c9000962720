"""The per-contact wrong-code lockout cannot be turned against a contact's owner (issue 12):
guesses count against a contact only when a code was sent to it on that proof, the lockout is
per account, and a locked-out owner gets back in with a freshly sent code."""

import pytest

from app.identity import store
from tests.builders import build_practice
from tests.support import FakeClock, make_partner, problem_code


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(store, "clock", fake)
    return fake


async def code_for(pool, account_id, email):
    return await pool.fetchval(
        "SELECT params->>'code' FROM notifications WHERE account_id = $1 AND recipient = $2"
        " AND purpose = 'verification_code' ORDER BY id DESC LIMIT 1",
        account_id,
        email,
    )


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


async def proof_with_code(partner, pool, clock, email):
    proof = await partner.create("/identity-proof", {"verificationMethod": "EMAIL"})
    clock.advance(minutes=3)  # past the per-contact send limits
    sent = await partner.post(f"/identity-proof/{proof['id']}/send", json={"email": email})
    assert sent.status_code == 200, sent.text
    return proof["id"], await code_for(pool, partner.account_id, email)


async def verify(partner, proof_id, code, email):
    return await partner.post(
        f"/identity-proof/{proof_id}/verify", json={"code": code, "email": email}
    )


async def test_guesses_for_a_contact_nobody_sent_a_code_to_never_lock_it(
    partner, client, pool, clock
):
    """The reported attack: 5 wrong codes on each of 4 anonymous widget attempts, for a
    contact no code was ever sent to."""
    practice = await build_practice(partner)  # EMAIL
    victim = f"victim.{partner.account_id}@example.com"
    key = {"X-Widget-Key": practice.publishable_key}
    for _ in range(4):
        started = (await client.post("/widget/v1/attempt", headers=key)).json()
        headers = {**key, "Authorization": f"Bearer {started['attemptToken']}"}
        for guess in ("000000", "111111", "222222", "333333", "444444"):
            r = await client.post(
                "/widget/v1/attempt/verify-code",
                headers=headers,
                json={"code": guess, "email": victim},
            )
            assert r.status_code == 200 and r.json()["verified"] is False

    elsewhere = await make_partner(client, pool)
    for owner in (elsewhere, partner):  # another practice, and the attacked one
        proof_id, code = await proof_with_code(owner, pool, clock, victim)
        answer = await verify(owner, proof_id, code, victim)
        assert answer.status_code == 200, answer.text
        assert answer.json()["verified"] is True


async def test_a_locked_out_owner_gets_back_in_with_a_freshly_sent_code(
    partner, client, pool, clock
):
    victim = f"owner.{partner.account_id}@example.com"
    for _ in range(4):  # 20 wrong codes, each on a proof whose code went to the victim
        proof_id, code = await proof_with_code(partner, pool, clock, victim)
        for _ in range(5):
            assert (await verify(partner, proof_id, wrong(code), victim)).status_code == 200

    # an attacker's fresh proof and send buys exactly one guess
    proof_id, code = await proof_with_code(partner, pool, clock, victim)
    assert (await verify(partner, proof_id, wrong(code), victim)).json()["verified"] is False
    locked = await verify(partner, proof_id, code, victim)
    assert locked.status_code == 429 and problem_code(locked) == "too_many_attempts"

    # the owner asks for a code and types it: in, and the lockout is lifted
    proof_id, code = await proof_with_code(partner, pool, clock, victim)
    assert (await verify(partner, proof_id, code, victim)).json()["verified"] is True
    proof_id, code = await proof_with_code(partner, pool, clock, victim)
    assert (await verify(partner, proof_id, wrong(code), victim)).json()["verified"] is False
    assert (await verify(partner, proof_id, code, victim)).json()["verified"] is True

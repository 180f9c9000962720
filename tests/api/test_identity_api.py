"""Identity proof over HTTP against real PostgreSQL: flows, code policy, abuse limits,
enumeration resistance, patient lookup and log hygiene.

Codes are read from the queued `notifications` row (before any worker could scrub them).
Time is moved with the `clock` fixture (it replaces `app.identity.store.clock`); nothing
sleeps. Per-contact limits are global, so every test uses fresh random contacts."""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from datetime import datetime, timedelta

import asyncpg
import phonenumbers
import pytest

from app.identity import store
from tests.conftest import TEST_SECRET_KEY
from tests.support import FakeClock, Partner, make_partner, problem_code


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(store, "clock", fake)
    return fake


def new_email() -> str:
    return f"pat.{secrets.token_hex(5)}@example.com"


def new_phone() -> str:
    """A random valid US number as 10 digits (the API answers E.164)."""
    while True:
        digits = f"202{2 + secrets.randbelow(8)}{secrets.randbelow(10**6):06d}"
        if phonenumbers.is_valid_number(phonenumbers.parse(digits, "US")):
            return digits


def e164(us_digits: str) -> str:
    return "+1" + us_digits


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


async def new_proof(partner: Partner, method: str = "EMAIL") -> dict:
    return await partner.create("/identity-proof", {"verificationMethod": method})


async def send(partner: Partner, proof_id: int, **contact: str):
    return await partner.post(f"/identity-proof/{proof_id}/send", json=contact)


async def verify(partner: Partner, proof_id: int, code: str, **contact: str):
    return await partner.post(f"/identity-proof/{proof_id}/verify", json={"code": code, **contact})


async def last_code(pool: asyncpg.Pool, account_id: int, channel: str) -> str:
    code = await pool.fetchval(
        "SELECT params->>'code' FROM notifications WHERE account_id = $1 AND channel = $2 "
        "AND purpose = 'verification_code' ORDER BY id DESC LIMIT 1",
        account_id,
        channel,
    )
    assert code is not None
    return code


async def notification_count(pool: asyncpg.Pool, account_id: int) -> int:
    return await pool.fetchval(
        "SELECT count(*) FROM notifications WHERE account_id = $1", account_id
    )


async def sent_code(partner: Partner, pool: asyncpg.Pool, proof_id: int, **contact: str) -> str:
    response = await send(partner, proof_id, **contact)
    assert response.status_code == 200, response.text
    assert response.json() == {"sent": True}
    return await last_code(pool, partner.account_id, "EMAIL" if "email" in contact else "SMS")


async def add_patient(
    pool: asyncpg.Pool, account_id: int, *, email: str | None = None, phone: str | None = None
) -> int:
    return await pool.fetchval(
        "INSERT INTO patients (account_id, first_name, last_name, date_of_birth, email, "
        "mobile_phone) VALUES ($1, 'Pat', 'Doe', '1980-01-02', $2, $3) RETURNING id",
        account_id,
        email,
        phone,
    )


# --- create and read ---------------------------------------------------------------------------


async def test_create_returns_the_token_once_and_stores_only_its_hmac(partner, pool):
    response = await partner.post("/identity-proof", json={"verificationMethod": "email_and_sms"})
    assert response.status_code == 201, response.text
    assert "no-store" in response.headers["cache-control"]
    body = response.json()
    assert set(body) == {
        "id",
        "token",
        "verificationMethod",
        "isVerified",
        "missingVerifications",
        "createdAt",
        "expiresAt",
    }
    assert body["verificationMethod"] == "EMAIL_AND_SMS"
    assert body["isVerified"] is False
    assert body["missingVerifications"] == ["EMAIL", "SMS"]
    created = datetime.fromisoformat(body["createdAt"])
    assert datetime.fromisoformat(body["expiresAt"]) - created == timedelta(minutes=60)
    assert len(body["token"]) >= 40

    got = await partner.get(f"/identity-proof/{body['id']}")
    assert got.status_code == 200
    assert got.json() == {k: v for k, v in body.items() if k != "token"}

    row = await pool.fetchrow("SELECT * FROM identity_proofs WHERE id = $1", body["id"])
    assert body["token"] not in str(dict(row))
    assert row["token_hash"] != body["token"]


@pytest.mark.parametrize("method", ["EMAIL_OR_SMS", "", "PHONE"])
async def test_unknown_method_is_a_validation_error(partner, method):
    response = await partner.post("/identity-proof", json={"verificationMethod": method})
    assert response.status_code == 400
    assert problem_code(response) == "validation_failed"
    assert response.json()["errors"][0]["field"] == "verificationMethod"


async def test_missing_method_is_a_validation_error(partner):
    response = await partner.post("/identity-proof", json={})
    assert response.status_code == 400
    assert problem_code(response) == "validation_failed"


async def test_proof_by_token_finds_only_live_proofs_of_the_account(partner, pool, client, clock):
    proof = await new_proof(partner)
    other = await make_partner(client, pool)
    async with pool.acquire() as conn:
        kw = {"secret_key": TEST_SECRET_KEY}
        found = await store.proof_by_token(conn, partner.account_id, proof["token"], **kw)
        assert found is not None and found.id == proof["id"]
        assert found.missing_verifications == ["EMAIL"]
        assert await store.proof_by_token(conn, partner.account_id, "idp_nope", **kw) is None
        assert await store.proof_by_token(conn, other.account_id, proof["token"], **kw) is None
        assert (
            await store.proof_by_token(
                conn, partner.account_id, proof["token"], secret_key="x" * 40
            )
            is None
        )
        clock.advance(minutes=60)
        assert await store.proof_by_token(conn, partner.account_id, proof["token"], **kw) is None


async def test_identity_proof_needs_the_scheduling_scope(client, pool):
    config_only = await make_partner(client, pool, scopes=("config",))
    response = await config_only.post("/identity-proof", json={"verificationMethod": "EMAIL"})
    assert response.status_code == 403
    assert problem_code(response) == "forbidden"


# --- full flows ---------------------------------------------------------------------------------


async def test_email_flow(partner, pool):
    proof = await new_proof(partner, "email")
    email = new_email()
    shouted = email.replace("@example.com", "@EXAMPLE.COM")
    code = await sent_code(partner, pool, proof["id"], email=shouted)

    row = await pool.fetchrow(
        "SELECT * FROM notifications WHERE account_id = $1 ORDER BY id DESC LIMIT 1",
        partner.account_id,
    )
    name = await pool.fetchval("SELECT name FROM accounts WHERE id = $1", partner.account_id)
    assert row["status"] == "QUEUED" and row["purpose"] == "verification_code"
    assert row["recipient"] == email
    assert row["params"] == {"practice": name, "code": code}
    assert len(code) == 6 and code.isdigit()

    stored = await pool.fetch("SELECT * FROM identity_codes WHERE proof_id = $1", proof["id"])
    assert len(stored) == 1
    assert code not in str(dict(stored[0])) and email not in str(dict(stored[0]))

    response = await verify(partner, proof["id"], code, email=shouted)
    assert response.status_code == 200, response.text
    assert response.json() == {"verified": True, "verifiedEmail": email}

    got = (await partner.get(f"/identity-proof/{proof['id']}")).json()
    assert got["isVerified"] is True
    assert got["missingVerifications"] == []
    assert got["verifiedEmail"] == email
    assert "verifiedPhone" not in got


async def test_sms_flow_accepts_us_ten_digits_and_answers_e164(partner, pool):
    proof = await new_proof(partner, "SMS")
    phone = new_phone()
    formatted = f"({phone[:3]}) {phone[3:6]}-{phone[6:]}"
    code = await sent_code(partner, pool, proof["id"], phone=formatted)
    recipient = await pool.fetchval(
        "SELECT recipient FROM notifications WHERE account_id = $1", partner.account_id
    )
    assert recipient == e164(phone)

    response = await verify(partner, proof["id"], code, phone=e164(phone))
    assert response.json() == {"verified": True, "verifiedPhone": e164(phone)}
    got = (await partner.get(f"/identity-proof/{proof['id']}")).json()
    assert got["isVerified"] is True and got["verifiedPhone"] == e164(phone)


async def test_email_and_sms_flow_shrinks_missing_verifications(partner, pool, clock):
    proof = await new_proof(partner, "EMAIL_AND_SMS")
    email, phone = new_email(), new_phone()
    path = f"/identity-proof/{proof['id']}"

    email_code = await sent_code(partner, pool, proof["id"], email=email)
    sms_code = await sent_code(partner, pool, proof["id"], phone=phone)
    assert (await partner.get(path)).json()["missingVerifications"] == ["EMAIL", "SMS"]

    first = await verify(partner, proof["id"], sms_code, phone=phone)
    assert first.json() == {"verified": True, "verifiedPhone": e164(phone)}
    after_sms = (await partner.get(path)).json()
    assert after_sms["missingVerifications"] == ["EMAIL"] and after_sms["isVerified"] is False

    second = await verify(partner, proof["id"], email_code, email=email)
    assert second.json() == {
        "verified": True,
        "verifiedEmail": email,
        "verifiedPhone": e164(phone),
    }
    done = (await partner.get(path)).json()
    assert done["missingVerifications"] == [] and done["isVerified"] is True


# --- request validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [{}, {"email": "a@example.com", "phone": "2025550123"}, {"email": None, "phone": None}],
)
async def test_send_needs_exactly_one_contact(partner, body):
    proof = await new_proof(partner, "EMAIL_AND_SMS")
    response = await partner.post(f"/identity-proof/{proof['id']}/send", json=body)
    assert response.status_code == 400
    assert problem_code(response) == "validation_failed"


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("phone", "+15551234567", "validation_failed"),  # no such number
        ("phone", "+442079460018", "phone_not_allowed"),  # a country not allowed
        ("email", "not-an-email@", "validation_failed"),
    ],
)
async def test_bad_contacts_are_400_without_echo(partner, pool, field, value, code):
    proof = await new_proof(partner, "EMAIL_AND_SMS")
    response = await send(partner, proof["id"], **{field: value})
    assert response.status_code == 400
    assert problem_code(response) == code
    assert response.json()["errors"][0]["field"] == field
    assert value not in response.text
    assert await notification_count(pool, partner.account_id) == 0


async def test_verify_needs_a_six_digit_code_and_one_contact(partner):
    proof = await new_proof(partner)
    for body in (
        {"code": "12345", "email": new_email()},
        {"code": "abcdef", "email": new_email()},
        {"code": "123456"},
        {"email": new_email()},
    ):
        response = await partner.post(f"/identity-proof/{proof['id']}/verify", json=body)
        assert response.status_code == 400, body
        assert problem_code(response) == "validation_failed"


async def test_channel_must_be_one_the_proof_needs(partner, pool):
    proof = await new_proof(partner, "EMAIL")
    response = await send(partner, proof["id"], phone=new_phone())
    assert response.status_code == 422
    assert problem_code(response) == "channel_not_required"
    response = await verify(partner, proof["id"], "123456", phone=new_phone())
    assert response.status_code == 422
    assert problem_code(response) == "channel_not_required"
    assert await notification_count(pool, partner.account_id) == 0


# --- code policy --------------------------------------------------------------------------------


async def test_wrong_used_and_expired_codes_are_verified_false(partner, pool, clock):
    proof = await new_proof(partner)
    email = new_email()
    code = await sent_code(partner, pool, proof["id"], email=email)

    response = await verify(partner, proof["id"], wrong(code), email=email)
    assert response.status_code == 200
    assert response.json() == {"verified": False}
    # the code was sent to `email`; another address cannot use it
    assert (await verify(partner, proof["id"], code, email=new_email())).json() == {
        "verified": False
    }
    assert (await verify(partner, proof["id"], code, email=email)).json()["verified"] is True
    assert (await verify(partner, proof["id"], code, email=email)).json() == {"verified": False}

    later = await new_proof(partner)
    clock.advance(seconds=60)
    code = await sent_code(partner, pool, later["id"], email=email)
    clock.advance(minutes=10)
    assert (await verify(partner, later["id"], code, email=email)).json() == {"verified": False}


async def test_sixth_attempt_after_five_wrong_codes_is_429_even_with_the_right_code(partner, pool):
    proof = await new_proof(partner)
    email = new_email()
    code = await sent_code(partner, pool, proof["id"], email=email)
    for _ in range(5):
        response = await verify(partner, proof["id"], wrong(code), email=email)
        assert response.json() == {"verified": False}

    response = await verify(partner, proof["id"], code, email=email)
    assert response.status_code == 429
    assert problem_code(response) == "too_many_attempts"
    body = response.json()
    assert int(response.headers["retry-after"]) == body["retryAfterSeconds"] > 0
    assert code not in response.text and email not in response.text
    got = (await partner.get(f"/identity-proof/{proof['id']}")).json()
    assert got["isVerified"] is False


async def test_a_new_code_does_not_reset_the_wrong_code_count(partner, pool, clock):
    proof = await new_proof(partner)
    email = new_email()
    first = await sent_code(partner, pool, proof["id"], email=email)
    for _ in range(3):
        await verify(partner, proof["id"], wrong(first), email=email)
    clock.advance(seconds=61)
    second = await sent_code(partner, pool, proof["id"], email=email)
    for _ in range(2):
        assert (await verify(partner, proof["id"], wrong(second), email=email)).json() == {
            "verified": False
        }
    response = await verify(partner, proof["id"], second, email=email)
    assert response.status_code == 429
    assert problem_code(response) == "too_many_attempts"


async def test_a_new_send_supersedes_the_earlier_code(partner, pool, clock):
    proof = await new_proof(partner)
    email = new_email()
    first = await sent_code(partner, pool, proof["id"], email=email)
    clock.advance(seconds=60)
    second = await sent_code(partner, pool, proof["id"], email=email)
    if first != second:
        assert (await verify(partner, proof["id"], first, email=email)).json() == {
            "verified": False
        }
    assert (await verify(partner, proof["id"], second, email=email)).json()["verified"] is True


async def test_concurrent_verifies_of_the_right_code_verify_once(partner, pool):
    proof = await new_proof(partner, "SMS")
    phone = new_phone()
    code = await sent_code(partner, pool, proof["id"], phone=phone)
    responses = await asyncio.gather(
        *(verify(partner, proof["id"], code, phone=phone) for _ in range(2))
    )
    results = sorted(r.json()["verified"] for r in responses)
    assert results == [False, True]
    consumed = await pool.fetchval(
        "SELECT count(*) FROM identity_codes WHERE proof_id = $1 AND consumed_at IS NOT NULL",
        proof["id"],
    )
    assert consumed == 1


async def test_concurrent_wrong_codes_cannot_exceed_five(partner, pool):
    proof = await new_proof(partner)
    email = new_email()
    code = await sent_code(partner, pool, proof["id"], email=email)
    responses = await asyncio.gather(
        *(verify(partner, proof["id"], wrong(code), email=email) for _ in range(12))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 5 + [429] * 7
    assert (await verify(partner, proof["id"], code, email=email)).status_code == 429
    failed = await pool.fetchval(
        "SELECT failed_attempts FROM identity_proofs WHERE id = $1", proof["id"]
    )
    assert failed == 5


async def lock_out(partner: Partner, pool: asyncpg.Pool, clock: FakeClock, email: str) -> None:
    """20 wrong codes for `email` in the partner's account, each on a proof whose code went
    to that email (4 proofs x 5)."""
    for _ in range(4):
        proof = await new_proof(partner)
        clock.advance(minutes=3)  # past the send limits
        code = await sent_code(partner, pool, proof["id"], email=email)
        for _ in range(5):
            assert (await verify(partner, proof["id"], wrong(code), email=email)).status_code == 200


async def test_twenty_wrong_codes_on_one_contact_in_a_day_lock_it_in_that_account(
    partner, pool, client, clock
):
    email = new_email()
    await lock_out(partner, pool, clock, email)

    # a code sent before a wrong guess on its proof: locked, even for the right code
    proof = await new_proof(partner)
    clock.advance(minutes=3)
    code = await sent_code(partner, pool, proof["id"], email=email)
    assert (await verify(partner, proof["id"], wrong(code), email=email)).status_code == 200
    response = await verify(partner, proof["id"], code, email=email)
    assert response.status_code == 429
    assert problem_code(response) == "too_many_attempts"
    assert 0 < response.json()["retryAfterSeconds"] <= 24 * 3600

    # another contact in the same account is unaffected
    fresh = await new_proof(partner)
    other_email = new_email()
    other_code = await sent_code(partner, pool, fresh["id"], email=other_email)
    assert (await verify(partner, fresh["id"], other_code, email=other_email)).json()["verified"]

    # the same person at another practice is unaffected: the lockout is per account
    elsewhere = await make_partner(client, pool)
    proof = await new_proof(elsewhere)
    clock.advance(minutes=3)
    code = await sent_code(elsewhere, pool, proof["id"], email=email)
    assert (await verify(elsewhere, proof["id"], code, email=email)).json()["verified"] is True

    clock.advance(hours=24, seconds=1)
    proof = await new_proof(partner)
    code = await sent_code(partner, pool, proof["id"], email=email)
    assert (await verify(partner, proof["id"], code, email=email)).json()["verified"] is True


# --- send limits and enumeration ----------------------------------------------------------------


async def test_send_cooldown_is_429_and_sends_nothing(partner, pool, clock):
    proof = await new_proof(partner, "SMS")
    phone = new_phone()
    await sent_code(partner, pool, proof["id"], phone=phone)
    before = await notification_count(pool, partner.account_id)
    codes_before = await pool.fetchval("SELECT count(*) FROM identity_codes")

    clock.advance(seconds=20)
    again = await send(partner, proof["id"], phone=e164(phone))  # same contact, other spelling
    assert again.status_code == 429
    assert problem_code(again) == "send_rate_limited"
    assert again.headers["retry-after"] == "40"
    assert again.json()["retryAfterSeconds"] == 40
    assert phone not in again.text
    assert await notification_count(pool, partner.account_id) == before
    assert await pool.fetchval("SELECT count(*) FROM identity_codes") == codes_before

    # the limit is per contact, not per proof
    other = await new_proof(partner, "SMS")
    assert (await send(partner, other["id"], phone=phone)).status_code == 429
    assert (await send(partner, other["id"], phone=new_phone())).status_code == 200

    clock.advance(seconds=40)
    assert (await send(partner, proof["id"], phone=phone)).status_code == 200


async def test_at_most_five_sends_per_contact_in_ten_minutes(partner, pool, clock):
    proof = await new_proof(partner)
    email = new_email()
    for _ in range(5):
        assert (await send(partner, proof["id"], email=email)).status_code == 200
        clock.advance(seconds=60)
    before = await notification_count(pool, partner.account_id)
    response = await send(partner, proof["id"], email=email)
    assert response.status_code == 429
    assert problem_code(response) == "send_rate_limited"
    assert response.json()["retryAfterSeconds"] == 300  # until the first send is 10 min old
    assert await notification_count(pool, partner.account_id) == before
    clock.advance(seconds=300)
    assert (await send(partner, proof["id"], email=email)).status_code == 200


async def test_known_and_unknown_contacts_get_identical_send_responses(partner, pool):
    known_email, unknown_email = new_email(), new_email()
    known_phone, unknown_phone = new_phone(), new_phone()
    await add_patient(pool, partner.account_id, email=known_email, phone=e164(known_phone))

    def shape(response):
        headers = {k: v for k, v in response.headers.items() if k.lower() != "x-request-id"}
        return response.status_code, response.content, headers

    for field, known, unknown in (
        ("email", known_email, unknown_email),
        ("phone", known_phone, unknown_phone),
    ):
        proof = await new_proof(partner, "EMAIL_AND_SMS")
        a = await send(partner, proof["id"], **{field: known})
        b = await send(partner, proof["id"], **{field: unknown})
        assert shape(a) == shape(b)
        assert a.status_code == 200 and a.content == b'{"sent":true}'
    # both were really sent: the response is not hiding a difference in work done
    assert await notification_count(pool, partner.account_id) == 4


# --- patient lookup -----------------------------------------------------------------------------


async def verified_proof(partner, pool, method="EMAIL", *, email=None, phone=None) -> dict:
    proof = await new_proof(partner, method)
    if email:
        code = await sent_code(partner, pool, proof["id"], email=email)
        assert (await verify(partner, proof["id"], code, email=email)).json()["verified"]
    if phone:
        code = await sent_code(partner, pool, proof["id"], phone=phone)
        assert (await verify(partner, proof["id"], code, phone=phone)).json()["verified"]
    return proof


async def test_patient_lookup_by_email(partner, pool, client):
    email = new_email()
    proof = await new_proof(partner)
    path = f"/identity-proof/{proof['id']}/patient"
    response = await partner.get(path)
    assert response.status_code == 422
    assert problem_code(response) == "not_verified"
    assert response.json()["missingVerifications"] == ["EMAIL"]

    code = await sent_code(partner, pool, proof["id"], email=email)
    await verify(partner, proof["id"], code, email=email)
    other = await make_partner(client, pool)
    await add_patient(pool, other.account_id, email=email)  # another account's patient
    response = await partner.get(path)
    assert response.status_code == 404
    assert problem_code(response) == "not_found"

    patient_id = await add_patient(pool, partner.account_id, email=email.upper())
    response = await partner.get(path)
    assert response.status_code == 200
    assert response.json() == {"patientId": patient_id}

    await add_patient(pool, partner.account_id, email=email)
    response = await partner.get(path)
    assert response.status_code == 422
    assert problem_code(response) == "ambiguous_match"
    assert email not in response.text


async def test_patient_lookup_by_phone(partner, pool):
    phone = new_phone()
    patient_id = await add_patient(pool, partner.account_id, phone=e164(phone))
    await add_patient(pool, partner.account_id, phone=e164(new_phone()))
    proof = await verified_proof(partner, pool, "SMS", phone=phone)
    response = await partner.get(f"/identity-proof/{proof['id']}/patient")
    assert response.status_code == 200
    assert response.json() == {"patientId": patient_id}


async def test_patient_lookup_with_both_contacts_needs_both_to_match(partner, pool):
    email, phone = new_email(), new_phone()
    await add_patient(pool, partner.account_id, email=email, phone=e164(new_phone()))
    await add_patient(pool, partner.account_id, email=new_email(), phone=e164(phone))
    proof = await new_proof(partner, "EMAIL_AND_SMS")
    path = f"/identity-proof/{proof['id']}/patient"
    code = await sent_code(partner, pool, proof["id"], email=email)
    await verify(partner, proof["id"], code, email=email)
    half = await partner.get(path)
    assert half.status_code == 422 and problem_code(half) == "not_verified"
    assert half.json()["missingVerifications"] == ["SMS"]

    code = await sent_code(partner, pool, proof["id"], phone=phone)
    await verify(partner, proof["id"], code, phone=phone)
    assert (await partner.get(path)).status_code == 404  # each matches a different patient

    both = await add_patient(pool, partner.account_id, email=email, phone=e164(phone))
    response = await partner.get(path)
    assert response.status_code == 200 and response.json() == {"patientId": both}


# --- accounts and expiry ------------------------------------------------------------------------


async def test_another_accounts_proof_is_404_everywhere(partner, pool, client):
    mine = await new_proof(partner)
    intruder = await make_partner(client, pool)
    email = new_email()
    base = f"/identity-proof/{mine['id']}"
    for response in (
        await intruder.get(base),
        await intruder.get(f"{base}/patient"),
        await intruder.post(f"{base}/send", json={"email": email}),
        await intruder.post(f"{base}/verify", json={"code": "123456", "email": email}),
        await partner.get("/identity-proof/999999999"),
    ):
        assert response.status_code == 404
        assert problem_code(response) == "not_found"
    assert await notification_count(pool, intruder.account_id) == 0
    assert await notification_count(pool, partner.account_id) == 0


async def test_an_expired_proof_refuses_sends_verifies_and_lookups(partner, pool, clock):
    email = new_email()
    proof = await new_proof(partner)
    code = await sent_code(partner, pool, proof["id"], email=email)
    clock.advance(minutes=60)
    base = f"/identity-proof/{proof['id']}"
    for response in (
        await partner.post(f"{base}/send", json={"email": new_email()}),
        await partner.post(f"{base}/verify", json={"code": code, "email": email}),
        await partner.get(f"{base}/patient"),
    ):
        assert response.status_code == 422
        assert problem_code(response) == "proof_expired"
    assert (await partner.get(base)).status_code == 200


# --- logs ---------------------------------------------------------------------------------------


async def test_no_code_contact_or_token_reaches_the_logs(partner, pool, caplog):
    caplog.set_level(logging.DEBUG)
    email, phone = new_email(), new_phone()
    await add_patient(pool, partner.account_id, email=email, phone=e164(phone))
    proof = await new_proof(partner, "EMAIL_AND_SMS")
    secrets_seen = [proof["token"], email, phone, e164(phone)]
    email_code = await sent_code(partner, pool, proof["id"], email=email)
    sms_code = await sent_code(partner, pool, proof["id"], phone=phone)
    secrets_seen += [email_code, sms_code]
    await verify(partner, proof["id"], wrong(email_code), email=email)
    await verify(partner, proof["id"], email_code, email=email)
    await verify(partner, proof["id"], sms_code, phone=phone)
    await send(partner, proof["id"], phone=phone)  # 429, cooldown
    await send(partner, proof["id"], phone="+15551234567")  # 400
    assert (await partner.get(f"/identity-proof/{proof['id']}/patient")).status_code == 200

    assert caplog.records, "the flow should have logged something"
    for record in caplog.records:
        # message, arguments and `extra` fields; not the record's own numbers (timestamps,
        # thread ids), where six random digits could turn up by chance
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD_RECORD_FIELDS}
        text = " ".join([record.getMessage(), repr(record.args), repr(extras)])
        text += record.exc_text or ""
        for secret in secrets_seen:
            assert not re.search(rf"(?<![0-9A-Za-z]){re.escape(secret)}(?![0-9A-Za-z])", text), (
                record.name,
                record.msg,
            )
        assert "5551234567" not in text


_STANDARD_RECORD_FIELDS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
}

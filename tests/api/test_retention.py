"""The retention pass of the periodic jobs: what goes when, what stays, and that the funnel and
the attempt records read the same before and after."""

import secrets
from datetime import UTC, datetime, timedelta

import msgspec

from app.config import Settings
from app.identity import sms_limits
from app.identity.sms_limits import SmsCaller
from app.jobs import run_periodic_once
from app.notifications.channels import build_channels
from app.notifications.worker import run_once as deliver
from app.retention import ERASED, run_retention
from tests.builders import build_practice
from tests.support import frozen_clock_at, last_code, make_account

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SLOT = {"startDateTime": "2026-03-09T09:00:00-04:00"}


frozen_clock = frozen_clock_at(NOW)


async def verified_proof(p, pool, email, *, setting_id=None):
    proof = await p.create("/identity-proof", {"verificationMethod": "EMAIL"})
    attempt = None
    if setting_id is not None:
        attempt = await p.create(
            "/self-scheduling/attempt",
            {"selfSchedulingSettingId": setting_id, "identityProofId": proof["id"]},
        )
    assert (await p.post(f"/identity-proof/{proof['id']}/send", json={"email": email})).json()
    wrong = await p.post(
        f"/identity-proof/{proof['id']}/verify", json={"code": "000000", "email": email}
    )
    assert wrong.status_code == 200  # a failure on record (or, rarely, the right code)
    code = await last_code(pool, p.account_id)
    ok = await p.post(f"/identity-proof/{proof['id']}/verify", json={"code": code, "email": email})
    assert ok.status_code == 200
    return proof["id"], attempt and attempt["id"]


async def contacts(pool, proof_id):
    row = await pool.fetchrow(
        "SELECT verified_email, verified_phone FROM identity_proofs WHERE id = $1", proof_id
    )
    return row["verified_email"], row["verified_phone"]


async def test_retention_erases_on_time_and_keeps_the_funnel(partner, pool, settings, frozen_clock):
    practice = await build_practice(partner, method="EMAIL")
    p, sid = partner, practice.setting_id
    slot = {
        "appointmentTypeId": practice.appointment_type_id,
        "locationId": practice.location_ids[0],
        "practitionerId": practice.practitioner_ids[0],
        "schedulerConfigId": practice.config_ids[0],
        **SLOT,
    }
    tag = secrets.token_hex(3)
    # X: verified, then abandoned without a patient -> its contact goes after 30 days
    x_proof, x = await verified_proof(p, pool, f"ret-x-{tag}@example.com", setting_id=sid)
    # Y: verified, patient set, booked -> kept
    y_proof, y = await verified_proof(p, pool, f"ret-y-{tag}@example.com", setting_id=sid)
    person = {"firstName": "Ret", "lastName": "Ention", "dateOfBirth": "1980-02-03"}
    assert (await p.post(f"/self-scheduling/attempt/{y}/patient", json=person)).status_code == 201
    booked = await p.post(f"/self-scheduling/attempt/{y}/appointment", json=slot)
    assert booked.status_code == 201, booked.text
    # W: verified, patient set, then abandoned -> kept (the contact belongs to a patient)
    w_proof, w = await verified_proof(p, pool, f"ret-w-{tag}@example.com", setting_id=sid)
    other = {**person, "firstName": "Other"}
    assert (await p.post(f"/self-scheduling/attempt/{w}/patient", json=other)).status_code == 201
    # Z: a proof never bound to an attempt -> its contact goes 30 days after it was made
    z_proof, _ = await verified_proof(p, pool, f"ret-z-{tag}@example.com")
    # an idempotency record
    key = {"Idempotency-Key": secrets.token_hex(8)}
    annex = await p.post("/location", json={"name": "Annex", "timeZone": "UTC"}, headers=key)
    assert annex.status_code == 201

    codes = await pool.fetch(
        "SELECT id FROM identity_codes WHERE proof_id = ANY($1::bigint[])",
        [x_proof, y_proof, w_proof, z_proof],
    )
    assert len(codes) == 4
    # the outbox stamps rows with the database clock: deliver them, then date them to NOW
    channels = build_channels(settings)
    while await deliver(pool, settings, channels, now=datetime.now(UTC) + timedelta(minutes=1)):
        pass
    await pool.execute(
        "UPDATE notifications SET created_at = $2 WHERE account_id = $1", partner.account_id, NOW
    )
    assert not await pool.fetchval(
        "SELECT count(*) FROM notifications WHERE account_id = $1 AND status = 'QUEUED'",
        partner.account_id,
    )

    # five minutes on: the codes are spent, so their hashes go; the rows (the send log) stay
    frozen_clock["now"] = NOW + timedelta(minutes=5)
    await run_periodic_once(pool, settings, now=frozen_clock["now"])
    hashes = await pool.fetch(
        "SELECT code_hash FROM identity_codes WHERE id = ANY($1::bigint[])",
        [c["id"] for c in codes],
    )
    assert [h["code_hash"] for h in hashes] == [""] * 4
    assert await contacts(pool, x_proof) == (f"ret-x-{tag}@example.com", None)

    # 31 minutes on: idle attempts are abandoned; the code rows leave the send-limit window
    frozen_clock["now"] = NOW + timedelta(minutes=31)
    await run_periodic_once(pool, settings, now=frozen_clock["now"])
    statuses = await pool.fetch(
        "SELECT id, status FROM self_scheduling_attempts WHERE id = ANY($1::bigint[])", [x, y, w]
    )
    assert {r["id"]: r["status"] for r in statuses} == {x: "ABANDONED", y: "BOOKED", w: "ABANDONED"}
    left = await pool.fetchval(
        "SELECT count(*) FROM identity_codes WHERE id = ANY($1::bigint[])", [c["id"] for c in codes]
    )
    assert left == 0
    params = {"from": "2026-03-01", "to": "2026-03-03", "groupBy": "day"}
    funnel_before = (await p.get("/self-scheduling/funnel", params=params)).json()
    attempts_before = (await p.get("/self-scheduling/attempt")).json()
    csv_before = (
        await p.get("/self-scheduling/funnel", params=params, headers={"Accept": "text/csv"})
    ).text
    assert sum(g["abandoned"] for g in funnel_before["groups"]) == 2

    # a day on: idempotency records and per-contact failures are gone; contacts stay
    frozen_clock["now"] = NOW + timedelta(days=1, minutes=1)
    await run_periodic_once(pool, settings, now=frozen_clock["now"])
    assert not await pool.fetchval(
        "SELECT count(*) FROM idempotency_keys WHERE idempotency_key = $1", key["Idempotency-Key"]
    )
    assert not await pool.fetchval(
        "SELECT count(*) FROM identity_failures WHERE proof_id = ANY($1::bigint[])",
        [x_proof, y_proof, w_proof, z_proof],
    )
    assert await contacts(pool, x_proof) == (f"ret-x-{tag}@example.com", None)

    # 30 days after the abandonment, not yet (the clock counts from abandonment)
    frozen_clock["now"] = NOW + timedelta(days=30, minutes=30)
    await run_periodic_once(pool, settings, now=frozen_clock["now"])
    assert await contacts(pool, x_proof) == (f"ret-x-{tag}@example.com", None)
    assert await contacts(pool, z_proof) == (None, None)  # made 30 days and 30 minutes ago

    frozen_clock["now"] = NOW + timedelta(days=30, minutes=32)
    done = await run_periodic_once(pool, settings, now=frozen_clock["now"])
    assert done["contactsErased"] >= 1
    assert await contacts(pool, x_proof) == (None, None)
    assert await contacts(pool, y_proof) == (f"ret-y-{tag}@example.com", None)
    assert await contacts(pool, w_proof) == (f"ret-w-{tag}@example.com", None)
    recipients = await pool.fetch(
        "SELECT recipient FROM notifications WHERE account_id = $1"
        " AND purpose = 'verification_code'",
        partner.account_id,
    )
    assert {r["recipient"] for r in recipients} == {ERASED}
    others = await pool.fetch(
        "SELECT recipient FROM notifications WHERE account_id = $1"
        " AND purpose <> 'verification_code'",
        partner.account_id,
    )
    assert others and ERASED not in {r["recipient"] for r in others}  # confirmations stay

    # nothing the analysts read has changed
    assert (await p.get("/self-scheduling/funnel", params=params)).json() == funnel_before
    assert (await p.get("/self-scheduling/attempt")).json() == attempts_before
    after_csv = await p.get(
        "/self-scheduling/funnel", params=params, headers={"Accept": "text/csv"}
    )
    assert after_csv.text == csv_before
    # a second pass finds nothing left to do
    again = await run_retention(pool, settings, frozen_clock["now"])
    assert again["contactsErased"] == 0 and again["codeRecipientsErased"] == 0
    assert msgspec.json.encode(again)


async def test_the_retention_period_is_configurable(partner, pool, settings, frozen_clock):
    practice = await build_practice(partner, method="EMAIL")
    proof, _ = await verified_proof(
        partner, pool, f"ret-cfg-{secrets.token_hex(3)}@example.com", setting_id=practice.setting_id
    )
    frozen_clock["now"] = NOW + timedelta(minutes=31)
    await run_periodic_once(pool, settings, now=frozen_clock["now"])
    short = msgspec.structs.replace(settings, retention_abandoned_days=2)
    frozen_clock["now"] = NOW + timedelta(days=2, hours=1)
    await run_retention(pool, short, frozen_clock["now"])
    assert await contacts(pool, proof) == (None, None)
    assert isinstance(short, Settings)


async def test_sms_budget_counts_go_once_their_day_is_over(pool, settings):
    """`sms_budget_usage` keeps one row per budget and UTC day; a day's row counts nothing once
    the day is over. The pass keeps today's and yesterday's (a process whose clock lags may
    still spend yesterday's) and deletes every older one; today's count is untouched, so the
    budget still refuses what it refused before."""
    account = await make_account(pool)
    setting_id = 2**62 + account  # budgets have no foreign key: an id no setting has
    setting = (setting_id, 2)
    caller = SmsCaller(account_daily_cap=100)
    today = datetime(2026, 5, 20, 15, 0, tzinfo=UTC)

    async def spend(at):
        async with pool.acquire() as conn:
            return await sms_limits.spend(conn, account, setting, caller, at)

    for days in (40, 3, 2, 1, 0, 0):
        assert await spend(today - timedelta(days=days)) is None
    assert await spend(today) is not None  # the setting's 2 a day are spent

    async def days_kept():
        rows = await pool.fetch(
            "SELECT scope, day FROM sms_budget_usage WHERE (scope, scope_id) IN"
            " (('account', $1), ('setting', $2)) ORDER BY scope, day",
            account,
            setting_id,
        )
        return [(r["scope"], (today.date() - r["day"]).days) for r in rows]

    assert await days_kept() == [
        ("account", 40), ("account", 3), ("account", 2), ("account", 1), ("account", 0),
        ("setting", 40), ("setting", 3), ("setting", 2), ("setting", 1), ("setting", 0),
    ]  # fmt: skip
    done = await run_retention(pool, settings, today)
    assert done["smsBudgetsPruned"] >= 6
    assert await days_kept() == [
        ("account", 1), ("account", 0), ("setting", 1), ("setting", 0),
    ]  # fmt: skip
    assert await spend(today) is not None  # today's count is intact
    assert (await run_retention(pool, settings, today))["smsBudgetsPruned"] == 0

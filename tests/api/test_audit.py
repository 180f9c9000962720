"""The PHI audit trail: exactly one audit_log row per call to a PHI endpoint (partner, widget,
manage link), with who/what/outcome and never a value; append-only; GET …/audit-log. Also: no
analytics response or view carries the PHI the same flow captured."""

import secrets
from datetime import UTC, datetime

import asyncpg
import pytest

from app.audit import store as audit_store
from tests.builders import build_practice
from tests.support import fetch_token, frozen_clock_at, problem_code

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
MONDAY_9 = "2026-03-09T09:00:00-04:00"
# distinctive values: none may appear in an audit row or an analytics response
FIRST, LAST, BORN = "Quorinda", "Vexhallow", "1971-07-19"
EMAIL, PHONE = "quorinda.vexhallow.8c1@example.com", "2025550187"
WIDGET_EMAIL = "quorinda.vexhallow.8c2@example.com"  # one send per contact per minute
NOTE = "Vexhallow prefers mornings"
PLANTED = (FIRST, LAST, BORN, "quorinda.vexhallow", "5550187", NOTE)


frozen_clock = frozen_clock_at(NOW)


def rid() -> str:
    return f"audit-test-{secrets.token_hex(6)}"


def slot_body(practice):
    return {
        "appointmentTypeId": practice.appointment_type_id,
        "locationId": practice.location_ids[0],
        "practitionerId": practice.practitioner_ids[0],
        "schedulerConfigId": practice.config_ids[0],
        "startDateTime": MONDAY_9,
    }


async def last_code(pool, account_id, channel):
    return await pool.fetchval(
        "SELECT params->>'code' FROM notifications WHERE account_id = $1 AND channel = $2"
        " AND purpose = 'verification_code' ORDER BY id DESC LIMIT 1",
        account_id,
        channel,
    )


class Calls:
    """Sends requests with fresh request ids and remembers the audit row each should leave."""

    def __init__(self):
        self.expected: dict[str, tuple | None] = {}

    def expect(self, response, row):
        self.expected[response.headers["x-request-id"]] = row
        return response

    async def rows(self, pool):
        rows = await pool.fetch(
            "SELECT * FROM audit_log WHERE request_id = ANY($1::text[]) ORDER BY id",
            list(self.expected),
        )
        return rows


def fields(row):
    return (
        row["actor"], row["action"], row["resource_type"], row["resource_id"],
        row["account_id"], row["outcome"],
    )  # fmt: skip


async def assert_no_planted_values(pool, account_id):
    texts = await pool.fetch(
        "SELECT row_to_json(a)::text AS t FROM audit_log a WHERE account_id = $1", account_id
    )
    assert texts
    for row in texts:
        for value in PLANTED:
            assert value.lower() not in row["t"].lower(), row["t"]


async def test_every_partner_phi_call_writes_exactly_one_row(partner, client, pool):
    practice = await build_practice(partner, method="EMAIL_AND_SMS")
    p, acc, me = partner, partner.account_id, partner.client_id
    calls = Calls()

    async def call(method, path, row, **kw):
        headers = {"X-Request-Id": rid(), **kw.pop("headers", {})}
        return calls.expect(await p.request(method, path, headers=headers, **kw), row)

    proof = (
        await call("POST", "/identity-proof", None, json={"verificationMethod": "EMAIL_AND_SMS"})
    ).json()
    pid = proof["id"]
    body = {"selfSchedulingSettingId": practice.setting_id, "identityProofId": pid}
    attempt = (await call("POST", "/self-scheduling/attempt", None, json=body)).json()
    base = f"/self-scheduling/attempt/{attempt['id']}"
    update_proof = (me, "update", "identity_proof", str(pid), acc, "success")
    await call("POST", f"/identity-proof/{pid}/send", update_proof, json={"email": EMAIL})
    code = await last_code(pool, acc, "EMAIL")
    r = await call(
        "POST", f"/identity-proof/{pid}/verify", update_proof, json={"code": code, "email": EMAIL}
    )
    assert r.json()["verified"] is True
    await call("POST", f"/identity-proof/{pid}/send", update_proof, json={"phone": PHONE})
    code = await last_code(pool, acc, "SMS")
    r = await call(
        "POST", f"/identity-proof/{pid}/verify", update_proof, json={"code": code, "phone": PHONE}
    )
    assert r.json()["verified"] is True
    r = await call(
        "GET", f"/identity-proof/{pid}", (me, "read", "identity_proof", str(pid), acc, "success")
    )
    assert r.json()["verifiedEmail"] == EMAIL
    r = await call(
        "GET", f"/identity-proof/{pid}/patient", (me, "read", "patient", None, acc, "error")
    )
    assert r.status_code == 404
    assert (await call("POST", f"{base}/hold", None, json=slot_body(practice))).status_code == 201

    patient_body = {"firstName": FIRST, "lastName": LAST, "dateOfBirth": BORN, "email": EMAIL}
    key = {"Idempotency-Key": secrets.token_hex(8)}
    r = await call("POST", f"{base}/patient", "patient-created", json=patient_body, headers=key)
    assert r.status_code == 201, r.text
    patient_id = r.json()["id"]
    calls.expected[r.headers["x-request-id"]] = (
        me, "create", "patient", str(patient_id), acc, "success"
    )  # fmt: skip
    replay = await call(
        "POST", f"{base}/patient", (me, "read", "patient", str(patient_id), acc, "success"),
        json=patient_body, headers=key,
    )  # fmt: skip
    assert replay.headers["idempotent-replayed"] == "true"
    r = await call(
        "GET", f"/identity-proof/{pid}/patient",
        (me, "read", "patient", str(patient_id), acc, "success"),
    )  # fmt: skip
    assert r.json() == {"patientId": patient_id}

    r = await call("POST", f"{base}/appointment", "booked", json=slot_body(practice))
    assert r.status_code == 201, r.text
    appointment_id = r.json()["id"]
    calls.expected[r.headers["x-request-id"]] = (
        me, "create", "appointment", str(appointment_id), acc, "success"
    )  # fmt: skip
    loc = practice.location_ids[0]
    one = (me, "read", "appointment", str(appointment_id), acc, "success")
    r = await call("GET", f"/location/{loc}/appointment", one)
    assert [a["id"] for a in r.json()["appointments"]] == [appointment_id]
    await call("GET", f"/location/{loc}/appointment/{appointment_id}", one)
    r = await call(
        "PUT", f"/location/{loc}/appointment/{appointment_id}",
        (me, "update", "appointment", str(appointment_id), acc, "success"), json={"note": NOTE},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    await call("GET", "/location", None)  # not PHI: no row

    # refused calls are recorded too: an analyst token, a bad token
    analyst = await fetch_token(client, p.client_id, p.secret, scope="analytics")
    r = await call(
        "GET", f"/identity-proof/{pid}",
        (me, "read", "identity_proof", str(pid), acc, "denied"), token=analyst,
    )  # fmt: skip
    assert r.status_code == 403
    r = await call(
        "POST", f"{base}/patient", (me, "create", "patient", None, acc, "denied"),
        token=analyst, json=patient_body,
    )  # fmt: skip
    assert r.status_code == 403
    r = await call(
        "GET", f"/identity-proof/{pid}",
        ("anonymous", "read", "identity_proof", str(pid), acc, "denied"), token="not.a.jwt",
    )  # fmt: skip
    assert r.status_code == 401

    rows = await calls.rows(pool)
    by_request: dict[str, list] = {}
    for row in rows:
        by_request.setdefault(row["request_id"], []).append(row)
    for request_id, expected in calls.expected.items():
        got = by_request.get(request_id, [])
        if expected is None:
            assert got == [], (request_id, got)
        else:
            assert len(got) == 1, (request_id, expected, got)
            assert fields(got[0]) == expected
            assert got[0]["at"] == NOW
    await assert_no_planted_values(pool, acc)

    # the analyst sees the same attempt without a trace of the person
    for path, params in [
        ("/self-scheduling/attempt", {}),
        ("/self-scheduling/funnel", {"from": "2026-03-01", "to": "2026-03-03"}),
        ("/self-scheduling/funnel.svg", {"from": "2026-03-01", "to": "2026-03-03"}),
    ]:
        for accept in ("application/json", "text/csv"):
            r = await p.get(path, params=params, token=analyst, headers={"Accept": accept})
            assert r.status_code == 200, r.text
            for value in (*PLANTED, "patientId", "appointmentId", "identityProofId"):
                assert value.lower() not in r.text.lower(), (path, value)
    listed = (await p.get("/self-scheduling/attempt", token=analyst)).json()["attempts"]
    assert [a["status"] for a in listed] == ["BOOKED"]
    view_rows = await pool.fetch(
        "SELECT row_to_json(v)::text AS t FROM analytics.attempts_with_steps v"
        " WHERE account_id = $1",
        acc,
    )
    for row in view_rows:
        assert '"patient_id"' not in row["t"]
        for value in PLANTED:
            assert value.lower() not in row["t"].lower()


async def test_widget_and_manage_link_calls(partner, client, pool):
    practice = await build_practice(partner, method="EMAIL")
    acc = partner.account_id
    calls = Calls()
    headers = {"X-Widget-Key": practice.publishable_key}

    async def call(method, path, row, **kw):
        h = {**headers, "X-Request-Id": rid()}
        return calls.expect(await client.request(method, f"/widget/v1{path}", headers=h, **kw), row)

    started = (await call("POST", "/attempt", None)).json()
    attempt_id = started["attempt"]["id"]
    proof_id = await pool.fetchval(
        "SELECT identity_proof_id FROM self_scheduling_attempts WHERE id = $1", attempt_id
    )
    # without the attempt token: refused, and recorded against the key's account
    r = await call(
        "POST", "/attempt/send-code",
        ("widget:anonymous", "update", "identity_proof", None, acc, "denied"),
        json={"email": WIDGET_EMAIL},
    )  # fmt: skip
    assert r.status_code == 401
    headers["Authorization"] = f"Bearer {started['attemptToken']}"
    me = f"widget:{attempt_id}"
    proof_row = (me, "update", "identity_proof", str(proof_id), acc, "success")
    await call("POST", "/attempt/send-code", proof_row, json={"email": WIDGET_EMAIL})
    code = await last_code(pool, acc, "EMAIL")
    r = await call(
        "POST", "/attempt/verify-code", proof_row, json={"code": code, "email": WIDGET_EMAIL}
    )
    assert r.status_code == 200 and r.json()["verified"] is True, r.text
    assert (await call("POST", "/attempt/hold", None, json=slot_body(practice))).status_code == 201
    r = await call(
        "POST", "/attempt/patient", None,
        json={"firstName": FIRST, "lastName": LAST, "dateOfBirth": BORN, "email": WIDGET_EMAIL},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    patient_id = r.json()["id"]
    calls.expected[r.headers["x-request-id"]] = (
        me, "create", "patient", str(patient_id), acc, "success"
    )  # fmt: skip
    r = await call("POST", "/attempt/appointment", None, json=slot_body(practice))
    assert r.status_code == 201, r.text
    booked = r.json()
    appointment_id = booked["appointment"]["id"]
    calls.expected[r.headers["x-request-id"]] = (
        me, "create", "appointment", str(appointment_id), acc, "success"
    )  # fmt: skip
    # the attempt a reloaded widget resumes with names its patient: a PHI read
    patient_read = (me, "read", "patient", str(patient_id), acc, "success")
    await call("GET", "/attempt", patient_read)

    token = booked["manageToken"]
    link = ("patient-link", "read", "appointment", str(appointment_id), acc, "success")
    r = await call("GET", f"/manage/{token}", link)
    assert r.status_code == 200, r.text
    r = await call(
        "POST", f"/manage/{token}/cancel",
        ("patient-link", "update", "appointment", str(appointment_id), acc, "success"),
    )  # fmt: skip
    assert r.status_code == 200, r.text
    r = await call(
        "GET", "/manage/mg_nosuchlink",
        ("patient-link", "read", "appointment", None, None, "error"),
    )  # fmt: skip
    assert r.status_code == 404

    rows = await calls.rows(pool)
    for request_id, expected in calls.expected.items():
        got = [fields(r) for r in rows if r["request_id"] == request_id]
        assert got == ([] if expected is None else [expected]), request_id
    await assert_no_planted_values(pool, acc)


async def test_a_phi_read_is_not_answered_when_its_audit_row_cannot_be_written(
    partner, pool, monkeypatch
):
    proof = await partner.create("/identity-proof", {"verificationMethod": "EMAIL"})

    async def broken(*args, **kw):
        raise asyncpg.PostgresConnectionError("down")

    monkeypatch.setattr(audit_store, "insert", broken)
    r = await partner.get(f"/identity-proof/{proof['id']}")
    assert r.status_code == 503 and problem_code(r) == "audit_unavailable"
    assert r.headers["retry-after"] == "5"
    assert "verifiedEmail" not in r.text
    # a write that already happened is still answered
    r = await partner.post(
        f"/identity-proof/{proof['id']}/send", json={"email": "audit-broken@example.com"}
    )
    assert r.status_code == 200


async def test_audit_rows_cannot_be_changed_or_removed(partner, pool):
    proof = await partner.create("/identity-proof", {"verificationMethod": "EMAIL"})
    assert (await partner.get(f"/identity-proof/{proof['id']}")).status_code == 200
    row_id = await pool.fetchval(
        "SELECT max(id) FROM audit_log WHERE account_id = $1", partner.account_id
    )
    for statement in (
        "UPDATE audit_log SET outcome = 'error' WHERE id = $1",
        "UPDATE audit_log SET actor = 'someone else' WHERE id = $1",
        "DELETE FROM audit_log WHERE id = $1",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await pool.execute(statement, row_id)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await pool.execute("TRUNCATE audit_log")
    assert await pool.fetchval("SELECT outcome FROM audit_log WHERE id = $1", row_id) == "success"
    privileges = await pool.fetch(
        "SELECT privilege_type FROM information_schema.role_table_grants"
        " WHERE table_name = 'audit_log' AND grantee = 'PUBLIC'"
    )
    assert not {r["privilege_type"] for r in privileges} & {"UPDATE", "DELETE", "TRUNCATE"}
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute(
            "INSERT INTO audit_log (actor, action, resource_type, outcome)"
            " VALUES ('x', 'delete', 'patient', 'success')"
        )


async def test_the_audit_log_endpoint(partner, client, pool):
    proof = await partner.create("/identity-proof", {"verificationMethod": "EMAIL"})
    path = f"/identity-proof/{proof['id']}"
    for _ in range(3):
        assert (await partner.get(path)).status_code == 200
    analyst = await fetch_token(client, partner.client_id, partner.secret, scope="analytics")
    assert (await partner.get(path, token=analyst)).status_code == 403
    assert (
        await partner.post(f"{path}/send", json={"email": "audit-endpoint@example.com"})
    ).status_code == 200

    auditor = await fetch_token(client, partner.client_id, partner.secret, scope="audit")
    everything = await partner.get("/audit-log", token=auditor)
    assert everything.status_code == 200, everything.text
    entries = everything.json()["entries"]
    assert [(e["action"], e["outcome"]) for e in entries] == [
        ("read", "success"), ("read", "success"), ("read", "success"), ("read", "denied"),
        ("update", "success"),
    ]  # fmt: skip
    assert set(entries[0]) == {
        "id", "at", "actor", "action", "resourceType", "resourceId", "accountId", "requestId",
        "clientRequestId", "outcome",
    }  # fmt: skip
    assert entries[0]["actor"] == partner.client_id
    assert entries[0]["resourceId"] == str(proof["id"])
    assert entries[0]["at"] == "2026-03-02T12:00:00Z"

    async def ids(**params):
        r = await partner.get("/audit-log", params=params, token=auditor)
        assert r.status_code == 200, r.text
        return [e["id"] for e in r.json()["entries"]]

    all_ids = [e["id"] for e in entries]
    assert await ids(action="update") == all_ids[4:]
    assert await ids(outcome="denied") == [all_ids[3]]
    assert await ids(resourceType="identity_proof", resourceId=str(proof["id"])) == all_ids
    assert await ids(resourceType="patient") == []
    assert await ids(actor=partner.client_id) == all_ids
    assert await ids(actor="someone") == []
    assert await ids(**{"from": "2026-03-02T12:00:00Z", "to": "2026-03-02T12:00:01Z"}) == all_ids
    assert await ids(**{"from": "2026-03-03"}) == []
    assert await ids(to="2026-03-01") == []  # a date `to` is inclusive: up to 03-02 00:00 local
    first = await partner.get("/audit-log", params={"limit": 2}, token=auditor)
    page = first.json()
    assert [e["id"] for e in page["entries"]] == all_ids[:2] and page["nextCursor"]
    second = await partner.get(
        "/audit-log", params={"limit": 2, "cursor": page["nextCursor"]}, token=auditor
    )
    assert [e["id"] for e in second.json()["entries"]] == all_ids[2:4]

    for params, field in [({"action": "delete"}, "action"), ({"from": "soon"}, "from")]:
        r = await partner.get("/audit-log", params=params, token=auditor)
        assert r.status_code == 400 and field in r.text
    scheduling = await fetch_token(client, partner.client_id, partner.secret, scope="scheduling")
    r = await partner.get("/audit-log", token=scheduling)
    assert r.status_code == 403 and problem_code(r) == "forbidden"
    assert (await partner.get("/audit-log", token=analyst)).status_code == 403
    # reading the trail is not itself a PHI read
    before = await pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE account_id = $1", partner.account_id
    )
    await partner.get("/audit-log", token=auditor)
    after = await pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE account_id = $1", partner.account_id
    )
    assert before == after


async def test_audit_rows_keep_our_request_id_and_the_callers_apart(partner, pool):
    """Finding (LOW): audit rows stored the caller's X-Request-Id as the request id, so a caller
    chose (and could reuse or collide) the id our trail is keyed by. Ours is stored; theirs is
    kept in its own field."""
    proof = (await partner.post("/identity-proof", json={"verificationMethod": "EMAIL"})).json()
    theirs = "their-chosen-id-0001"
    responses = [
        await partner.get(f"/identity-proof/{proof['id']}", headers={"X-Request-Id": theirs})
        for _ in range(2)
    ]
    rows = await pool.fetch(
        "SELECT request_id, client_request_id FROM audit_log WHERE account_id = $1"
        " AND resource_type = 'identity_proof' AND action = 'read' ORDER BY id",
        partner.account_id,
    )
    assert [r["request_id"] for r in rows] == [r.headers["x-request-id"] for r in responses]
    assert len({r["request_id"] for r in rows}) == 2 and theirs not in rows[0]["request_id"]
    assert [r["client_request_id"] for r in rows] == [theirs, theirs]

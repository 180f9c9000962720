"""The analytics API against hand-built attempt histories: funnel numbers (day boundaries in a
non-UTC account zone, abandoned attempts, steps out of funnel order), CSV == JSON, the attempt
list, the SVG, scopes, and the BI views and role."""

import csv
import io
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from tests.builders import build_practice
from tests.support import fetch_token, frozen_clock_at, make_partner, problem_code

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
LA_OFFSET = timedelta(hours=-8)  # PST, before the 2026-03-08 change


frozen_clock = frozen_clock_at(NOW)


def la(day: int, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time in Los Angeles in early March 2026 (PST), as UTC."""
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC) - LA_OFFSET


async def insert_attempt(pool, account_id, setting_id, started, steps, *, location_id=None):
    """An attempt with steps at `started + seconds`; status follows its last state step."""
    terminal = [s for s, _ in steps if s in ("BOOKED", "ABANDONED")]
    status = terminal[-1] if terminal else "STARTED"
    last = started + timedelta(seconds=max([0, *(sec for _, sec in steps)]))
    attempt_id = await pool.fetchval(
        "INSERT INTO self_scheduling_attempts (account_id, setting_id, location_id, status,"
        " source, created_at, updated_at, last_activity_at)"
        " VALUES ($1, $2, $3, $4, 'WIDGET', $5, $6, $6) RETURNING id",
        account_id, setting_id, location_id, status, started, last,
    )  # fmt: skip
    await pool.executemany(
        "INSERT INTO attempt_steps (attempt_id, account_id, step, at) VALUES ($1, $2, $3, $4)",
        [
            (attempt_id, account_id, step, started + timedelta(seconds=sec))
            for step, sec in [("STARTED", 0), *steps]
        ],
    )
    return attempt_id


@pytest.fixture
async def histories(partner, pool):
    """Six attempts over two Los Angeles days, one on the 5th (outside the range)."""
    await pool.execute(
        "UPDATE accounts SET time_zone = 'America/Los_Angeles' WHERE id = $1", partner.account_id
    )
    practice = await build_practice(partner, zones=("America/Los_Angeles",), method="EMAIL")
    loc, sid, acc = practice.location_ids[0], practice.setting_id, partner.account_id
    ids = {
        # 23:30 on the 2nd in Los Angeles is the 3rd in UTC: it belongs to the 2nd
        "A": await insert_attempt(pool, acc, sid, la(2, 23, 30), [
            ("AVAILABILITY_VIEWED", 60), ("SLOT_SELECTED", 120), ("CODE_SENT", 180),
            ("VERIFIED", 300), ("PATIENT_SET", 420), ("BOOKED", 480),
        ], location_id=loc),
        "B": await insert_attempt(pool, acc, sid, la(2, 10), [
            ("AVAILABILITY_VIEWED", 30), ("SLOT_SELECTED", 90), ("CODE_SENT", 150),
            ("CODE_SENT", 200), ("ABANDONED", 2000),
        ], location_id=loc),
        "C": await insert_attempt(pool, acc, sid, la(2, 12), [
            ("AVAILABILITY_VIEWED", 100), ("ABANDONED", 1900),
        ]),
        # 00:10 on the 3rd in Los Angeles
        "D": await insert_attempt(pool, acc, sid, la(3, 0, 10), [
            ("AVAILABILITY_VIEWED", 20), ("SLOT_SELECTED", 40), ("CODE_SENT", 60),
            ("VERIFIED", 90), ("PATIENT_SET", 150), ("BOOKED", 210),
        ], location_id=loc),
        "E": await insert_attempt(pool, acc, sid, la(3, 9), [("ABANDONED", 1800)]),
        # the partner order: verified before choosing a time, never viewed availability
        "G": await insert_attempt(pool, acc, sid, la(3, 15), [
            ("CODE_SENT", 10), ("VERIFIED", 40), ("SLOT_SELECTED", 100), ("PATIENT_SET", 130),
            ("BOOKED", 200),
        ], location_id=loc),
        "outside": await insert_attempt(pool, acc, sid, la(5, 9), [("ABANDONED", 1800)]),
    }  # fmt: skip
    analyst = await fetch_token(partner.http, partner.client_id, partner.secret, scope="analytics")
    return practice, ids, analyst


def steps_of(group):
    return {s["step"]: s for s in group["steps"]}


def stat(median, p90):
    return {"median": median, "p90": p90}


async def test_funnel_by_day_in_the_account_zone(partner, histories):
    _, _, analyst = histories
    r = await partner.get(
        "/self-scheduling/funnel",
        params={"from": "2026-03-02", "to": "2026-03-03", "groupBy": "day"},
        token=analyst,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["timeZone"] == "America/Los_Angeles" and body["groupBy"] == "day"
    assert body["from"] == "2026-03-02T00:00:00-08:00" and body["to"] == "2026-03-04T00:00:00-08:00"
    assert [g["key"] for g in body["groups"]] == ["2026-03-02", "2026-03-03"]
    second, third = body["groups"]

    # the 2nd: A (booked at 23:30 local), B and C (abandoned)
    assert (second["attempts"], second["abandoned"]) == (3, 2)
    s = steps_of(second)
    assert [s[k]["reached"] for k in s] == [3, 3, 2, 2, 1, 1, 1]
    assert s["STARTED"]["conversionFromPrevious"] is None and s["STARTED"]["dropOff"] is None
    assert s["STARTED"]["secondsToBooking"] == stat(480.0, 480.0)
    assert s["AVAILABILITY_VIEWED"]["secondsFromPrevious"] == stat(60.0, 92.0)  # 30, 60, 100
    assert s["AVAILABILITY_VIEWED"]["secondsToBooking"] == stat(420.0, 420.0)
    assert s["SLOT_SELECTED"]["conversionFromPrevious"] == 0.6667
    assert s["SLOT_SELECTED"]["conversionFromStart"] == 0.6667
    assert s["SLOT_SELECTED"]["dropOff"] == 1 and s["SLOT_SELECTED"]["dropOffRate"] == 0.3333
    assert s["SLOT_SELECTED"]["secondsFromPrevious"] == stat(60.0, 60.0)
    # B sent a second code: only the first counts
    assert s["CODE_SENT"]["secondsFromPrevious"] == stat(60.0, 60.0)
    assert s["VERIFIED"]["conversionFromPrevious"] == 0.5
    assert s["VERIFIED"]["secondsFromPrevious"] == stat(120.0, 120.0)
    assert s["PATIENT_SET"]["secondsToBooking"] == stat(60.0, 60.0)
    assert s["BOOKED"]["conversionFromStart"] == 0.3333
    assert s["BOOKED"]["secondsFromPrevious"] == stat(60.0, 60.0)
    assert s["BOOKED"]["secondsToBooking"] is None

    # the 3rd: D (00:10 local, booked), E (abandoned), G (partner order, booked)
    assert (third["attempts"], third["abandoned"]) == (3, 1)
    s = steps_of(third)
    # G chose a time without viewing availability here: monotone by construction, it counts as
    # having viewed it (it reached a later step)
    assert [s[k]["reached"] for k in s] == [3, 2, 2, 2, 2, 2, 2]
    assert s["AVAILABILITY_VIEWED"]["dropOff"] == 1
    assert s["SLOT_SELECTED"]["conversionFromPrevious"] == 1.0
    assert s["SLOT_SELECTED"]["dropOff"] == 0
    assert s["SLOT_SELECTED"]["secondsFromPrevious"] == stat(20.0, 20.0)  # D only
    # G's code was sent before its slot was chosen: not a forward step, left out
    assert s["CODE_SENT"]["secondsFromPrevious"] == stat(20.0, 20.0)
    assert s["VERIFIED"]["secondsFromPrevious"] == stat(30.0, 30.0)
    assert s["PATIENT_SET"]["secondsFromPrevious"] == stat(75.0, 87.0)  # 60, 90
    assert s["BOOKED"]["secondsFromPrevious"] == stat(65.0, 69.0)  # 60, 70
    assert s["STARTED"]["secondsToBooking"] == stat(205.0, 209.0)  # 210, 200
    assert s["AVAILABILITY_VIEWED"]["secondsToBooking"] == stat(190.0, 190.0)
    assert s["SLOT_SELECTED"]["secondsToBooking"] == stat(135.0, 163.0)  # 170, 100
    assert s["CODE_SENT"]["secondsToBooking"] == stat(170.0, 186.0)  # 150, 190
    assert s["VERIFIED"]["secondsToBooking"] == stat(140.0, 156.0)  # 120, 160

    # an instant range with offsets selects the same attempts
    same = await partner.get(
        "/self-scheduling/funnel",
        params={"from": "2026-03-02T00:00:00-08:00", "to": "2026-03-04T00:00:00-08:00"},
        token=analyst,
    )
    assert same.json()["groups"] == body["groups"]


async def test_empty_days_in_the_range_are_listed(partner, histories):
    _, _, analyst = histories
    r = await partner.get(
        "/self-scheduling/funnel", params={"from": "2026-03-01", "to": "2026-03-05"}, token=analyst
    )
    groups = r.json()["groups"]
    assert [g["key"] for g in groups] == [f"2026-03-0{d}" for d in range(1, 6)]
    assert [g["attempts"] for g in groups] == [0, 3, 3, 0, 1]
    assert steps_of(groups[0])["AVAILABILITY_VIEWED"]["conversionFromPrevious"] is None


async def test_funnel_by_setting_and_by_location(partner, pool, histories):
    practice, _, analyst = histories
    params = {"from": "2026-03-02", "to": "2026-03-03"}
    r = await partner.get(
        "/self-scheduling/funnel", params={**params, "groupBy": "setting"}, token=analyst
    )
    (group,) = r.json()["groups"]
    assert group["key"] == practice.setting_id
    assert (group["attempts"], group["abandoned"]) == (6, 3)
    assert [s["reached"] for s in group["steps"]] == [6, 5, 4, 4, 3, 3, 3]
    assert steps_of(group)["STARTED"]["secondsToBooking"] == stat(210.0, 426.0)  # 200, 210, 480

    r = await partner.get(
        "/self-scheduling/funnel", params={**params, "groupBy": "location"}, token=analyst
    )
    groups = r.json()["groups"]
    assert [(g["key"], g["attempts"]) for g in groups] == [(practice.location_ids[0], 4), (None, 2)]

    filtered = await partner.get(
        "/self-scheduling/funnel",
        params={**params, "selfSchedulingSettingId": practice.setting_id},
        token=analyst,
    )
    assert filtered.json()["selfSchedulingSettingId"] == practice.setting_id
    assert sum(g["attempts"] for g in filtered.json()["groups"]) == 6

    # a location set later (a hold) moves the attempt between location groups
    e = await pool.fetchval(
        "SELECT id FROM self_scheduling_attempts WHERE account_id = $1 AND location_id IS NULL"
        " ORDER BY id LIMIT 1",
        partner.account_id,
    )
    await pool.execute(
        "UPDATE self_scheduling_attempts SET location_id = $2 WHERE id = $1",
        e,
        practice.location_ids[0],
    )
    r = await partner.get(
        "/self-scheduling/funnel", params={**params, "groupBy": "location"}, token=analyst
    )
    assert [g["attempts"] for g in r.json()["groups"]] == [5, 1]


async def test_funnel_follows_edited_and_deleted_steps(partner, pool, histories):
    _, ids, analyst = histories
    params = {"from": "2026-03-02", "to": "2026-03-02"}

    async def started_to_booking():
        r = await partner.get("/self-scheduling/funnel", params=params, token=analyst)
        return steps_of(r.json()["groups"][0])

    await pool.execute(
        "UPDATE attempt_steps SET at = at + interval '20 seconds'"
        " WHERE attempt_id = $1 AND step = 'BOOKED'",
        ids["A"],
    )
    assert (await started_to_booking())["STARTED"]["secondsToBooking"] == stat(500.0, 500.0)
    await pool.execute(
        "DELETE FROM attempt_steps WHERE attempt_id = $1 AND step = 'AVAILABILITY_VIEWED'",
        ids["C"],
    )
    assert (await started_to_booking())["AVAILABILITY_VIEWED"]["reached"] == 2
    total = await pool.fetchval("SELECT attempt_funnel_rebuild()")
    assert total >= 7
    assert (await started_to_booking())["AVAILABILITY_VIEWED"]["reached"] == 2


async def test_funnel_csv_matches_the_json(partner, histories):
    _, _, analyst = histories
    for group_by in ("day", "setting", "location"):
        params = {"from": "2026-03-01", "to": "2026-03-03", "groupBy": group_by}
        body = (await partner.get("/self-scheduling/funnel", params=params, token=analyst)).json()
        r = await partner.get(
            "/self-scheduling/funnel",
            params=params,
            token=analyst,
            headers={"Accept": "text/csv"},
        )
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/csv")
        assert "attachment" in r.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(r.text)))
        expected = []
        for g in body["groups"]:
            for s in g["steps"]:
                frm, book = s["secondsFromPrevious"] or {}, s["secondsToBooking"] or {}
                expected.append(
                    [
                        group_by,
                        g["key"],
                        g["attempts"],
                        s["step"],
                        s["reached"],
                        s["conversionFromPrevious"],
                        s["conversionFromStart"],
                        s["dropOff"],
                        s["dropOffRate"],
                        frm.get("median"),
                        frm.get("p90"),
                        book.get("median"),
                        book.get("p90"),
                    ]
                )
            expected.append([group_by, g["key"], g["attempts"], "ABANDONED", g["abandoned"]])
        assert len(rows) == len(expected)
        for row, values in zip(rows, expected, strict=True):
            cells = list(row.values())
            for cell, value in zip(cells, values, strict=False):
                assert cell == ("" if value is None else str(value)), (row, values)


async def test_attempt_list_pages_filters_and_csv(partner, pool, histories):
    practice, ids, analyst = histories
    seen, cursor = [], None
    while True:
        params = {"limit": 2, "createdFrom": "2026-03-02", "createdTo": "2026-03-03"}
        if cursor:
            params["cursor"] = cursor
        r = await partner.get("/self-scheduling/attempt", params=params, token=analyst)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["attempts"]) <= 2
        seen.extend(page["attempts"])
        if not (cursor := page["nextCursor"]):
            break
    in_range = sorted(v for k, v in ids.items() if k != "outside")
    assert [a["id"] for a in seen] == in_range
    a = next(x for x in seen if x["id"] == ids["A"])
    assert set(a) == {
        "id", "selfSchedulingSettingId", "locationId", "source", "status", "isVerified", "steps",
        "createdAt", "updatedAt",
    }  # fmt: skip
    assert a["status"] == "BOOKED" and a["isVerified"] is True
    assert a["locationId"] == practice.location_ids[0]
    assert [s["step"] for s in a["steps"]][:2] == ["STARTED", "AVAILABILITY_VIEWED"]
    assert a["createdAt"] == "2026-03-03T07:30:00Z"
    c = next(x for x in seen if x["id"] == ids["C"])
    assert c["isVerified"] is False and c["locationId"] is None

    abandoned = await partner.get(
        "/self-scheduling/attempt", params={"status": "ABANDONED"}, token=analyst
    )
    assert sorted(x["id"] for x in abandoned.json()["attempts"]) == sorted(
        ids[k] for k in ("B", "C", "E", "outside")
    )
    instant = await partner.get(
        "/self-scheduling/attempt",
        params={"createdFrom": "2026-03-03T07:30:00+00:00", "createdTo": "2026-03-03T08:10:00Z"},
        token=analyst,
    )
    assert [x["id"] for x in instant.json()["attempts"]] == [ids["A"]]  # to is exclusive

    r = await partner.get(
        "/self-scheduling/attempt",
        params={"createdFrom": "2026-03-02", "createdTo": "2026-03-03", "limit": 1},
        token=analyst,
        headers={"Accept": "text/csv"},
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    # every matching attempt (limit does not apply to the export), one row per step
    expected = [
        [str(x["id"]), str(x["selfSchedulingSettingId"]),
         "" if x["locationId"] is None else str(x["locationId"]), x["source"], x["status"],
         "true" if x["isVerified"] else "false", x["createdAt"], x["updatedAt"], s["step"], s["at"]]
        for x in seen for s in x["steps"]
    ]  # fmt: skip
    assert [list(r.values()) for r in rows] == expected


async def test_analytics_validation(partner, client, pool, histories):
    _, _, analyst = histories
    cases = [
        ("/self-scheduling/funnel", {"from": "2026-03-02"}, "to"),
        ("/self-scheduling/funnel", {"from": "2026-03-02", "to": "2026-03-01"}, "to"),
        ("/self-scheduling/funnel", {"from": "2025-01-01", "to": "2026-03-01"}, "to"),
        ("/self-scheduling/funnel", {"from": "2026-03-02T00:00", "to": "2026-03-03"}, "from"),
        ("/self-scheduling/funnel", {"from": "x", "to": "2026-03-03", "groupBy": "week"},
         "groupBy"),
        ("/self-scheduling/attempt", {"status": "LOST"}, "status"),
        ("/self-scheduling/attempt", {"createdFrom": "soon"}, "createdFrom"),
        ("/self-scheduling/attempt", {"limit": 101}, "limit"),
        ("/self-scheduling/attempt", {"cursor": "nope"}, "cursor"),
    ]  # fmt: skip
    for path, params, field in cases:
        r = await partner.get(path, params=params, token=analyst)
        assert r.status_code == 400, (params, r.text)
        assert problem_code(r) == "validation_failed"
        assert field in r.text, (params, r.text)
    other = await make_partner(client, pool)
    other_practice = await build_practice(other, method=None)
    for path in ("/self-scheduling/funnel", "/self-scheduling/funnel.svg"):
        r = await partner.get(
            path,
            params={
                "from": "2026-03-02",
                "to": "2026-03-03",
                "selfSchedulingSettingId": other_practice.setting_id,
            },
            token=analyst,
        )
        assert r.status_code == 404, r.text


async def test_the_funnel_chart(partner, histories):
    practice, _, analyst = histories
    await partner.put(
        f"/self-scheduling/setting/{practice.setting_id}", json={"name": "Online <b>&</b> Co"}
    )
    r = await partner.get(
        "/self-scheduling/funnel.svg",
        params={
            "from": "2026-03-02",
            "to": "2026-03-03",
            "selfSchedulingSettingId": practice.setting_id,
        },
        token=analyst,
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("image/svg+xml")
    assert "default-src 'none'" in r.headers["content-security-policy"]
    root = ET.fromstring(r.text)  # noqa: S314 - our own response
    texts = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "Online <b>&</b> Co" in " ".join(texts)  # escaped in the source, readable as text
    assert "<b>" not in r.text and "&lt;b&gt;" in r.text
    assert "6 (100.0%)" in texts  # started
    assert "3 (50.0%)" in texts  # booked, and abandoned
    assert "2026-03-02 to 2026-03-03 (America/Los_Angeles)" in " ".join(texts)


async def test_scopes(partner, client, histories):
    _, ids, analyst = histories
    scheduling = await fetch_token(client, partner.client_id, partner.secret, scope="scheduling")
    for path in (
        "/self-scheduling/attempt",
        "/self-scheduling/funnel",
        "/self-scheduling/funnel.svg",
    ):
        params = {"from": "2026-03-02", "to": "2026-03-03"}
        r = await partner.get(path, params=params, token=scheduling)
        assert r.status_code == 403 and problem_code(r) == "forbidden", path
    # the analyst reaches no PHI and no scheduling call
    for method, path in [
        ("GET", f"/self-scheduling/attempt/{ids['A']}"),
        ("POST", f"/self-scheduling/attempt/{ids['A']}/patient"),
        ("POST", f"/self-scheduling/attempt/{ids['A']}/appointment"),
        ("GET", "/identity-proof/1"),
        ("GET", "/identity-proof/1/patient"),
        ("POST", "/identity-proof/1/verify"),
        ("GET", "/location/1/appointment"),
        ("GET", "/location/1/appointment/1"),
        ("PUT", "/location/1/appointment/1"),
        ("GET", "/audit-log"),
    ]:
        r = await partner.request(method, path, token=analyst, json={})
        assert r.status_code == 403 and problem_code(r) == "forbidden", (method, path, r.text)


async def test_bi_views_and_the_read_only_role(partner, pool, histories):
    _, ids, _ = histories
    async with pool.acquire() as conn:
        role = await conn.fetchrow(
            "SELECT rolcanlogin, rolsuper FROM pg_roles WHERE rolname = 'slotproof_analytics'"
        )
        assert role is not None and not role["rolcanlogin"] and not role["rolsuper"]
        async with conn.transaction():
            await conn.execute("SET LOCAL ROLE slotproof_analytics")
            row = await conn.fetchrow(
                "SELECT * FROM analytics.attempts_with_steps WHERE attempt_id = $1", ids["A"]
            )
            assert row["status"] == "BOOKED" and row["has_patient"] is False
            assert row["booked_at"] - row["started_at"] == timedelta(seconds=480)
            assert [s["step"] for s in row["steps"]][-1] == "BOOKED"
            assert "patient_id" not in row and "appointment_id" not in row
            days = await conn.fetch(
                "SELECT day, sum(attempts) AS attempts, sum(booked) AS booked,"
                " sum(abandoned) AS abandoned FROM analytics.funnel_daily WHERE account_id = $1"
                " GROUP BY day ORDER BY day",
                partner.account_id,
            )
            assert [(str(d["day"]), d["attempts"], d["booked"], d["abandoned"]) for d in days] == [
                ("2026-03-02", 3, 1, 2), ("2026-03-03", 3, 2, 1), ("2026-03-05", 1, 0, 1),
            ]  # fmt: skip
        for forbidden in (
            "SELECT count(*) FROM public.patients",
            "SELECT count(*) FROM identity_proofs",
            "SELECT count(*) FROM self_scheduling_attempts",
            "SELECT count(*) FROM attempt_funnel",
            "SELECT count(*) FROM audit_log",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                async with conn.transaction():
                    await conn.execute("SET LOCAL ROLE slotproof_analytics")
                    await conn.fetchval(forbidden)
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with conn.transaction():
                await conn.execute("SET LOCAL ROLE slotproof_analytics")
                await conn.execute("CREATE TABLE analytics.scratch (id int)")

"""The availability answer cache (app/availability/cache.py) never serves an answer a fresh
search would not give: writes by any path, uncommitted-then-committed writes, and the passing
of time (notice, forward limit, hold expiry) all make the next call search again."""

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from app.availability import api as availability_api
from app.availability.store import prune_changes
from app.core import clock
from tests.builders import (
    availability,
    availability_params,
    build_practice,
    hold_first_config,
    insert_appointment,
)
from tests.support import limited, make_partner

# Monday 2 March 2026, 07:00 in New York (EST); 9:00-12:00 weekday rules, 30-minute grid
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
MONDAY_9AM = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
NEXT_MONDAY = datetime(2026, 3, 9, 4, 0, tzinfo=UTC)  # local midnight (EDT from 8 March)


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    current = {"now": NOW}
    monkeypatch.setattr(clock, "now", lambda: current["now"])
    return current


@pytest.fixture
def cache(app):
    return app.state.availability_cache


class Counted:
    """Calls one availability query and tells whether the cache answered it."""

    def __init__(self, cache, practice, start, end, **extra):
        self.cache, self.practice, self.args, self.extra = cache, practice, (start, end), extra

    async def __call__(self):
        hits = self.cache.hits
        response = await availability(self.practice, *self.args, **self.extra)
        assert response.status_code == 200, response.text
        return response, self.cache.hits == hits + 1


def starts(response, date_key):
    return [s["startDateTime"][11:16] for s in response.json()["slotsByDate"].get(date_key, [])]


async def test_a_repeat_is_answered_from_the_cache_byte_for_byte(partner, cache):
    practice = await build_practice(partner)
    call = Counted(cache, practice, NEXT_MONDAY, NEXT_MONDAY + timedelta(days=5))
    first, cached = await call()
    assert not cached
    again, cached = await call()
    assert cached and again.content == first.content
    assert again.headers["content-type"] == "application/json"


async def test_a_booking_written_by_any_path_is_seen_at_once(partner, pool, cache):
    practice = await build_practice(partner)
    call = Counted(cache, practice, NEXT_MONDAY, NEXT_MONDAY + timedelta(days=1))
    before, _ = await call()
    assert starts(before, "3/9/2026")[0] == "09:00"
    await insert_appointment(
        pool, practice, practitioner_id=practice.practitioner_ids[0],
        location_id=practice.location_ids[0], start=datetime(2026, 3, 9, 13, 0, tzinfo=UTC),
    )  # fmt: skip
    after, cached = await call()
    assert not cached
    assert starts(after, "3/9/2026")[0] == "09:30"


async def test_a_booking_outside_the_window_the_answer_read_keeps_it(partner, pool, cache):
    practice = await build_practice(partner)
    call = Counted(cache, practice, NEXT_MONDAY, NEXT_MONDAY + timedelta(days=1))
    before, _ = await call()
    # busy times are read 1 day 14 h around the range (to 11 March 18:00 UTC): 12 March is
    # outside it, 11 March inside (the answer is the same, but it must be searched again)
    for day, expect_cached in ((12, True), (11, False)):
        await insert_appointment(
            pool, practice, practitioner_id=practice.practitioner_ids[0],
            location_id=practice.location_ids[0], start=datetime(2026, 3, day, 13, 0, tzinfo=UTC),
        )  # fmt: skip
        after, cached = await call()
        assert cached is expect_cached
        assert after.content == before.content


async def test_a_write_committed_after_the_answer_was_read_is_not_missed(partner, pool, cache):
    """The answer is computed while a booking transaction is still open; once it commits, the
    cached answer (whose snapshot did not see it) must not be served."""
    practice = await build_practice(partner)
    call = Counted(cache, practice, NEXT_MONDAY, NEXT_MONDAY + timedelta(days=1))
    async with pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        patient = await conn.fetchval(
            "INSERT INTO patients (account_id, first_name, last_name, date_of_birth)"
            " VALUES ($1, 'Pat', 'Ient', '1980-01-01') RETURNING id",
            partner.account_id,
        )
        start = datetime(2026, 3, 9, 13, 0, tzinfo=UTC)
        await conn.execute(
            "INSERT INTO appointments (account_id, location_id, practitioner_id, patient_id,"
            " appointment_type_id, start_at, end_at, blocked_from, blocked_until)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $6, $7)",
            partner.account_id, practice.location_ids[0], practice.practitioner_ids[0],
            patient, practice.appointment_type_id, start, start + timedelta(minutes=30),
        )  # fmt: skip
        during, _ = await call()
        assert starts(during, "3/9/2026")[0] == "09:00"  # not committed yet
        await transaction.commit()
    after, cached = await call()
    assert not cached
    assert starts(after, "3/9/2026")[0] == "09:30"


async def test_other_practitioners_bookings_keep_the_answer_account_changes_do_not(
    partner, pool, cache
):
    practice = await build_practice(partner, practitioners=2)
    first, second = practice.practitioner_ids
    call = Counted(
        cache, practice, NEXT_MONDAY, NEXT_MONDAY + timedelta(days=1), practitionerIds=str(first)
    )
    original, _ = await call()
    await insert_appointment(
        pool, practice, practitioner_id=second, location_id=practice.location_ids[0],
        start=datetime(2026, 3, 9, 13, 0, tzinfo=UTC),
    )  # fmt: skip
    same, cached = await call()
    assert cached and same.content == original.content

    renamed = await partner.put(f"/practitioner/{first}", json={"displayName": "Dr. Renamed"})
    assert renamed.status_code == 200, renamed.text
    after, cached = await call()
    assert not cached
    assert after.json()["practitioners"][0]["displayName"] == "Dr. Renamed"


async def test_the_minimum_notice_passing_the_first_slot_refreshes_the_answer(
    partner, cache, frozen_clock
):
    practice = await build_practice(partner)
    call = Counted(cache, practice, NOW, NOW + timedelta(days=1))
    today, _ = await call()
    assert starts(today, "3/2/2026")[0] == "09:00"
    frozen_clock["now"] = MONDAY_9AM - timedelta(seconds=1)
    _, cached = await call()
    assert cached
    frozen_clock["now"] = MONDAY_9AM + timedelta(seconds=1)
    later, cached = await call()
    assert not cached
    assert starts(later, "3/2/2026")[0] == "09:30"


async def test_the_forward_limit_reaching_a_new_slot_refreshes_the_answer(
    partner, cache, frozen_clock
):
    """forward limit 8 days: at 12:00 UTC the horizon is Tue 10 March 08:00 EDT, so that day's
    9:00 (13:00 UTC) comes into reach at 13:00 UTC on 2 March."""
    practice = await build_practice(partner, forward_days=8)
    call = Counted(cache, practice, NEXT_MONDAY, NEXT_MONDAY + timedelta(days=3))
    first, _ = await call()
    assert starts(first, "3/10/2026") == []
    frozen_clock["now"] = datetime(2026, 3, 2, 12, 59, 59, tzinfo=UTC)
    _, cached = await call()
    assert cached
    frozen_clock["now"] = datetime(2026, 3, 2, 13, 0, tzinfo=UTC)
    later, cached = await call()
    assert not cached
    assert starts(later, "3/10/2026") == ["09:00"]


async def test_an_expiring_hold_gives_its_slot_back_without_any_write(
    partner, cache, frozen_clock, settings
):
    practice = await build_practice(partner, method=None)
    await hold_first_config(practice, "2026-03-09T09:00:00-04:00")
    call = Counted(cache, practice, NEXT_MONDAY, NEXT_MONDAY + timedelta(days=1))
    held, _ = await call()
    assert starts(held, "3/9/2026")[0] == "09:30"
    expiry = NOW + timedelta(minutes=settings.unverified_hold_minutes)  # nothing verified
    frozen_clock["now"] = expiry - timedelta(seconds=1)
    _, cached = await call()
    assert cached
    frozen_clock["now"] = expiry
    released, cached = await call()
    assert not cached
    assert starts(released, "3/9/2026")[0] == "09:00"


async def test_the_widget_shares_answers_until_its_attempt_holds_a_slot(partner, client, cache):
    practice = await build_practice(partner)
    params = {
        "startUnix": int(NEXT_MONDAY.timestamp() * 1000),
        "endUnix": int((NEXT_MONDAY + timedelta(days=1)).timestamp() * 1000),
        "locationId": practice.location_ids[0],
        "appointmentTypeId": practice.appointment_type_id,
    }
    anonymous = {"X-Widget-Key": practice.publishable_key}

    async def view(headers):
        hits = cache.hits
        response = await client.get("/widget/v1/availability", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return response, cache.hits == hits + 1

    first, cached = await view(anonymous)
    assert not cached
    again, cached = await view(anonymous)
    assert cached and again.content == first.content

    # an attempt that holds nothing is asked the anonymous question: same answer, from the cache
    started = await client.post("/widget/v1/attempt", headers=anonymous)
    assert started.status_code == 201, started.text
    patient = {**anonymous, "Authorization": f"Bearer {started.json()['attemptToken']}"}
    mine, cached = await view(patient)
    assert cached and mine.content == first.content

    # once it holds 9:00 (a code was sent first), that slot stays open to it alone
    sent = await client.post(
        "/widget/v1/attempt/send-code", headers=patient, json={"email": "cache@example.com"}
    )
    assert sent.status_code == 200, sent.text
    held = await client.post(
        "/widget/v1/attempt/hold", headers=patient,
        json={
            "appointmentTypeId": practice.appointment_type_id,
            "locationId": practice.location_ids[0],
            "practitionerId": practice.practitioner_ids[0],
            "schedulerConfigId": practice.config_ids[0],
            "startDateTime": "2026-03-09T09:00:00-04:00",
        },
    )  # fmt: skip
    assert held.status_code == 201, held.text
    mine, _ = await view(patient)
    others, _ = await view(anonymous)
    assert starts(mine, "3/9/2026")[0] == "09:00"
    assert starts(others, "3/9/2026")[0] == "09:30"


async def test_pruning_keeps_recent_changes_and_drops_old_ones(partner, pool):
    practice = await build_practice(partner)
    mine = "SELECT count(*) FROM availability_changes WHERE account_id = $1"
    assert await pool.fetchval(mine, partner.account_id) > 0
    async with pool.acquire() as conn:
        assert await prune_changes(conn, timedelta(hours=1)) == 0  # no horizon that old yet
        assert await pool.fetchval(mine, partner.account_id) > 0
        # keep=0: the horizon just recorded qualifies; every change of a transaction that had
        # ended before the oldest one still running then (on the whole server: other
        # databases' transactions count too) goes
        await prune_changes(conn, timedelta(0))
    horizon = await pool.fetchval(
        "SELECT oldest_running FROM availability_change_horizons ORDER BY taken_at DESC LIMIT 1"
    )
    assert await pool.fetchval(mine + " AND xid < $2", practice.partner.account_id, horizon) == 0


async def test_no_answer_ever_offers_a_slot_booked_before_the_call(partner, pool, cache):
    """Four concurrent patients book through raw SQL and ask again at once, sharing one cached
    answer: after every commit, the next answer anyone gets must no longer offer that slot."""
    practice = await build_practice(partner, practitioners=2, interval=15)
    first = practice.practitioner_ids[0]
    call = Counted(cache, practice, NEXT_MONDAY, NEXT_MONDAY + timedelta(days=5))
    hits_before = cache.hits

    def open_starts(response) -> list[int]:
        return [
            slot["startUnix"]
            for day in response.json()["slotsByDate"].values()
            for slot in day
            if str(first) in slot["practitionerToConfig"]
        ]

    async def patient(seed: int) -> int:
        booked = 0
        for turn in range(12):
            response, _ = await call()
            starts = open_starts(response)
            if not starts:
                return booked
            pick = starts[(seed * 7 + turn * 5) % len(starts)]
            try:
                await insert_appointment(
                    pool, practice, practitioner_id=first,
                    location_id=practice.location_ids[0],
                    start=datetime.fromtimestamp(pick / 1000, UTC),
                )  # fmt: skip
            except asyncpg.ExclusionViolationError:
                continue  # another patient took it first
            booked += 1
            after, _ = await call()
            assert pick not in open_starts(after)
        return booked

    booked = sum(await asyncio.gather(*(patient(seed) for seed in range(4))))
    assert booked >= 20
    assert cache.hits > hits_before  # the answers were shared, not all recomputed


# --- per location-day pieces ------------------------------------------------------------------

MONTH = timedelta(days=28)


class DayCounts:
    """How many days one call took from the cache and how many it computed."""

    def __init__(self, cache):
        self.cache = cache

    async def __call__(self, practice, start, end):
        hits, misses = self.cache.day_hits, self.cache.day_misses
        response = await availability(practice, start, end)
        assert response.status_code == 200, response.text
        return response, self.cache.day_hits - hits, self.cache.day_misses - misses


async def fresh(app, practice, start, end) -> bytes:
    """The answer of a search with no cache at all."""
    saved, app.state.availability_cache = app.state.availability_cache, None
    try:
        response = await availability(practice, start, end)
    finally:
        app.state.availability_cache = saved
    assert response.status_code == 200, response.text
    return response.content


async def test_a_month_overlapping_an_earlier_one_reuses_the_days_they_share(partner, app, cache):
    practice = await build_practice(partner)
    call = DayCounts(cache)
    _, reused, computed = await call(practice, NEXT_MONDAY, NEXT_MONDAY + MONTH)
    assert (reused, computed) == (0, 28)
    later = NEXT_MONDAY + timedelta(days=7)
    shifted, reused, computed = await call(practice, later, later + MONTH)
    assert (reused, computed) == (21, 7)  # 16 March - 5 April shared; 6-12 April new
    assert shifted.content == await fresh(app, practice, later, later + MONTH)
    # a range starting and ending inside a day is cut from the whole days held
    odd = later + timedelta(hours=10, minutes=30)  # 10:30 in New York
    cut, reused, computed = await call(practice, odd, odd + timedelta(days=3))
    assert (reused, computed) == (4, 0)
    assert cut.content == await fresh(app, practice, odd, odd + timedelta(days=3))
    assert starts(cut, "3/16/2026") == ["10:30", "11:00", "11:30"]


async def write_booking(practice, pool):
    await insert_appointment(
        pool, practice, practitioner_id=practice.practitioner_ids[0],
        location_id=practice.location_ids[0], start=datetime(2026, 3, 18, 13, 0, tzinfo=UTC),
    )  # fmt: skip


async def write_hold(practice, pool):
    await hold_first_config(practice, "2026-03-18T09:00:00-04:00")


async def write_cancellation(practice, pool):
    await pool.execute(
        "UPDATE appointments SET status = 'CANCELLED' WHERE account_id = $1",
        practice.partner.account_id,
    )


async def write_config_edit(practice, pool):
    path = f"/self-scheduling/setting/{practice.setting_id}/scheduler-config"
    edited = await practice.partner.put(
        f"{path}/{practice.config_ids[0]}", json={"slotIntervalMinutes": 15}
    )
    assert edited.status_code == 200, edited.text


@pytest.mark.parametrize(
    ("write", "recomputed"),
    [
        # a booking on 18 March blocks time the days 16-19 March read (± 1 day 14 h)
        (write_booking, 4),
        (write_hold, 4),
        # the cancelled appointment (set up below, on 18 March) frees the same days
        (write_cancellation, 4),
        # a config edit changes every day
        (write_config_edit, 27),
    ],
)
async def test_a_day_held_in_the_cache_is_never_served_stale(
    partner, app, pool, cache, write, recomputed
):
    practice = await build_practice(partner, method=None)
    if write is write_cancellation:
        await write_booking(practice, pool)
    call = DayCounts(cache)
    await call(practice, NEXT_MONDAY, NEXT_MONDAY + MONTH)
    await write(practice, pool)
    later = NEXT_MONDAY + timedelta(days=1)  # another range: not the stored answer
    after, reused, computed = await call(practice, later, later + MONTH)
    assert computed == recomputed + 1  # + 6 April, new
    assert reused == 28 - 1 - recomputed
    assert after.content == await fresh(app, practice, later, later + MONTH)
    changed = starts(after, "3/18/2026")
    if write is write_config_edit:
        assert changed[:3] == ["09:00", "09:15", "09:30"]
    elif write is write_cancellation:
        assert changed[:2] == ["09:00", "09:30"]
    else:
        assert changed[0] == "09:30"


async def test_days_around_a_dst_change_are_reused_and_right(partner, app, pool, cache):
    """New York springs forward on Sunday 8 March 2026: days before it are EST, after EDT."""
    every_day = [{"weekday": d, "start": "01:00", "end": "04:00"} for d in range(7)]
    practice = await build_practice(partner, rules=every_day, interval=30)
    call = DayCounts(cache)
    start = datetime(2026, 3, 6, 5, 0, tzinfo=UTC)  # Friday 6 March, local midnight (EST)
    first, _, computed = await call(practice, start, start + timedelta(days=4))
    assert computed == 5  # 6-10 March: four days of 24 h are not four local dates here
    # 02:00-03:00 does not exist on 8 March: no slots there
    assert starts(first, "3/8/2026") == ["01:00", "01:30", "03:00", "03:30"]
    await insert_appointment(
        pool, practice, practitioner_id=practice.practitioner_ids[0],
        location_id=practice.location_ids[0], start=datetime(2026, 3, 8, 7, 0, tzinfo=UTC),
    )  # fmt: skip  # 03:00 EDT
    later = start + timedelta(days=1, hours=1)
    after, reused, computed = await call(practice, later, later + timedelta(days=4))
    # 7-9 March read the booking's time (± 1 day 14 h), 10 March did not; 11 March is new
    assert (reused, computed) == (1, 4)
    assert after.content == await fresh(app, practice, later, later + timedelta(days=4))
    assert starts(after, "3/8/2026") == ["01:00", "01:30", "03:30"]
    again, reused, computed = await call(practice, later, later + timedelta(days=4, hours=1))
    assert (reused, computed) == (5, 0)
    assert again.content == await fresh(app, practice, later, later + timedelta(days=4, hours=1))


class ReadsSeen:
    """Records the partner reads the authentication step sends (an observer around the real
    coalesced statement: every batch still runs against PostgreSQL)."""

    def __init__(self, app, monkeypatch):
        self.batches: list[list] = []
        reads = app.state.partner_reads
        run = reads._run

        async def observed(batch):
            self.batches.append(list(batch))
            return await run(batch)

        monkeypatch.setattr(reads, "_run", observed)

    def probes_of(self, client_id: str) -> list:
        return [r.probes for b in self.batches for r in b if r.client_id == client_id]


async def test_a_repeat_checks_freshness_with_the_callers_standing_in_one_statement(
    app, partner, pool, cache, monkeypatch
):
    """The second identical call is read ahead: its freshness probes travel with the caller's
    standing, and no freshness statement of its own is sent; a booking committed before the
    third call is still seen by it."""
    practice = await build_practice(partner)
    call = Counted(cache, practice, NEXT_MONDAY, NEXT_MONDAY + timedelta(days=1))
    first, _ = await call()
    seen = ReadsSeen(app, monkeypatch)
    checks_before = cache.checks.statements if cache.checks is not None else 0
    again, cached = await call()
    assert cached and again.content == first.content
    assert [p is not None for p in seen.probes_of(partner.client_id)] == [True]
    assert (cache.checks.statements if cache.checks is not None else 0) == checks_before
    await insert_appointment(
        pool, practice, practitioner_id=practice.practitioner_ids[0],
        location_id=practice.location_ids[0], start=datetime(2026, 3, 9, 13, 0, tzinfo=UTC),
    )  # fmt: skip
    after, cached = await call()
    assert not cached and starts(after, "3/9/2026")[0] == "09:30"


async def test_nothing_is_read_ahead_for_an_account_the_client_holds_no_grant_on(
    app, client, partner, pool, cache, monkeypatch
):
    """Another account's client sending the very request that has a stored answer: 403 as
    always, and no freshness probe of that account is sent for it (nothing to time)."""
    practice = await build_practice(partner)
    call = Counted(cache, practice, NEXT_MONDAY, NEXT_MONDAY + timedelta(days=1))
    await call()
    stranger = await make_partner(client, pool)
    assert (await stranger.get("/self-scheduling/availability")).status_code in (400, 422)
    seen = ReadsSeen(app, monkeypatch)
    path = partner.url("/self-scheduling/availability")
    params = availability_params(practice, NEXT_MONDAY, NEXT_MONDAY + timedelta(days=1))
    response = await client.get(path, params=params, headers=stranger.headers())
    assert response.status_code == 403
    assert seen.probes_of(stranger.client_id) == [None]


async def test_a_revoked_grant_is_refused_even_when_the_answer_was_read_ahead(partner, pool, cache):
    practice = await build_practice(partner)
    call = Counted(cache, practice, NEXT_MONDAY, NEXT_MONDAY + timedelta(days=1))
    await call()
    await call()  # read ahead from now on
    await pool.execute(
        "UPDATE partner_grants SET active = false WHERE account_id = $1", partner.account_id
    )
    response = await availability(practice, NEXT_MONDAY, NEXT_MONDAY + timedelta(days=1))
    assert response.status_code == 403


async def test_a_new_range_over_cached_days_checks_them_with_the_standing(
    app, partner, pool, cache, monkeypatch
):
    """A month view moved by a minute reuses the days it shares; their freshness travels with
    the caller's standing (no statement of its own), and a booking is still seen at once."""
    practice = await build_practice(partner)

    def call(minutes: int, days: int = 2) -> Counted:
        start = NEXT_MONDAY + timedelta(minutes=minutes)
        return Counted(cache, practice, start, start + timedelta(days=days))

    await call(0, days=3)()
    seen = ReadsSeen(app, monkeypatch)
    checks_before = cache.checks.statements if cache.checks is not None else 0
    day_misses = cache.day_misses
    moved, cached = await call(1)()
    assert not cached and cache.day_misses == day_misses  # assembled from cached days
    assert [p is not None for p in seen.probes_of(partner.client_id)] == [True]
    assert (cache.checks.statements if cache.checks is not None else 0) == checks_before
    assert starts(moved, "3/9/2026")[0] == "09:00"
    await insert_appointment(
        pool, practice, practitioner_id=practice.practitioner_ids[0],
        location_id=practice.location_ids[0], start=datetime(2026, 3, 9, 13, 0, tzinfo=UTC),
    )  # fmt: skip
    after, _ = await call(2)()
    assert starts(after, "3/9/2026")[0] == "09:30"


class HandlerRuns:
    """Counts the availability handler's own work (an observer around the real function)."""

    def __init__(self, monkeypatch):
        self.count = 0
        real = availability_api.availability_json

        async def observed(*args, **kwargs):
            self.count += 1
            return await real(*args, **kwargs)

        monkeypatch.setattr(availability_api, "availability_json", observed)


def _headers(response) -> dict:
    drop = {"x-request-id", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"}
    return {k: v for k, v in response.headers.items() if k not in drop}


async def test_a_repeat_read_ahead_is_answered_before_the_handler_with_the_same_response(
    partner, cache, monkeypatch
):
    """Once the handler answered a query string, the same string (and only the same string)
    is answered by the innermost middleware from the read-ahead: same status, bytes and
    headers; the handler does not run again until something changes."""
    practice = await build_practice(partner)
    call = Counted(cache, practice, NEXT_MONDAY, NEXT_MONDAY + timedelta(days=1))
    handled, _ = await call()  # the handler remembers this spelling with the answer it stored
    runs = HandlerRuns(monkeypatch)
    fast, cached = await call()
    assert cached and runs.count == 0  # answered without the handler
    assert fast.status_code == 200 and fast.content == handled.content
    assert _headers(fast) == _headers(handled)
    # the same query spelled in another order: a new string, so through the handler first
    params = dict(reversed(list(fast.request.url.params.multi_items())))
    for expected_runs in (1, 1):
        reordered = await practice.partner.get("/self-scheduling/availability", params=params)
        assert reordered.content == handled.content and runs.count == expected_runs


async def test_answers_from_the_read_ahead_still_count_against_the_rate_limit(settings, partner):
    practice = await build_practice(partner)
    async with limited(settings, rate_limit_partner_client_per_minute=4) as app:
        client = app.client()
        url = partner.url("/self-scheduling/availability")
        params = availability_params(practice, NEXT_MONDAY, NEXT_MONDAY + timedelta(days=1))
        statuses = [
            (await client.get(url, params=params, headers=partner.headers())).status_code
            for _ in range(5)
        ]
    assert statuses == [200, 200, 200, 200, 429]

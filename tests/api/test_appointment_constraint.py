"""The database itself refuses overlapping live appointments of one practitioner."""

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from tests.support import make_account

T0 = datetime(2026, 3, 9, 14, 0, tzinfo=UTC)


@pytest.fixture
async def practice(pool):
    account_id = await make_account(pool)
    ids = {"account": account_id}
    ids["location"] = await pool.fetchval(
        "INSERT INTO locations (account_id, name, time_zone) VALUES ($1, 'L', 'UTC') RETURNING id",
        account_id,
    )
    for key in ("ana", "ben"):
        ids[key] = await pool.fetchval(
            "INSERT INTO practitioners (account_id, first_name, last_name, display_name)"
            " VALUES ($1, $2, 'X', $2) RETURNING id",
            account_id,
            key,
        )
    ids["type"] = await pool.fetchval(
        "INSERT INTO appointment_types (account_id, name, duration_minutes)"
        " VALUES ($1, 'Visit', 30) RETURNING id",
        account_id,
    )
    ids["patient"] = await pool.fetchval(
        "INSERT INTO patients (account_id, first_name, last_name, date_of_birth)"
        " VALUES ($1, 'P', 'Q', '1980-01-01') RETURNING id",
        account_id,
    )
    return ids


async def _book(pool, ids, practitioner, start, minutes=30, before=0, after=0, status="SCHEDULED"):
    end = start + timedelta(minutes=minutes)
    return await pool.fetchval(
        "INSERT INTO appointments (account_id, location_id, practitioner_id, patient_id,"
        " appointment_type_id, start_at, end_at, blocked_from, blocked_until, status)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        ids["account"],
        ids["location"],
        ids[practitioner],
        ids["patient"],
        ids["type"],
        start,
        end,
        start - timedelta(minutes=before),
        end + timedelta(minutes=after),
        status,
    )


async def test_overlap_for_one_practitioner_is_rejected(pool, practice):
    await _book(pool, practice, "ana", T0)
    with pytest.raises(asyncpg.ExclusionViolationError):
        await _book(pool, practice, "ana", T0 + timedelta(minutes=15))


async def test_back_to_back_is_accepted(pool, practice):
    first = await _book(pool, practice, "ana", T0)
    second = await _book(pool, practice, "ana", T0 + timedelta(minutes=30))
    assert first != second


async def test_other_practitioner_same_time_is_accepted(pool, practice):
    await _book(pool, practice, "ana", T0)
    assert await _book(pool, practice, "ben", T0)


async def test_buffers_are_part_of_the_blocked_range(pool, practice):
    await _book(pool, practice, "ana", T0, after=10)
    with pytest.raises(asyncpg.ExclusionViolationError):
        await _book(pool, practice, "ana", T0 + timedelta(minutes=35))
    assert await _book(pool, practice, "ana", T0 + timedelta(minutes=40))


@pytest.mark.parametrize("status", ["CANCELLED", "RESCHEDULED", "VOIDED"])
async def test_dead_appointments_free_the_time(pool, practice, status):
    await _book(pool, practice, "ana", T0, status=status)
    assert await _book(pool, practice, "ana", T0)


async def test_reviving_a_cancelled_overlap_is_rejected(pool, practice):
    cancelled = await _book(pool, practice, "ana", T0, status="CANCELLED")
    await _book(pool, practice, "ana", T0)
    with pytest.raises(asyncpg.ExclusionViolationError):
        await pool.execute("UPDATE appointments SET status = 'SCHEDULED' WHERE id = $1", cancelled)


async def test_unknown_status_is_rejected(pool, practice):
    with pytest.raises(asyncpg.CheckViolationError):
        await _book(pool, practice, "ana", T0, status="MAYBE")

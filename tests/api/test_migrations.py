import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from app.core.migrate import Migration, MigrationError, discover, migrate
from tests.support import scratch_database


async def _applied(dsn: str) -> list[tuple[int, str]]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT version, name FROM schema_migrations ORDER BY version")
        return [(r["version"], r["name"]) for r in rows]
    finally:
        await conn.close()


async def test_migrating_twice_applies_nothing_the_second_time(admin_database_url):
    files = discover()
    async with scratch_database(admin_database_url) as dsn:
        first = await migrate(dsn)
        second = await migrate(dsn)
        assert first == [m.name for m in files]
        assert second == []
        assert await _applied(dsn) == [(m.version, m.name) for m in files]


async def test_concurrent_runners_apply_each_file_once(admin_database_url):
    async with scratch_database(admin_database_url) as dsn:
        results = await asyncio.gather(migrate(dsn), migrate(dsn), migrate(dsn))
        applied = [name for result in results for name in result]
        assert sorted(applied) == sorted(m.name for m in discover())
        assert len(await _applied(dsn)) == len(discover())


async def test_two_processes_migrating_at_once(admin_database_url):
    async with scratch_database(admin_database_url) as dsn:
        env = {**os.environ, "DATABASE_URL": dsn}
        cmd = [sys.executable, "-m", "app.cli", "migrate"]
        procs = [
            await asyncio.create_subprocess_exec(
                *cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            for _ in range(2)
        ]
        outputs = [await p.communicate() for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outputs
        assert len(await _applied(dsn)) == len(discover())
        applied_lines = sum(err.decode().count("applied 0") for _, err in outputs)
        assert applied_lines == len(discover())


async def test_an_edited_applied_migration_is_refused(admin_database_url):
    files = discover()
    async with scratch_database(admin_database_url) as dsn:
        await migrate(dsn)
        edited = [Migration(files[0].version, files[0].name, files[0].sql + "\n-- edited")]
        with pytest.raises(MigrationError, match="edited"):
            await migrate(dsn, edited + files[1:])


async def test_a_failing_migration_rolls_back_alone(admin_database_url):
    good = Migration(1, "0001_good.sql", "CREATE TABLE good (id int)")
    bad = Migration(2, "0002_bad.sql", "CREATE TABLE half (id int); SELECT no_such_function()")
    async with scratch_database(admin_database_url) as dsn:
        with pytest.raises(asyncpg.PostgresError):
            await migrate(dsn, [good, bad])
        conn = await asyncpg.connect(dsn)
        try:
            assert await conn.fetchval("SELECT to_regclass('good') IS NOT NULL")
            assert await conn.fetchval("SELECT to_regclass('half') IS NULL")
        finally:
            await conn.close()
        assert await _applied(dsn) == [(1, "0001_good.sql")]


_BEFORE_SOURCES = """
WITH acc AS (INSERT INTO accounts (name) VALUES ('Backfill') RETURNING id),
loc AS (INSERT INTO locations (account_id, name, time_zone)
        SELECT id, 'Site', 'America/New_York' FROM acc RETURNING id),
doc AS (INSERT INTO practitioners (account_id, first_name, last_name, display_name)
        SELECT id, 'Doc', 'Tor', 'Doc Tor' FROM acc RETURNING id),
kind AS (INSERT INTO appointment_types (account_id, name, duration_minutes)
         SELECT id, 'Visit', 30 FROM acc RETURNING id),
pat AS (INSERT INTO patients (account_id, first_name, last_name, date_of_birth)
        SELECT id, 'Pat', 'Ient', '1980-01-01' FROM acc RETURNING id),
setting AS (INSERT INTO self_scheduling_settings (account_id, name, publishable_key)
            SELECT id, 'Online', 'pk_backfill' FROM acc RETURNING id)
INSERT INTO scheduler_configs (account_id, setting_id, practitioner_id, location_id,
                               slot_interval_minutes)
SELECT acc.id, setting.id, doc.id, loc.id, 30 FROM acc, setting, doc, loc
RETURNING account_id, setting_id, practitioner_id, location_id, id AS config_id,
          (SELECT id FROM kind) AS type_id, (SELECT id FROM pat) AS patient_id
"""


async def test_the_source_migration_tells_fhir_and_waitlist_bookings_apart(admin_database_url):
    """0111 turns the appointments' `source` into a closed list and relabels the bookings made
    by a FHIR attempt (FHIR) or by claiming a waitlist offer for a window (WAITLIST); a
    widget booking, a direct one and an appointment an earlier-claim only moved keep theirs."""
    files = discover()
    async with scratch_database(admin_database_url) as dsn:
        await migrate(dsn, [m for m in files if m.version < 111])
        conn = await asyncpg.connect(dsn)
        try:
            ids = await conn.fetchrow(_BEFORE_SOURCES)
            a, p = ids["account_id"], ids["practitioner_id"]

            async def attempt(source):
                return await conn.fetchval(
                    "INSERT INTO self_scheduling_attempts (account_id, setting_id, status, source)"
                    " VALUES ($1, $2, 'BOOKED', $3) RETURNING id",
                    a, ids["setting_id"], source,
                )  # fmt: skip

            async def appointment(hour, attempt_id=None, source="SELF_SCHEDULING"):
                start = datetime(2026, 3, 9, hour, tzinfo=UTC)
                return await conn.fetchval(
                    "INSERT INTO appointments (account_id, location_id, practitioner_id,"
                    " patient_id, appointment_type_id, start_at, end_at, blocked_from,"
                    " blocked_until, attempt_id, source)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $6, $7, $8, $9) RETURNING id",
                    a, ids["location_id"], p, ids["patient_id"], ids["type_id"], start,
                    start + timedelta(minutes=30), attempt_id, source,
                )  # fmt: skip

            async def claimed_offer(kind, appointment_id, hour):
                entry = await conn.fetchval(
                    "INSERT INTO waitlist_entries (account_id, setting_id, patient_id, kind,"
                    " appointment_id, appointment_type_id, location_id, window_start, window_end,"
                    " source, status) VALUES ($1, $2, $3, $4, $5, $6, $7, now(),"
                    " now() + interval '1 day', 'PARTNER', 'CLAIMED') RETURNING id",
                    a, ids["setting_id"], ids["patient_id"], kind,
                    appointment_id if kind == "EARLIER" else None, ids["type_id"],
                    ids["location_id"],
                )  # fmt: skip
                opening = await conn.fetchval(
                    "INSERT INTO waitlist_openings (account_id, practitioner_id, kind)"
                    " VALUES ($1, $2, 'FREED') RETURNING id",
                    a, p,
                )  # fmt: skip
                start = datetime(2026, 3, 9, hour, tzinfo=UTC)
                await conn.execute(
                    "INSERT INTO waitlist_offers (account_id, entry_id, opening_id, patient_id,"
                    " setting_id, token_hash, practitioner_id, scheduler_config_id, location_id,"
                    " appointment_type_id, start_at, end_at, channel, status, expires_at,"
                    " created_at, appointment_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,"
                    " $10, $11, $12, 'EMAIL', 'CLAIMED', $12, $11, $13)",
                    a, entry, opening, ids["patient_id"], ids["setting_id"], f"h{hour}", p,
                    ids["config_id"], ids["location_id"], ids["type_id"], start,
                    start + timedelta(minutes=30), appointment_id,
                )  # fmt: skip

            fhir = await appointment(9, await attempt("FHIR"))
            widget = await appointment(10, await attempt("WIDGET"))
            direct = await appointment(11, source="PARTNER")
            from_window = await appointment(12)
            await claimed_offer("WINDOW", from_window, 12)
            moved = await appointment(13, await attempt("PARTNER"))
            await claimed_offer("EARLIER", moved, 13)
        finally:
            await conn.close()

        assert await migrate(dsn) == [m.name for m in files if m.version >= 111]
        conn = await asyncpg.connect(dsn)
        try:
            rows = await conn.fetch("SELECT id, source FROM appointments")
            assert {r["id"]: r["source"] for r in rows} == {
                fhir: "FHIR",
                widget: "SELF_SCHEDULING",
                direct: "PARTNER",
                from_window: "WAITLIST",
                moved: "SELF_SCHEDULING",
            }
            with pytest.raises(asyncpg.CheckViolationError):
                await conn.execute("UPDATE appointments SET source = 'IMPORT' WHERE id = $1", fhir)
        finally:
            await conn.close()

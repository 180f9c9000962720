import asyncio
import os
import subprocess
import sys

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

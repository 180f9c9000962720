"""The embedded PostgreSQL and the command line, run as a newcomer would."""

import asyncio
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import asyncpg
import httpx
import jwt

from tests.support import scratch_database, start_serve, wait_ready


def test_embedded_postgres_starts_and_serves_a_query():
    from app.core.embedded import start_embedded

    with tempfile.TemporaryDirectory(prefix="slotproof-embedded-") as tmp:
        script = (
            "import asyncio, asyncpg, sys\n"
            "from pathlib import Path\n"
            "from app.core.embedded import start_embedded\n"
            "dsn = start_embedded(Path(sys.argv[1]))\n"
            "async def main():\n"
            "    conn = await asyncpg.connect(dsn)\n"
            "    print(await conn.fetchval('SELECT 40 + 2'))\n"
            "    await conn.close()\n"
            "asyncio.run(main())\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", script, tmp], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "42"
        assert (Path(tmp) / "pg" / "PG_VERSION").read_text().strip() == "16"
    assert start_embedded  # imported without side effects


async def _cli(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app.cli",
        *args,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await proc.communicate()
    return proc.returncode, out.decode(), err.decode()


async def test_seed_demo_is_idempotent_and_its_credentials_work(admin_database_url, client):
    async with scratch_database(admin_database_url) as dsn:
        env = {**os.environ, "DATABASE_URL": dsn, "SLOTPROOF_SECRET_KEY": "k" * 40}
        code, first, err = await _cli("seed-demo", env=env)
        assert code == 0, err
        code, second, err = await _cli("seed-demo", env=env)
        assert code == 0, err
        demo, again = json.loads(first), json.loads(second)
        assert demo == again
        assert len(demo["locationIds"]) == 2
        assert len(demo["practitionerIds"]) == 3
        assert len(demo["appointmentTypeIds"]) == 3
        assert len(demo["schedulerConfigIds"]) == 4
        assert demo["publishableKey"].startswith("pk_")
        conn = await asyncpg.connect(dsn)
        try:
            zones = await conn.fetch("SELECT time_zone FROM locations ORDER BY id")
            assert [r["time_zone"] for r in zones] == ["America/New_York", "America/Los_Angeles"]
            assert await conn.fetchval("SELECT count(*) FROM accounts") == 1
            minutes = await conn.fetch(
                "SELECT duration_minutes, telehealth FROM appointment_types ORDER BY id"
            )
            assert [(r[0], r[1]) for r in minutes] == [(30, False), (15, False), (20, True)]
            setting = await conn.fetchrow("SELECT * FROM self_scheduling_settings")
            assert setting["verification_method"] == "EMAIL"
            assert (setting["forward_booking_limit"], setting["forward_booking_limit_unit"]) == (
                60,
                "DAYS",
            )
            assert (
                setting["afterward_booking_limit"],
                setting["afterward_booking_limit_unit"],
            ) == (
                2,
                "HOURS",
            )
        finally:
            await conn.close()

        code, out, err = await _cli(
            "create-client",
            "--account",
            str(demo["accountId"]),
            "--scopes",
            "scheduling",
            env=env,
        )
        assert code == 0, err
        created = json.loads(out)
        assert created["clientId"].startswith("cli_") and created["clientSecret"].startswith("sec_")

        code, _, err = await _cli(
            "create-client", "--account", "999999", "--scopes", "config", env=env
        )
        assert code == 1 and "does not exist" in err
        code, _, err = await _cli(
            "create-client", "--account", "1", "--scopes", "everything", env=env
        )
        assert code == 2 and "unknown scope" in err


async def test_bad_configuration_names_the_variable():
    env = {**os.environ, "SLOTPROOF_ENV": "staging"}
    code, _, err = await _cli("migrate", env=env)
    assert code == 2
    assert "SLOTPROOF_ENV" in err


async def test_serve_answers_http(admin_database_url):
    """`slotproof serve` as a real process: migrates and answers /readyz; in development its
    public URL (token issuer, manage links) follows --port (bug 11: it stayed on :8000)."""
    async with scratch_database(admin_database_url) as dsn:
        env = {k: v for k, v in os.environ.items() if k != "SLOTPROOF_PUBLIC_URL"}
        env["DATABASE_URL"] = dsn
        proc = await start_serve(env, port=18731)
        try:
            ready = await wait_ready("http://127.0.0.1:18731")
            assert ready.status_code == 200 and ready.json() == {"status": "ready"}
            code, out, _ = await _cli("seed-demo", env=env)
            assert code == 0
            demo = json.loads(out)
            async with httpx.AsyncClient() as http:
                token = await http.post(
                    "http://127.0.0.1:18731/oauth2/token",
                    data={
                        "grant_type": "client_credentials",
                        "client_id": demo["clientId"],
                        "client_secret": demo["clientSecret"],
                    },
                )
            claims = jwt.decode(token.json()["access_token"], options={"verify_signature": False})
            assert claims["iss"] == "http://127.0.0.1:18731"
        finally:
            proc.terminate()
            _, err = await proc.communicate()
        assert b"request" in err  # a structured access line was logged


def _postgres_running_on(pgdata: str) -> bool:
    import psutil

    for proc in psutil.process_iter(attrs=["name", "cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if proc.info["name"] == "postgres" and pgdata in " ".join(cmdline):
            return True
    return False


async def test_serve_without_database_url_runs_and_stops_the_embedded_server():
    data_dir = tempfile.mkdtemp(prefix="slotproof-serve-")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["SLOTPROOF_DATA_DIR"] = data_dir
    proc = await start_serve(env, port=18732)
    try:
        ready = await wait_ready("http://127.0.0.1:18732")
        assert ready.status_code == 200 and ready.json() == {"status": "ready"}
        assert _postgres_running_on(data_dir)
    finally:
        proc.terminate()
        await proc.communicate()
    for _ in range(100):
        if not _postgres_running_on(data_dir):
            break
        await asyncio.sleep(0.1)
    assert not _postgres_running_on(data_dir), "embedded PostgreSQL outlived the server"

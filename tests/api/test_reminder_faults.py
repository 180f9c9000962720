"""A `slotproof worker` killed with SIGKILL in the middle of sending a reminder: the reminder
still has exactly one notification, the provider sees it at most twice (the outbox's
documented at-least-once), and `reminder.sent` is recorded once."""

from __future__ import annotations

import asyncio
import secrets
import signal
from datetime import UTC, datetime, timedelta

from app.core.db import transaction
from app.reminders import service as reminders
from tests.api.test_faults import SlowProviders, _start_worker, _until, _worker_env, worker_world
from tests.support import daytime_zone, make_account


async def armed_text_reminder(pool, phone: str) -> int:
    """An appointment 23 hours ahead whose 24 h text is already due; its appointment id."""
    now = datetime.now(UTC)
    account = await make_account(pool)
    async with transaction(pool) as conn:
        location = await conn.fetchval(
            "INSERT INTO locations (account_id, name, time_zone) VALUES ($1, 'Main', $2)"
            " RETURNING id",
            account,
            daytime_zone(now),
        )
        doctor = await conn.fetchval(
            "INSERT INTO practitioners (account_id, first_name, last_name, display_name)"
            " VALUES ($1, 'Kim', 'Kill', 'Kim Kill') RETURNING id",
            account,
        )
        kind = await conn.fetchval(
            "INSERT INTO appointment_types (account_id, name, duration_minutes)"
            " VALUES ($1, 'Visit', 30) RETURNING id",
            account,
        )
        patient = await conn.fetchval(
            "INSERT INTO patients (account_id, first_name, last_name, date_of_birth,"
            " mobile_phone) VALUES ($1, 'Pat', 'Ient', '1980-01-01', $2) RETURNING id",
            account,
            phone,
        )
        start = now + timedelta(hours=23)
        appointment = await conn.fetchval(
            "INSERT INTO appointments (account_id, location_id, practitioner_id, patient_id,"
            " appointment_type_id, start_at, end_at, blocked_from, blocked_until)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $6, $7) RETURNING id",
            account, location, doctor, patient, kind, start, start + timedelta(minutes=30),
        )  # fmt: skip
        await reminders.sync(conn, appointment, now - timedelta(hours=2))  # booked earlier
    return appointment


async def test_a_worker_killed_mid_send_leaves_one_notification_and_one_event(
    admin_database_url,
):
    fake = SlowProviders(delay=2.0)
    async with worker_world(admin_database_url, fake) as (dsn, pool):
        phone = f"+1415555{secrets.randbelow(10**4):04d}"
        appointment = await armed_text_reminder(pool, phone)
        env = _worker_env(dsn, fake)

        first = await _start_worker(env)
        try:
            await _until(lambda: asyncio.sleep(0, fake.to(phone)), 60, "the reminder's send")
            first.kill()  # SIGKILL while the provider is answering
            await first.wait()
        finally:
            if first.returncode is None:
                first.kill()
                await first.wait()
        reminder = await pool.fetchrow(
            "SELECT r.*, n.status AS sending FROM appointment_reminders r"
            " JOIN notifications n ON n.id = r.notification_id"
            " WHERE r.appointment_id = $1 AND r.channel = 'SMS'",
            appointment,
        )
        assert (reminder["status"], reminder["sending"]) == ("QUEUED", "SENDING")
        assert reminder["sent_at"] is None

        second = await _start_worker(env)
        try:

            async def sent():
                return await pool.fetchval(
                    "SELECT sent_at FROM appointment_reminders WHERE id = $1", reminder["id"]
                )

            await _until(sent, 60, "the resend after the lease ran out")
        finally:
            second.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(second.communicate(), 30)
        assert second.returncode == 0, err.decode()[-3000:]

        notifications = await pool.fetch(
            "SELECT id, status, attempts FROM notifications WHERE recipient = $1", phone
        )
        assert [(n["id"], n["status"], n["attempts"]) for n in notifications] == [
            (reminder["notification_id"], "SENT", 2)
        ]
        requests = fake.to(phone)
        assert len(requests) == 2 and requests[1].accepted  # the killed send + one resend
        assert "Reply C to confirm" in requests[1].form["Body"]
        events = await pool.fetch("SELECT data FROM events WHERE type = 'reminder.sent'")
        assert [e["data"]["appointmentId"] for e in events] == [appointment]
        assert phone not in err.decode()

"""The demo practice: realistic enough to book through, created idempotently.

Two locations in different zones, three practitioners (Ana Ruiz works at both), three
appointment types, weekday hours with a lunch break, one active EMAIL-verified setting and a
partner client holding every scope. Its client secret is derived from the server secret, so
re-running `slotproof seed-demo` prints the same working credentials without storing them.
"""

from __future__ import annotations

import asyncpg
import msgspec

from app.core.secrets import hash_secret, keyed_hash, random_token, verify_secret
from app.partners.scopes import ALL_SCOPES

DEMO_CLIENT_ID = "cli_demo_practice"
_LOCK_KEY = 0x5107_9700_0002


class DemoPractice(msgspec.Struct, rename="camel"):
    account_id: int
    client_id: str
    client_secret: str
    setting_id: int
    publishable_key: str
    location_ids: list[int]
    practitioner_ids: list[int]
    appointment_type_ids: list[int]
    scheduler_config_ids: list[int]


def _weekdays(days: range, *windows: tuple[str, str]) -> list[dict[str, object]]:
    return [{"weekday": d, "start": s, "end": e} for d in days for s, e in windows]


MORNING_AND_AFTERNOON = (("09:00", "12:00"), ("13:00", "17:00"))  # lunch 12-13


def demo_client_secret(secret_key: str) -> str:
    return "sec_demo_" + keyed_hash(secret_key, "demo-client-secret", DEMO_CLIENT_ID)[:40]


async def seed_demo(pool: asyncpg.Pool, secret_key: str) -> DemoPractice:
    secret = demo_client_secret(secret_key)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
        client = await conn.fetchrow(
            "SELECT id, secret_hash FROM partner_clients WHERE client_id = $1", DEMO_CLIENT_ID
        )
        if client is None:
            account_id = await _create(conn, secret)
        else:
            account_id = await conn.fetchval(
                "SELECT account_id FROM partner_grants WHERE client_pk = $1", client["id"]
            )
            if not verify_secret(secret, client["secret_hash"]):  # the server key changed
                await conn.execute(
                    "UPDATE partner_clients SET secret_hash = $2 WHERE id = $1",
                    client["id"],
                    hash_secret(secret),
                )
        return await _describe(conn, account_id, secret)


async def _create(conn: asyncpg.Connection, secret: str) -> int:
    account_id = await conn.fetchval(
        "INSERT INTO accounts (name, time_zone) VALUES ($1, $2) RETURNING id",
        "Riverside Family Health",
        "America/New_York",
    )
    loc = {}
    for key, name, zone, city, state in (
        ("ny", "Riverside Family Health - Brooklyn", "America/New_York", "Brooklyn", "NY"),
        ("la", "Riverside Family Health - Oakland", "America/Los_Angeles", "Oakland", "CA"),
    ):
        loc[key] = await conn.fetchval(
            "INSERT INTO locations (account_id, name, store_id, time_zone, address_line1, city,"
            " state, postal_code, country, phone)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'US', $9) RETURNING id",
            account_id,
            name,
            f"demo-{key}",
            zone,
            "100 Main Street",
            city,
            state,
            "11201" if key == "ny" else "94612",
            "+12125550100" if key == "ny" else "+15105550100",
        )
    doc = {}
    for key, first, last, creds, npi in (
        ("ana", "Ana", "Ruiz", "MD", "1234567893"),
        ("ben", "Ben", "Okafor", "NP", None),
        ("chloe", "Chloe", "Park", "DO", None),
    ):
        doc[key] = await conn.fetchval(
            "INSERT INTO practitioners (account_id, first_name, last_name, display_name,"
            " credentials, npi) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            account_id,
            first,
            last,
            f"{first} {last}, {creds}",
            creds,
            npi,
        )
    types = []
    for name, minutes, telehealth, description, forms in (
        ("New patient visit", 30, False, "A first visit to get to know you.", 2),
        ("Follow-up", 15, False, "A short visit about an ongoing concern.", 0),
        ("Telehealth check-in", 20, True, "A video visit from home.", 1),
    ):
        types.append(
            await conn.fetchval(
                "INSERT INTO appointment_types (account_id, name, duration_minutes, telehealth,"
                " description, form_count) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                account_id,
                name,
                minutes,
                telehealth,
                description,
                forms,
            )
        )
    setting_id = await conn.fetchval(
        """
        INSERT INTO self_scheduling_settings (
            account_id, name, active, verification_method, location_ids, appointment_type_ids,
            practitioner_ids, are_practitioners_selectable, forward_booking_limit,
            forward_booking_limit_active, forward_booking_limit_unit, afterward_booking_limit,
            afterward_booking_limit_active, afterward_booking_limit_unit, publishable_key,
            allowed_origins, theme)
        VALUES ($1, 'Book online', true, 'EMAIL', $2, $3, $4, true, 60, true, 'DAYS', 2, true,
                'HOURS', $5, $6, $7)
        RETURNING id
        """,
        account_id,
        [loc["ny"], loc["la"]],
        types,
        [doc["ana"], doc["ben"], doc["chloe"]],
        random_token("pk_demo_", 12),
        ["http://127.0.0.1:8000", "http://localhost:8000"],
        {"primaryColor": "#0b5cab", "cornerRadius": 8},
    )
    for practitioner, location, days in (
        ("ana", "ny", range(0, 3)),  # Mon-Wed in Brooklyn
        ("ana", "la", range(3, 5)),  # Thu-Fri in Oakland
        ("ben", "ny", range(0, 5)),
        ("chloe", "la", range(0, 5)),
    ):
        await conn.execute(
            "INSERT INTO scheduler_configs (account_id, setting_id, practitioner_id, location_id,"
            " appointment_type_ids, slot_interval_minutes, buffer_before_minutes,"
            " buffer_after_minutes, rules)"
            " VALUES ($1, $2, $3, $4, $5, 15, 0, 5, $6)",
            account_id,
            setting_id,
            doc[practitioner],
            loc[location],
            types,
            _weekdays(days, *MORNING_AND_AFTERNOON),
        )
    await conn.execute(
        "INSERT INTO partner_clients (client_id, secret_hash, name, scopes)"
        " VALUES ($1, $2, $3, $4)",
        DEMO_CLIENT_ID,
        hash_secret(secret),
        "Demo partner",
        list(ALL_SCOPES),
    )
    await conn.execute(
        "INSERT INTO partner_grants (client_pk, account_id)"
        " SELECT id, $2 FROM partner_clients WHERE client_id = $1",
        DEMO_CLIENT_ID,
        account_id,
    )
    return account_id


async def _describe(conn: asyncpg.Connection, account_id: int, secret: str) -> DemoPractice:
    async def ids(table: str) -> list[int]:
        return [
            r["id"]
            for r in await conn.fetch(
                f"SELECT id FROM {table} WHERE account_id = $1 ORDER BY id",  # noqa: S608
                account_id,
            )
        ]

    setting = await conn.fetchrow(
        "SELECT id, publishable_key FROM self_scheduling_settings WHERE account_id = $1"
        " ORDER BY id LIMIT 1",
        account_id,
    )
    return DemoPractice(
        account_id=account_id,
        client_id=DEMO_CLIENT_ID,
        client_secret=secret,
        setting_id=setting["id"],
        publishable_key=setting["publishable_key"],
        location_ids=await ids("locations"),
        practitioner_ids=await ids("practitioners"),
        appointment_type_ids=await ids("appointment_types"),
        scheduler_config_ids=await ids("scheduler_configs"),
    )

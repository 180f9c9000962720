"""Every SQL statement of the FHIR facade: reads shaped for FHIR, always inside one account.

Each search answers one page (`limit` rows after `offset`) plus the total that matched."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import asyncpg
import msgspec

Conn = asyncpg.Connection | asyncpg.Pool


class LocationRow(msgspec.Struct, frozen=True):
    id: int
    name: str
    active: bool
    time_zone: str
    phone: str | None
    address_line1: str | None
    address_line2: str | None
    city: str | None
    state: str | None
    postal_code: str | None
    country: str | None


class PractitionerRow(msgspec.Struct, frozen=True):
    id: int
    first_name: str
    last_name: str
    display_name: str
    credentials: str | None
    npi: str | None
    active: bool


class ServiceRow(msgspec.Struct, frozen=True):
    id: int
    name: str
    duration_minutes: int
    telehealth: bool
    description: str | None
    active: bool
    location_ids: list[int]


class ScheduleRow(msgspec.Struct, frozen=True):
    """A scheduler config: one practitioner at one location for some appointment types."""

    id: int
    setting_id: int
    practitioner_id: int
    location_id: int
    appointment_type_ids: list[int]  # the types both the config and its setting offer
    time_zone: str
    # setting, practitioner and location active, and the setting offers both
    active: bool


class RoleRow(msgspec.Struct, frozen=True):
    practitioner_id: int
    location_id: int
    appointment_type_ids: list[int]
    active: bool


class PatientRow(msgspec.Struct, frozen=True):
    id: int
    first_name: str
    last_name: str
    date_of_birth: date
    email: str | None
    mobile_phone: str | None


class AppointmentRow(msgspec.Struct, frozen=True):
    id: int
    location_id: int
    practitioner_id: int
    patient_id: int
    appointment_type_id: int
    scheduler_config_id: int | None
    start_at: datetime
    end_at: datetime
    status: str
    note: str | None
    created_at: datetime
    time_zone: str


class Page(msgspec.Struct, frozen=True):
    rows: list[Any]
    total: int


def _rows(kind: type, records: list[asyncpg.Record]) -> Page:
    total = records[0]["total"] if records else 0
    fields = kind.__struct_fields__
    return Page([kind(*(r[f] for f in fields)) for r in records], total)


async def _page(conn: Conn, kind: type, sql: str, *args: Any) -> Page:
    return _rows(kind, await conn.fetch(sql, *args))


async def account_zone(conn: Conn, account_id: int) -> str:
    return await conn.fetchval("SELECT time_zone FROM accounts WHERE id = $1", account_id)


async def locations(
    conn: Conn, account_id: int, *, ids: list[int] | None, name: str | None, offset: int, limit: int
) -> Page:
    return await _page(
        conn,
        LocationRow,
        """
        SELECT id, name, active, time_zone, phone, address_line1, address_line2, city, state,
               postal_code, country, count(*) OVER () AS total
          FROM locations
         WHERE account_id = $1 AND ($2::bigint[] IS NULL OR id = ANY($2))
           AND ($3::text IS NULL OR name ILIKE '%' || $3 || '%')
         ORDER BY id OFFSET $4 LIMIT $5
        """,
        account_id,
        ids,
        _like(name),
        offset,
        limit,
    )


async def practitioners(
    conn: Conn, account_id: int, *, ids: list[int] | None, name: str | None, offset: int, limit: int
) -> Page:
    return await _page(
        conn,
        PractitionerRow,
        """
        SELECT id, first_name, last_name, display_name, credentials, npi, active,
               count(*) OVER () AS total
          FROM practitioners
         WHERE account_id = $1 AND ($2::bigint[] IS NULL OR id = ANY($2))
           AND ($3::text IS NULL OR display_name ILIKE '%' || $3 || '%'
                OR first_name ILIKE '%' || $3 || '%' OR last_name ILIKE '%' || $3 || '%')
         ORDER BY id OFFSET $4 LIMIT $5
        """,
        account_id,
        ids,
        _like(name),
        offset,
        limit,
    )


async def services(
    conn: Conn,
    account_id: int,
    *,
    ids: list[int] | None,
    location_id: int | None,
    offset: int,
    limit: int,
) -> Page:
    return await _page(
        conn,
        ServiceRow,
        """
        SELECT t.id, t.name, t.duration_minutes, t.telehealth, t.description, t.active,
               coalesce((SELECT array_agg(DISTINCT c.location_id ORDER BY c.location_id)
                           FROM scheduler_configs c
                          WHERE c.account_id = t.account_id
                            AND t.id = ANY(c.appointment_type_ids)), '{}') AS location_ids,
               count(*) OVER () AS total
          FROM appointment_types t
         WHERE t.account_id = $1 AND ($2::bigint[] IS NULL OR t.id = ANY($2))
           AND ($3::bigint IS NULL OR EXISTS (
                SELECT 1 FROM scheduler_configs c WHERE c.account_id = t.account_id
                   AND c.location_id = $3 AND t.id = ANY(c.appointment_type_ids)))
         ORDER BY t.id OFFSET $4 LIMIT $5
        """,
        account_id,
        ids,
        location_id,
        offset,
        limit,
    )


_SCHEDULES = """
SELECT c.id, c.setting_id, c.practitioner_id, c.location_id,
       array(SELECT t FROM unnest(c.appointment_type_ids) t
              WHERE t = ANY(s.appointment_type_ids) ORDER BY t) AS appointment_type_ids,
       l.time_zone,
       (s.active AND l.active AND p.active AND c.location_id = ANY(s.location_ids)
        AND c.practitioner_id = ANY(s.practitioner_ids)) AS active,
       count(*) OVER () AS total
  FROM scheduler_configs c
  JOIN self_scheduling_settings s ON s.id = c.setting_id
  JOIN locations l ON l.id = c.location_id
  JOIN practitioners p ON p.id = c.practitioner_id
 WHERE c.account_id = $1 AND ($2::bigint[] IS NULL OR c.id = ANY($2))
   AND ($3::bigint[] IS NULL OR c.practitioner_id = ANY($3))
   AND ($4::bigint[] IS NULL OR c.location_id = ANY($4))
   AND ($5::bigint IS NULL OR ($5 = ANY(c.appointment_type_ids)
                                AND $5 = ANY(s.appointment_type_ids)))
   AND ($6::boolean IS NULL OR $6 = (s.active AND l.active AND p.active
                                     AND c.location_id = ANY(s.location_ids)
                                     AND c.practitioner_id = ANY(s.practitioner_ids)))
 ORDER BY c.id OFFSET $7 LIMIT $8
"""


async def schedules(
    conn: Conn,
    account_id: int,
    *,
    ids: list[int] | None = None,
    practitioner_ids: list[int] | None = None,
    location_ids: list[int] | None = None,
    service_id: int | None = None,
    active: bool | None = None,
    offset: int = 0,
    limit: int = 10_000,
) -> Page:
    return await _page(
        conn,
        ScheduleRow,
        _SCHEDULES,
        account_id,
        ids,
        practitioner_ids,
        location_ids,
        service_id,
        active,
        offset,
        limit,
    )


async def roles(
    conn: Conn,
    account_id: int,
    *,
    practitioner_id: int | None,
    location_id: int | None,
    offset: int,
    limit: int,
) -> Page:
    return await _page(
        conn,
        RoleRow,
        """
        SELECT c.practitioner_id, c.location_id,
               array(SELECT DISTINCT t FROM unnest(array_agg(c.appointment_type_ids)) t
                     ORDER BY t) AS appointment_type_ids,
               bool_and(l.active AND p.active) AS active, count(*) OVER () AS total
          FROM scheduler_configs c
          JOIN locations l ON l.id = c.location_id
          JOIN practitioners p ON p.id = c.practitioner_id
         WHERE c.account_id = $1 AND ($2::bigint IS NULL OR c.practitioner_id = $2)
           AND ($3::bigint IS NULL OR c.location_id = $3)
         GROUP BY c.practitioner_id, c.location_id
         ORDER BY c.practitioner_id, c.location_id OFFSET $4 LIMIT $5
        """,
        account_id,
        practitioner_id,
        location_id,
        offset,
        limit,
    )


async def patients(
    conn: Conn,
    account_id: int,
    *,
    ids: list[int] | None,
    birth_date: date | None,
    email: str | None,
    phone: str | None,
    offset: int,
    limit: int,
) -> Page:
    return await _page(
        conn,
        PatientRow,
        """
        SELECT id, first_name, last_name, date_of_birth, email, mobile_phone,
               count(*) OVER () AS total
          FROM patients
         WHERE account_id = $1 AND ($2::bigint[] IS NULL OR id = ANY($2))
           AND ($3::date IS NULL OR date_of_birth = $3)
           AND ($4::text IS NULL OR lower(email) = lower($4))
           AND ($5::text IS NULL OR mobile_phone = $5)
         ORDER BY id OFFSET $6 LIMIT $7
        """,
        account_id,
        ids,
        birth_date,
        email,
        phone,
        offset,
        limit,
    )


async def appointments(
    conn: Conn,
    account_id: int,
    *,
    ids: list[int] | None = None,
    patient_id: int | None = None,
    start_from: datetime | None = None,
    start_to: datetime | None = None,
    statuses: list[str] | None = None,
    location_id: int | None = None,
    practitioner_id: int | None = None,
    config_id: int | None = None,
    offset: int = 0,
    limit: int = 100,
) -> Page:
    return await _page(
        conn,
        AppointmentRow,
        """
        SELECT a.id, a.location_id, a.practitioner_id, a.patient_id, a.appointment_type_id,
               a.scheduler_config_id, a.start_at, a.end_at, a.status, a.note, a.created_at,
               l.time_zone, count(*) OVER () AS total
          FROM appointments a JOIN locations l ON l.id = a.location_id
         WHERE a.account_id = $1 AND ($2::bigint[] IS NULL OR a.id = ANY($2))
           AND ($3::bigint IS NULL OR a.patient_id = $3)
           AND ($4::timestamptz IS NULL OR a.start_at >= $4)
           AND ($5::timestamptz IS NULL OR a.start_at < $5)
           AND ($6::text[] IS NULL OR a.status = ANY($6))
           AND ($7::bigint IS NULL OR a.location_id = $7)
           AND ($8::bigint IS NULL OR a.practitioner_id = $8)
           AND ($9::bigint IS NULL OR a.scheduler_config_id = $9)
         ORDER BY a.start_at, a.id OFFSET $10 LIMIT $11
        """,
        account_id,
        ids,
        patient_id,
        start_from,
        start_to,
        statuses,
        location_id,
        practitioner_id,
        config_id,
        offset,
        limit,
    )


def _like(text: str | None) -> str | None:
    if text is None:
        return None
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def hold_expiry(
    conn: Conn, account_id: int, attempt_id: int, schedule_id: int, start: datetime
) -> datetime | None:
    """When the attempt's hold on exactly that slot expires; None when it has none (any more)."""
    return await conn.fetchval(
        "SELECT expires_at FROM holds WHERE account_id = $1 AND attempt_id = $2"
        " AND scheduler_config_id = $3 AND start_at = $4",
        account_id,
        attempt_id,
        schedule_id,
        start,
    )

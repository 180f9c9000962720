"""Build a practice through the partner API, for tests that need one."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg
import msgspec

from tests.support import Partner

WEEKDAYS_9_TO_12 = [{"weekday": d, "start": "09:00", "end": "12:00"} for d in range(5)]


class Practice(msgspec.Struct):
    partner: Partner
    location_ids: list[int]
    practitioner_ids: list[int]
    appointment_type_id: int
    setting_id: int
    config_ids: list[int]
    publishable_key: str


async def build_practice(
    p: Partner,
    *,
    zones: tuple[str, ...] = ("America/New_York",),
    practitioners: int = 1,
    duration: int = 30,
    interval: int = 30,
    rules: list[dict[str, Any]] | None = None,
    buffers: tuple[int, int] = (0, 0),
    max_per_day: int | None = None,
    selectable: bool = True,
    method: str | None = "EMAIL",
    notice_hours: int = 0,
    forward_days: int = 60,
    overrides: list[dict[str, Any]] | None = None,
    blocks: list[dict[str, Any]] | None = None,
) -> Practice:
    """Every practitioner gets one config at every location with the same rules."""
    locations = [
        (await p.create("/location", {"name": f"Site {i}", "timeZone": zone}))["id"]
        for i, zone in enumerate(zones)
    ]
    doctors = [
        (await p.create("/practitioner", {"firstName": f"Doc{i}", "lastName": "Test"}))["id"]
        for i in range(practitioners)
    ]
    kind = await p.create("/appointment-type", {"name": "Visit", "durationMinutes": duration})
    setting = await p.create(
        "/self-scheduling/setting",
        {
            "name": "Online",
            "verificationMethod": method,
            "locationIds": locations,
            "appointmentTypeIds": [kind["id"]],
            "practitionerIds": doctors,
            "arePractitionersSelectable": selectable,
            "forwardBookingLimit": forward_days,
            "forwardBookingLimitUnit": "DAYS",
            "afterwardBookingLimit": notice_hours,
            "afterwardBookingLimitActive": notice_hours > 0,
            "afterwardBookingLimitUnit": "HOURS",
            "widget": {"allowedOrigins": ["http://127.0.0.1:8000"]},
        },
    )
    configs = []
    for doctor in doctors:
        for location in locations:
            body = {
                "practitionerId": doctor,
                "locationId": location,
                "appointmentTypeIds": [kind["id"]],
                "slotIntervalMinutes": interval,
                "bufferBeforeMinutes": buffers[0],
                "bufferAfterMinutes": buffers[1],
                "maxPerDay": max_per_day,
                "rules": WEEKDAYS_9_TO_12 if rules is None else rules,
                "overrides": overrides or [],
                "blocks": blocks or [],
            }
            path = f"/self-scheduling/setting/{setting['id']}/scheduler-config"
            configs.append((await p.create(path, body))["id"])
    return Practice(
        partner=p,
        location_ids=locations,
        practitioner_ids=doctors,
        appointment_type_id=kind["id"],
        setting_id=setting["id"],
        config_ids=configs,
        publishable_key=setting["widget"]["publishableKey"],
    )


async def insert_appointment(
    pool: asyncpg.Pool,
    practice: Practice,
    *,
    practitioner_id: int,
    location_id: int,
    start: datetime,
    minutes: int = 30,
    before: int = 0,
    after: int = 0,
    config_id: int | None = None,
    status: str = "SCHEDULED",
) -> int:
    account_id = practice.partner.account_id
    patient = await pool.fetchval(
        "INSERT INTO patients (account_id, first_name, last_name, date_of_birth)"
        " VALUES ($1, 'Pat', 'Ient', '1980-01-01') RETURNING id",
        account_id,
    )
    end = start + timedelta(minutes=minutes)
    return await pool.fetchval(
        "INSERT INTO appointments (account_id, location_id, practitioner_id, patient_id,"
        " appointment_type_id, scheduler_config_id, start_at, end_at, blocked_from,"
        " blocked_until, status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        " RETURNING id",
        account_id,
        location_id,
        practitioner_id,
        patient,
        practice.appointment_type_id,
        config_id,
        start,
        end,
        start - timedelta(minutes=before),
        end + timedelta(minutes=after),
        status,
    )


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def availability_params(practice: Practice, start: datetime, end: datetime) -> dict[str, Any]:
    """The partner availability query of the practice's first location."""
    return {
        "selfSchedulingSettingId": practice.setting_id,
        "startUnix": ms(start),
        "endUnix": ms(end),
        "locationId": practice.location_ids[0],
        "appointmentTypeId": practice.appointment_type_id,
    }


async def availability(practice: Practice, start: datetime, end: datetime, **extra: Any):
    """GET the partner availability of the practice's first location."""
    params = {**availability_params(practice, start, end), **extra}
    return await practice.partner.get("/self-scheduling/availability", params=params)


async def hold_first_config(practice: Practice, start_date_time: str) -> dict[str, Any]:
    """A new partner attempt holding `start_date_time` with the practice's first practitioner,
    location and config; returns the attempt. On a setting that verifies, a code is sent
    first (a hold needs one)."""
    p = practice.partner
    method = (await p.get(f"/self-scheduling/setting/{practice.setting_id}")).json()[
        "verificationMethod"
    ]
    body: dict[str, Any] = {"selfSchedulingSettingId": practice.setting_id}
    if method:
        proof = await p.create("/identity-proof", {"verificationMethod": method})
        body["identityProofId"] = proof["id"]
    attempt = await p.create("/self-scheduling/attempt", body)
    if method:
        contact = (
            {"email": f"hold.{attempt['id']}@example.com"}
            if method == "EMAIL"
            else {"phone": f"+1202555{attempt['id'] % 10_000:04d}"}
        )
        sent = await p.post(f"/identity-proof/{body['identityProofId']}/send", json=contact)
        assert sent.status_code == 200, sent.text
    hold = await practice.partner.post(
        f"/self-scheduling/attempt/{attempt['id']}/hold", json=first_slot(practice, start_date_time)
    )
    assert hold.status_code == 201, hold.text
    return attempt


def first_slot(practice: Practice, start_date_time: str, practitioner: int = 0) -> dict[str, Any]:
    """A hold/booking body for `start_date_time` at the practice's first location, with its
    first practitioner (or the `practitioner`-th) and that practitioner's config there."""
    return {
        "appointmentTypeId": practice.appointment_type_id,
        "locationId": practice.location_ids[0],
        "practitionerId": practice.practitioner_ids[practitioner],
        "schedulerConfigId": practice.config_ids[practitioner * len(practice.location_ids)],
        "startDateTime": start_date_time,
    }

"""Lobbie's shape of a location-scoped appointment, with its status history."""

from __future__ import annotations

from datetime import timedelta

from app.appointments import schemas as s
from app.appointments import store
from app.availability import engine as e
from app.core.crud import Row
from app.reminders.views import ReminderState, reminder_states

_MINUTE = timedelta(minutes=1)
# who made an appointment, by how it was made (the first statusHistory entry)
_CREATED_BY = {"SELF_SCHEDULING": "patient", "PARTNER": "partner", "FHIR": "partner",
               "WAITLIST": "patient"}  # fmt: skip


def location_appointment(
    row: Row, changes: list[Row], reminders: list[ReminderState]
) -> s.LocationAppointment:
    tz = e.zone(row["time_zone"])
    created = s.StatusChange(
        status="SCHEDULED", at=row["created_at"], by=_CREATED_BY.get(row["source"], "staff")
    )
    history = [created] + [
        s.StatusChange(status=c["to_status"], at=c["at"], by=c["actor"], reason=c["reason"])
        for c in changes
    ]
    return s.LocationAppointment(
        id=row["id"],
        appointment_type_id=row["appointment_type_id"],
        location_id=row["location_id"],
        patient_id=row["patient_id"],
        practitioner_id=row["practitioner_id"],
        start_time=row["start_at"].astimezone(tz).isoformat(),
        end_time=row["end_at"].astimezone(tz).isoformat(),
        duration_minutes=(row["end_at"] - row["start_at"]) // _MINUTE,
        note=row["note"],
        status=row["status"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        telehealth=row["telehealth"],
        form_count=row["form_count"],
        source=row["source"],
        status_history=history,
        reminders=reminders,
    )


async def location_appointments(conn: store.Conn, rows: list[Row]) -> list[s.LocationAppointment]:
    ids = [r["id"] for r in rows]
    changes = await store.status_changes(conn, ids)
    reminders = await reminder_states(conn, ids)
    return [location_appointment(r, changes[r["id"]], reminders[r["id"]]) for r in rows]


async def one(conn: store.Conn, row: Row) -> s.LocationAppointment:
    return (await location_appointments(conn, [row]))[0]

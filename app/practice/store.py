"""SQL for locations, practitioners and appointment types, and row -> response mapping."""

from __future__ import annotations

from typing import Any

from app.core.crud import Row, Table
from app.practice import schemas as s

_ADDRESS = ("line1", "line2", "city", "state", "postal_code", "country")

locations = Table(
    "locations",
    "location",
    (
        "name",
        "store_id",
        "active",
        "time_zone",
        "phone",
        "address_line1",
        "address_line2",
        "city",
        "state",
        "postal_code",
        "country",
    ),
)
practitioners = Table(
    "practitioners",
    "practitioner",
    ("first_name", "last_name", "display_name", "credentials", "npi", "active"),
)
appointment_types = Table(
    "appointment_types",
    "appointment type",
    ("name", "duration_minutes", "telehealth", "description", "form_count", "color", "active"),
)


def _address_column(part: str) -> str:
    return f"address_{part}" if part.startswith("line") else part


def location_values(fields: dict[str, Any]) -> dict[str, Any]:
    """Flatten an `address` object into its columns."""
    values = dict(fields)
    if "address" in values:
        address = values.pop("address")
        for part in _ADDRESS:
            values[_address_column(part)] = getattr(address, part) if address else None
    return values


async def referenced_by_a_setting(conn, account_id: int, array_column: str, id_: int) -> bool:
    assert array_column in ("location_ids", "practitioner_ids", "appointment_type_ids")
    return await conn.fetchval(
        f"SELECT EXISTS (SELECT 1 FROM self_scheduling_settings "  # noqa: S608
        f"WHERE account_id = $1 AND $2 = ANY({array_column}))",
        account_id,
        id_,
    )


def to_location(row: Row) -> s.Location:
    parts = {part: row[_address_column(part)] for part in _ADDRESS}
    return s.Location(
        id=row["id"],
        name=row["name"],
        store_id=row["store_id"],
        active=row["active"],
        time_zone=row["time_zone"],
        address=s.Address(**parts) if any(parts.values()) else None,
        phone=row["phone"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def to_practitioner(row: Row) -> s.Practitioner:
    return s.Practitioner(**{f: row[f] for f in s.Practitioner.__struct_fields__})


def to_appointment_type(row: Row) -> s.AppointmentType:
    return s.AppointmentType(**{f: row[f] for f in s.AppointmentType.__struct_fields__})

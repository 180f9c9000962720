"""SQL for locations, practitioners and appointment types, and row -> response mapping."""

from __future__ import annotations

from typing import Any

from app.core.crud import Row, Table
from app.core.phones import phone_digits
from app.practice import schemas as s

# response field -> column
_ADDRESS = {
    "address1": "address_line1",
    "address2": "address_line2",
    "city": "city",
    "state": "state",
    "postal_code": "postal_code",
    "country": "country",
}
_LEGACY_LINES = {"line1": "address1", "line2": "address2"}

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


_LOCATION_ORDER = {"NAME": "lower(name)", "CREATED_DATE": "created_at"}
_DIRECTIONS = {"ASC": (">", "ASC"), "DESC": ("<", "DESC")}


async def list_locations(
    conn: Any,
    account_id: int,
    *,
    name: str | None,
    store_id: str | None,
    active: bool | None,
    sort_by: str,
    sort_dir: str,
    after: tuple[Any, int] | None,
    limit: int,
) -> list[Row]:
    """Lobbie's location list: `name` a case-insensitive "contains", `storeId` exact, ordered
    by (name case-insensitively | creation, id) after the keyset `after`."""
    key, (compare, direction) = _LOCATION_ORDER[sort_by], _DIRECTIONS[sort_dir]
    after_value, after_id = after if after is not None else (None, 0)
    pattern = None
    if name is not None:
        pattern = "%" + name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    cast = "text" if sort_by == "NAME" else "timestamptz"
    return await conn.fetch(
        f"""SELECT *, {key} AS sort_key FROM locations
         WHERE account_id = $1
           AND ($2::{cast} IS NULL OR ({key}, id) {compare} ($2, $3::bigint))
           AND ($4::text IS NULL OR name ILIKE $4)
           AND ($5::text IS NULL OR store_id = $5)
           AND ($6::boolean IS NULL OR active = $6)
         ORDER BY {key} {direction}, id {direction} LIMIT $7""",  # noqa: S608 - fixed identifiers
        account_id,
        after_value,
        after_id,
        pattern,
        store_id,
        active,
        limit + 1,
    )


def location_values(fields: dict[str, Any]) -> dict[str, Any]:
    """Flatten an `address` object into its columns (`line1`/`line2` stand for `address1`/
    `address2`); `phoneNumber` and `phone` are one column."""
    values = dict(fields)
    if "address" in values:
        address = values.pop("address")
        parts = {part: getattr(address, part) if address else None for part in _ADDRESS}
        for legacy, part in _LEGACY_LINES.items():
            if address is not None and parts[part] is None:
                parts[part] = getattr(address, legacy)
        values.update({column: parts[part] for part, column in _ADDRESS.items()})
    if "phone_number" in values:
        number = values.pop("phone_number")
        if number is not None or "phone" not in values:
            values["phone"] = number
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
    parts = {part: row[column] for part, column in _ADDRESS.items()}
    return s.Location(
        id=row["id"],
        name=row["name"],
        store_id=row["store_id"],
        active=row["active"],
        time_zone=row["time_zone"],
        address=s.Address(**parts) if any(parts.values()) else None,
        phone_number=phone_digits(row["phone"]),
        phone=row["phone"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def to_practitioner(row: Row) -> s.Practitioner:
    return s.Practitioner(**{f: row[f] for f in s.Practitioner.__struct_fields__})


def to_appointment_type(row: Row) -> s.AppointmentType:
    return s.AppointmentType(**{f: row[f] for f in s.AppointmentType.__struct_fields__})

"""Locations, practitioners and appointment types: `config` scope writes, `scheduling` reads."""

from __future__ import annotations

from typing import Annotated

import asyncpg
from litestar import Controller, delete, get, post, put
from litestar.params import FromQuery, QueryParameter

from app.core.crud import Table
from app.core.errors import Problem, invalid
from app.core.http import Cursor, DbPool, JSONBody, Limit, PathId
from app.core.pagination import (
    DEFAULT_LIMIT,
    check_limit,
    decode_cursor,
    decode_sorted_cursor,
    encode_sorted_cursor,
)
from app.core.schema import NO_NUL, check_time_zone
from app.partners.guard import scope
from app.partners.scopes import CONFIG, SCHEDULING
from app.practice import schemas as s
from app.practice import store

MAX_NAME = 200  # practitioners.display_name CHECK


async def _delete_unreferenced(
    pool: asyncpg.Pool, table: Table, array_column: str, account_id: int, id_: int
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await table.get(conn, account_id, id_)
        if await store.referenced_by_a_setting(conn, account_id, array_column, id_):
            raise Problem(
                409,
                "in_use",
                f"A self-scheduling setting still uses this {table.noun}; "
                "remove it there or deactivate it (active=false).",
            )
        await table.delete(conn, account_id, id_)


class LocationController(Controller):
    path = "/location"
    tags = ["locations"]

    @get(
        "/",
        opt=scope(SCHEDULING),
        operation_id="listLocations",
        summary="The account's locations",
        description="name: case-insensitive contains; storeId exact; sorted by NAME or"
        " CREATED_DATE, ASC or DESC, with a cursor.",
    )
    async def list_locations(
        self,
        pool: DbPool,
        account_id: PathId,
        name: Annotated[str | None, QueryParameter(max_length=200, pattern=NO_NUL)] = None,
        store_id: Annotated[
            str | None, QueryParameter(name="storeId", max_length=200, pattern=NO_NUL)
        ] = None,
        active: FromQuery[bool | None] = None,
        sort_by: Annotated[s.LocationSortBy, QueryParameter(name="sortBy")] = "CREATED_DATE",
        sort_dir: Annotated[s.SortDir, QueryParameter(name="sortDir")] = "ASC",
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> s.LocationPage:
        order, limit = f"{sort_by}:{sort_dir}", check_limit(limit)
        rows = await store.list_locations(
            pool,
            account_id,
            name=name,
            store_id=store_id,
            active=active,
            sort_by=sort_by,
            sort_dir=sort_dir,
            after=decode_sorted_cursor(cursor, order),
            limit=limit,
        )
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = encode_sorted_cursor(order, rows[-1]["sort_key"], rows[-1]["id"])
        return s.LocationPage([store.to_location(r) for r in rows], next_cursor)

    @get("/{location_id:int}", opt=scope(SCHEDULING))
    async def get_location(
        self, pool: DbPool, account_id: PathId, location_id: PathId
    ) -> s.Location:
        return store.to_location(await store.locations.get(pool, account_id, location_id))

    @post("/", opt=scope(CONFIG))
    async def create_location(
        self, pool: DbPool, account_id: PathId, data: JSONBody[s.LocationIn]
    ) -> s.Location:
        check_time_zone(data.time_zone)
        values = store.location_values({f: getattr(data, f) for f in data.__struct_fields__})
        return store.to_location(await store.locations.insert(pool, account_id, values))

    @put("/{location_id:int}", opt=scope(CONFIG))
    async def update_location(
        self, pool: DbPool, account_id: PathId, location_id: PathId, data: JSONBody[s.LocationPatch]
    ) -> s.Location:
        changes = data.changes()
        if "time_zone" in changes:
            check_time_zone(changes["time_zone"])
        row = await store.locations.update(
            pool, account_id, location_id, store.location_values(changes)
        )
        return store.to_location(row)

    @delete("/{location_id:int}", opt=scope(CONFIG))
    async def delete_location(self, pool: DbPool, account_id: PathId, location_id: PathId) -> None:
        await _delete_unreferenced(pool, store.locations, "location_ids", account_id, location_id)


class PractitionerController(Controller):
    path = "/practitioner"
    tags = ["practitioners"]

    @get("/", opt=scope(SCHEDULING))
    async def list_practitioners(
        self,
        pool: DbPool,
        account_id: PathId,
        active: FromQuery[bool | None] = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> s.PractitionerPage:
        rows, next_cursor = await store.practitioners.list_page(
            pool,
            account_id,
            after_id=decode_cursor(cursor),
            limit=check_limit(limit),
            filters={"active": active},
        )
        return s.PractitionerPage([store.to_practitioner(r) for r in rows], next_cursor)

    @get("/{practitioner_id:int}", opt=scope(SCHEDULING))
    async def get_practitioner(
        self, pool: DbPool, account_id: PathId, practitioner_id: PathId
    ) -> s.Practitioner:
        return store.to_practitioner(
            await store.practitioners.get(pool, account_id, practitioner_id)
        )

    @post("/", opt=scope(CONFIG))
    async def create_practitioner(
        self, pool: DbPool, account_id: PathId, data: JSONBody[s.PractitionerIn]
    ) -> s.Practitioner:
        values = {f: getattr(data, f) for f in data.__struct_fields__}
        values["display_name"] = data.display_name or f"{data.first_name} {data.last_name}"
        if len(values["display_name"]) > MAX_NAME:
            raise invalid(
                "displayName", f"required when the full name exceeds {MAX_NAME} characters"
            )
        return store.to_practitioner(await store.practitioners.insert(pool, account_id, values))

    @put("/{practitioner_id:int}", opt=scope(CONFIG))
    async def update_practitioner(
        self,
        pool: DbPool,
        account_id: PathId,
        practitioner_id: PathId,
        data: JSONBody[s.PractitionerPatch],
    ) -> s.Practitioner:
        row = await store.practitioners.update(pool, account_id, practitioner_id, data.changes())
        return store.to_practitioner(row)

    @delete("/{practitioner_id:int}", opt=scope(CONFIG))
    async def delete_practitioner(
        self, pool: DbPool, account_id: PathId, practitioner_id: PathId
    ) -> None:
        await _delete_unreferenced(
            pool, store.practitioners, "practitioner_ids", account_id, practitioner_id
        )


class AppointmentTypeController(Controller):
    path = "/appointment-type"
    tags = ["appointment types"]

    @get("/", opt=scope(SCHEDULING))
    async def list_appointment_types(
        self,
        pool: DbPool,
        account_id: PathId,
        active: FromQuery[bool | None] = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> s.AppointmentTypePage:
        rows, next_cursor = await store.appointment_types.list_page(
            pool,
            account_id,
            after_id=decode_cursor(cursor),
            limit=check_limit(limit),
            filters={"active": active},
        )
        return s.AppointmentTypePage([store.to_appointment_type(r) for r in rows], next_cursor)

    @get("/{appointment_type_id:int}", opt=scope(SCHEDULING))
    async def get_appointment_type(
        self, pool: DbPool, account_id: PathId, appointment_type_id: PathId
    ) -> s.AppointmentType:
        row = await store.appointment_types.get(pool, account_id, appointment_type_id)
        return store.to_appointment_type(row)

    @post("/", opt=scope(CONFIG))
    async def create_appointment_type(
        self, pool: DbPool, account_id: PathId, data: JSONBody[s.AppointmentTypeIn]
    ) -> s.AppointmentType:
        values = {f: getattr(data, f) for f in data.__struct_fields__}
        return store.to_appointment_type(
            await store.appointment_types.insert(pool, account_id, values)
        )

    @put("/{appointment_type_id:int}", opt=scope(CONFIG))
    async def update_appointment_type(
        self,
        pool: DbPool,
        account_id: PathId,
        appointment_type_id: PathId,
        data: JSONBody[s.AppointmentTypePatch],
    ) -> s.AppointmentType:
        row = await store.appointment_types.update(
            pool, account_id, appointment_type_id, data.changes()
        )
        return store.to_appointment_type(row)

    @delete("/{appointment_type_id:int}", opt=scope(CONFIG))
    async def delete_appointment_type(
        self, pool: DbPool, account_id: PathId, appointment_type_id: PathId
    ) -> None:
        await _delete_unreferenced(
            pool, store.appointment_types, "appointment_type_ids", account_id, appointment_type_id
        )

"""Shared SQL for account-scoped configuration tables (locations, practitioners, ...).

Table and column names come from code, never from requests; values are always bound
parameters. Every statement filters on account_id, so an id from another account reads as
absent (404) rather than forbidden.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg

from app.core.errors import Problem, not_found
from app.core.pagination import page

Row = asyncpg.Record


class Table:
    def __init__(self, name: str, noun: str, columns: Sequence[str]) -> None:
        self.name = name
        self.noun = noun
        self.columns = tuple(columns)
        self._select = f"SELECT * FROM {name}"  # noqa: S608 - fixed identifiers

    async def list_page(
        self,
        conn: asyncpg.Connection | asyncpg.Pool,
        account_id: int,
        *,
        after_id: int,
        limit: int,
        filters: Mapping[str, Any] | None = None,
        extra_where: str = "",
        extra_args: Sequence[Any] = (),
    ) -> tuple[list[Row], str | None]:
        args: list[Any] = [account_id, after_id, *extra_args]
        where = ["account_id = $1", "id > $2"]
        if extra_where:
            where.append(extra_where)
        for column, value in (filters or {}).items():
            if value is not None:
                self._check_column(column)
                args.append(value)
                where.append(f"{column} = ${len(args)}")
        args.append(limit + 1)
        sql = f"{self._select} WHERE {' AND '.join(where)} ORDER BY id LIMIT ${len(args)}"
        return page(await conn.fetch(sql, *args), limit)

    async def get(self, conn: asyncpg.Connection | asyncpg.Pool, account_id: int, id_: int) -> Row:
        row = await conn.fetchrow(
            f"{self._select} WHERE account_id = $1 AND id = $2", account_id, id_
        )
        if row is None:
            raise not_found(self.noun)
        return row

    async def insert(
        self, conn: asyncpg.Connection | asyncpg.Pool, account_id: int, values: Mapping[str, Any]
    ) -> Row:
        for column in values:
            self._check_column(column)
        columns = ["account_id", *values]
        params = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
        sql = (
            f"INSERT INTO {self.name} ({', '.join(columns)}) VALUES ({params}) "  # noqa: S608
            "RETURNING *"
        )
        return await conn.fetchrow(sql, account_id, *values.values())

    async def update(
        self,
        conn: asyncpg.Connection | asyncpg.Pool,
        account_id: int,
        id_: int,
        values: Mapping[str, Any],
    ) -> Row:
        if not values:
            return await self.get(conn, account_id, id_)
        for column in values:
            self._check_column(column)
        sets = ", ".join(f"{column} = ${i}" for i, column in enumerate(values, start=3))
        sql = (
            f"UPDATE {self.name} SET {sets}, updated_at = now() "  # noqa: S608
            "WHERE account_id = $1 AND id = $2 RETURNING *"
        )
        row = await conn.fetchrow(sql, account_id, id_, *values.values())
        if row is None:
            raise not_found(self.noun)
        return row

    async def delete(
        self, conn: asyncpg.Connection | asyncpg.Pool, account_id: int, id_: int
    ) -> None:
        try:
            status = await conn.execute(
                f"DELETE FROM {self.name} WHERE account_id = $1 AND id = $2",  # noqa: S608
                account_id,
                id_,
            )
        except asyncpg.ForeignKeyViolationError:
            raise Problem(
                409,
                "in_use",
                f"The {self.noun} is still referenced; deactivate it instead (active=false).",
            ) from None
        if status == "DELETE 0":
            raise not_found(self.noun)

    async def existing_ids(
        self, conn: asyncpg.Connection | asyncpg.Pool, account_id: int, ids: Sequence[int]
    ) -> set[int]:
        rows = await conn.fetch(
            f"SELECT id FROM {self.name} WHERE account_id = $1 AND id = ANY($2::bigint[])",  # noqa: S608
            account_id,
            list(ids),
        )
        return {r["id"] for r in rows}

    def _check_column(self, column: str) -> None:
        if column not in self.columns:
            raise ValueError(f"{column} is not a column of {self.name}")

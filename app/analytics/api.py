"""Funnel analytics (partner API, `analytics` scope): attempt records and the funnel, as JSON,
as streamed CSV (`Accept: text/csv`), and the funnel as an SVG chart. No PHI in any response:
no names, contacts, dates of birth, nor patient, appointment or identity proof ids."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from litestar import Controller, Request, Response, get
from litestar.params import QueryParameter
from litestar.response import Stream

from app.analytics import funnel as f
from app.analytics import schemas as s
from app.analytics import store, svg
from app.attempts.machine import State
from app.core.errors import invalid, not_found
from app.core.http import Cursor, DbPool, Limit, PathId
from app.core.pagination import DEFAULT_LIMIT, check_limit, decode_cursor, encode_cursor
from app.core.schema import MAX_ID
from app.partners.guard import scope
from app.partners.scopes import ANALYTICS

CSV = "text/csv"
JSON = "application/json"
SVG = "image/svg+xml"
CSV_BATCH = 500
_STATUSES = ", ".join(x.value for x in State)

# `from` and `to` are required; checked by hand so a missing one is named in the 400
# required, and declared so: a missing one is 400 naming it (errors[].field "from" / "to")
From = Annotated[str, QueryParameter(name="from", max_length=64, required=True)]
To = Annotated[str, QueryParameter(name="to", max_length=64, required=True)]
SettingId = Annotated[int | None, QueryParameter(name="selfSchedulingSettingId", ge=1, le=MAX_ID)]


def _wants_csv(request: Request) -> bool:
    return request.accept.best_match([JSON, CSV], default=JSON) == CSV


def _csv_lines(rows: Iterable[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


def _csv_response(chunks: AsyncIterator[str], filename: str) -> Response:
    return Stream(
        chunks,
        media_type=f"{CSV}; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


async def _zone(pool: DbPool, account_id: int) -> ZoneInfo:
    try:
        return ZoneInfo(await store.account_zone(pool, account_id))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _range_error(exc: f.RangeError):
    return invalid(exc.field, exc.message)


def _instant(raw: str | None, field: str, zone: ZoneInfo, *, end: bool) -> datetime | None:
    if raw is None:
        return None
    try:
        return f.parse_bound(raw, field, zone, end=end)
    except f.RangeError as exc:
        raise _range_error(exc) from None


async def _check_setting(pool: DbPool, account_id: int, setting_id: int | None) -> str | None:
    if setting_id is None:
        return None
    name = await store.setting_name(pool, account_id, setting_id)
    if name is None:
        raise not_found("self-scheduling setting")
    return name


def _attempt(row: store.AttemptRow, steps: list[store.StepRow]) -> s.AnalyticsAttempt:
    return s.AnalyticsAttempt(
        id=row.id,
        self_scheduling_setting_id=row.setting_id,
        location_id=row.location_id,
        source=row.source,
        status=row.status,
        is_verified=row.is_verified,
        steps=[s.RecordedStep(step=x.step, at=x.at) for x in steps],
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def _attempts(pool: DbPool, account_id: int, after_id: int, limit: int, **filters):
    rows = await store.attempts_page(pool, account_id, after_id=after_id, limit=limit, **filters)
    steps = await store.steps_of(pool, [r.id for r in rows]) if rows else {}
    return [_attempt(r, steps[r.id]) for r in rows]


class FunnelQuery(msgspec.Struct, frozen=True):
    """A funnel request, parsed: [start, end) in the account's zone."""

    start: datetime
    end: datetime
    zone: ZoneInfo
    setting_id: int | None


async def _funnel_query(
    pool: DbPool, account_id: int, raw_from: str, raw_to: str, setting_id: int | None
) -> FunnelQuery:
    zone = await _zone(pool, account_id)
    start = _instant(raw_from, "from", zone, end=False)
    end = _instant(raw_to, "to", zone, end=True)
    assert start is not None and end is not None
    try:
        f.check_range(start, end)
    except f.RangeError as exc:
        raise _range_error(exc) from None
    return FunnelQuery(start, end, zone, setting_id)


async def _funnel(pool: DbPool, account_id: int, q: FunnelQuery, group_by: str) -> f.Funnel:
    days = f.local_days(q.start, q.end, q.zone) if group_by == "day" else []
    aggregates = await store.funnel(
        pool,
        account_id,
        q.start,
        q.end,
        group_by=group_by,
        setting_id=q.setting_id,
        days=days,
        midnights=f.day_starts(days, q.zone),
    )
    return f.Funnel(
        start=q.start,
        end=q.end,
        time_zone=q.zone.key,
        group_by=group_by,
        self_scheduling_setting_id=q.setting_id,
        groups=f.shape(aggregates, group_by, days if group_by == "day" else None),
    )


class AnalyticsController(Controller):
    path = "/self-scheduling"
    tags = ["analytics"]
    opt = scope(ANALYTICS)

    @get(
        "/attempt",
        summary="Attempts with their steps (no PHI); `Accept: text/csv` streams every match",
    )
    async def list_attempts(
        self,
        request: Request,
        pool: DbPool,
        account_id: PathId,
        created_from: Annotated[
            str | None, QueryParameter(name="createdFrom", max_length=64)
        ] = None,
        created_to: Annotated[str | None, QueryParameter(name="createdTo", max_length=64)] = None,
        setting_id: SettingId = None,
        status: Annotated[str | None, QueryParameter(max_length=20)] = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> Response[s.AttemptPage]:
        if status is not None and status not in State.__members__:
            raise invalid("status", f"must be one of {_STATUSES}")
        zone = await _zone(pool, account_id)
        filters = {
            "created_from": _instant(created_from, "createdFrom", zone, end=False),
            "created_to": _instant(created_to, "createdTo", zone, end=True),
            "setting_id": setting_id,
            "status": status,
        }
        after_id = decode_cursor(cursor)
        limit = check_limit(limit)
        await _check_setting(pool, account_id, setting_id)
        if _wants_csv(request):

            async def chunks() -> AsyncIterator[str]:
                yield _csv_lines([list(f.ATTEMPT_CSV_HEADER)])
                last = after_id
                while True:
                    page = await _attempts(pool, account_id, last, CSV_BATCH, **filters)
                    rows = [row for a in page for row in f.attempt_csv_rows(a)]
                    if rows:
                        yield _csv_lines(rows)
                    if len(page) < CSV_BATCH:
                        return
                    last = page[-1].id

            return _csv_response(chunks(), "attempts.csv")
        page = await _attempts(pool, account_id, after_id, limit + 1, **filters)
        next_cursor = encode_cursor(page[limit - 1].id) if len(page) > limit else None
        return Response(s.AttemptPage(attempts=page[:limit], next_cursor=next_cursor))

    @get(
        "/funnel",
        summary="The funnel per day (account's zone), setting or location; CSV with Accept",
    )
    async def get_funnel(
        self,
        request: Request,
        pool: DbPool,
        account_id: PathId,
        start: From,
        end: To,
        setting_id: SettingId = None,
        group_by: Annotated[str, QueryParameter(name="groupBy", max_length=20)] = "day",
    ) -> Response[f.Funnel]:
        if group_by not in f.GROUP_BY:
            raise invalid("groupBy", "must be one of " + ", ".join(f.GROUP_BY))
        q = await _funnel_query(pool, account_id, start, end, setting_id)
        await _check_setting(pool, account_id, setting_id)
        result = await _funnel(pool, account_id, q, group_by)
        if _wants_csv(request):

            async def chunks() -> AsyncIterator[str]:
                yield _csv_lines([list(f.FUNNEL_CSV_HEADER)])
                rows = f.funnel_csv_rows(result)
                while batch := list(itertools.islice(rows, CSV_BATCH)):
                    yield _csv_lines(batch)

            return _csv_response(chunks(), "funnel.csv")
        return Response(result)

    @get(
        "/funnel.svg",
        summary="The funnel over the whole range as an SVG bar chart",
        media_type=SVG,
    )
    async def funnel_chart(
        self,
        pool: DbPool,
        account_id: PathId,
        start: From,
        end: To,
        setting_id: SettingId = None,
    ) -> Response[str]:
        q = await _funnel_query(pool, account_id, start, end, setting_id)
        name = await _check_setting(pool, account_id, setting_id)
        total = await _funnel(pool, account_id, q, "total")
        group = total.groups[0] if total.groups else f.shape_group(f.empty_aggregate(None))
        last_day = f.local_days(q.start, q.end, q.zone)[-1]
        first = q.start.astimezone(q.zone)
        span = f"{first.date().isoformat()} to {last_day.isoformat()} ({q.zone.key})"
        subtitle = f"{span} · {name if name is not None else 'all settings'}"
        body = svg.render(group, "Self-scheduling funnel", subtitle)
        return Response(
            body,
            media_type=f"{SVG}; charset=utf-8",
            headers={
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "no-store",
            },
        )

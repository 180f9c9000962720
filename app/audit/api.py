"""GET …/audit-log (partner API, `audit` scope): the account's PHI audit trail, filterable,
in id order with a keyset cursor. Rows name records by id and never hold values."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from litestar import Controller, get
from litestar.params import QueryParameter

from app.analytics import store as analytics_store
from app.analytics.funnel import RangeError, parse_bound
from app.audit import store
from app.audit.spec import ACTIONS, OUTCOMES
from app.core.errors import invalid
from app.core.http import Cursor, DbPool, Limit, PathId
from app.core.pagination import DEFAULT_LIMIT, check_limit, decode_cursor, encode_cursor
from app.core.schema import Schema
from app.partners.guard import scope
from app.partners.scopes import AUDIT

Text = Annotated[str | None, QueryParameter(max_length=200)]


class AuditEntry(Schema):
    id: int
    at: datetime
    actor: str
    action: str
    resource_type: str
    resource_id: str | None
    account_id: int | None
    request_id: str | None
    client_request_id: str | None  # the caller's own X-Request-Id, when it sent one
    outcome: str


class AuditPage(Schema):
    entries: list[AuditEntry]
    next_cursor: str | None


def _bound(raw: str | None, field: str, zone: ZoneInfo, *, end: bool) -> datetime | None:
    if raw is None:
        return None
    try:
        return parse_bound(raw, field, zone, end=end)
    except RangeError as exc:
        raise invalid(exc.field, exc.message) from None


class AuditLogController(Controller):
    path = "/audit-log"
    tags = ["audit"]
    opt = scope(AUDIT)

    @get("/", summary="Who read or wrote which PHI record, when, and with what outcome")
    async def list_audit_log(
        self,
        pool: DbPool,
        account_id: PathId,
        start: Annotated[str | None, QueryParameter(name="from", max_length=64)] = None,
        end: Annotated[str | None, QueryParameter(name="to", max_length=64)] = None,
        resource_type: Annotated[
            str | None, QueryParameter(name="resourceType", max_length=100)
        ] = None,
        resource_id: Annotated[
            str | None, QueryParameter(name="resourceId", max_length=100)
        ] = None,
        actor: Text = None,
        action: Annotated[str | None, QueryParameter(max_length=20)] = None,
        outcome: Annotated[str | None, QueryParameter(max_length=20)] = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> AuditPage:
        if action is not None and action not in ACTIONS:
            raise invalid("action", "must be one of " + ", ".join(ACTIONS))
        if outcome is not None and outcome not in OUTCOMES:
            raise invalid("outcome", "must be one of " + ", ".join(OUTCOMES))
        try:
            zone = ZoneInfo(await analytics_store.account_zone(pool, account_id))
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo("UTC")
        after_id = decode_cursor(cursor)
        limit = check_limit(limit)
        rows = await store.list_page(
            pool,
            account_id,
            after_id=after_id,
            limit=limit + 1,
            start=_bound(start, "from", zone, end=False),
            end=_bound(end, "to", zone, end=True),
            resource_type=resource_type,
            resource_id=resource_id,
            actor=actor,
            action=action,
            outcome=outcome,
        )
        next_cursor = encode_cursor(rows[limit - 1]["id"]) if len(rows) > limit else None
        return AuditPage(
            entries=[
                AuditEntry(**{k: r[k] for k in AuditEntry.__struct_fields__}) for r in rows[:limit]
            ],
            next_cursor=next_cursor,
        )

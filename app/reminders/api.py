"""Patients answering reminders: SMS replies from Twilio (TwiML back), and the confirm and
unsubscribe links of reminder emails (GET shows a page, only POST acts: mail scanners follow
links). Thin: the rules are in `conversation`, `app.appointments.changes` and `optouts`."""

from __future__ import annotations

import re
from typing import Annotated
from zoneinfo import ZoneInfo

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.params import FromPath, QueryParameter
from twilio.twiml.messaging_response import MessagingResponse

from app.analytics import funnel
from app.analytics import store as analytics_store
from app.analytics.api import From, SettingId, To
from app.appointments import changes
from app.appointments.message_context import place_text
from app.audit.spec import audit
from app.core import clock
from app.core.db import transaction
from app.core.errors import Problem, invalid, not_found
from app.core.http import DbPool, PathId
from app.core.openapi import problem_responses
from app.notifications import optouts
from app.notifications.callbacks import callback_route, signed_callback
from app.notifications.formats import human_when
from app.notifications.signatures import TWILIO, TWILIO_MAX_BODY
from app.partners.guard import scope
from app.partners.scopes import ANALYTICS
from app.reminders import conversation, links, pages, stats, store

INBOUND_PATH = "/callbacks/twilio/inbound"
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
MESSAGE_SID = re.compile(r"^[A-Za-z0-9]{10,64}$")  # Twilio's: SM + 32 hex digits
EMAIL_ACTOR = "patient-email"


def _twiml(text: str | None) -> Response[str]:
    answer = MessagingResponse()
    if text:
        answer.message(text)
    return Response(str(answer), media_type=MediaType.XML)


@post(
    status_code=200,
    summary="Twilio incoming SMS (replies to reminders): TwiML answer",
    media_type=MediaType.XML,
    **callback_route(TWILIO, INBOUND_PATH, TWILIO_MAX_BODY),
)
async def twilio_inbound(request: Request, pool: DbPool) -> Response[str]:
    form = (await signed_callback(request)).form
    phone = form.get("From", "")
    message_sid = form.get("MessageSid") or form.get("SmsSid") or ""
    if not E164.fullmatch(phone) or not MESSAGE_SID.fullmatch(message_sid):
        return _twiml(None)
    text = await conversation.answer(
        pool,
        request.app.state.settings,
        conversation.Reply(message_sid, phone, form.get("Body", "")[:1600]),
        clock.now(),
    )
    return _twiml(text)


def _html(content: str, status: int = 200) -> Response[str]:
    return Response(
        content,
        status_code=status,
        media_type=MediaType.HTML,
        headers={"Content-Security-Policy": pages.CSP},
    )


async def _reminder(request: Request, pool: DbPool, kind: links.Kind, token: str):
    """The sent reminder behind a genuine link, else None."""
    reminder_id = links.reminder_id(request.app.state.settings.secret_key, kind, token)
    return await store.page_facts(pool, reminder_id) if reminder_id is not None else None


def _not_found() -> Response[str]:
    return _html(pages.not_found_page("en"), 404)


def _details(row) -> str:
    lang = row["locale"]
    return pages.appointment_details(
        lang,
        when=human_when(row["start_at"], row["time_zone"], lang),
        practitioner=row["practitioner"],
        place=place_text(row, lang),
    )


PAGE_RESPONSES = problem_responses(404, 429, 503)


class ReminderLinksController(Controller):
    path = "/widget/v1"
    tags = ["reminders"]

    @get(
        "/confirm/{token:str}",
        media_type=MediaType.HTML,
        responses=PAGE_RESPONSES,
        opt=audit("appointment", "read"),
        summary="A reminder email's confirm link: shows the appointment and a button",
    )
    async def confirm_page(
        self, request: Request, pool: DbPool, token: FromPath[str]
    ) -> Response[str]:
        row = await _reminder(request, pool, links.CONFIRM, token)
        if row is None:
            return _not_found()
        return _html(pages.confirm_page(row["locale"], row["practice"], _details(row)))

    @post(
        "/confirm/{token:str}",
        status_code=200,
        media_type=MediaType.HTML,
        responses=PAGE_RESPONSES,
        opt=audit("appointment", "update"),
        summary="Confirm the appointment (SCHEDULED -> CONFIRMED)",
    )
    async def confirm(self, request: Request, pool: DbPool, token: FromPath[str]) -> Response[str]:
        row = await _reminder(request, pool, links.CONFIRM, token)
        if row is None:
            return _not_found()
        lang, details = row["locale"], _details(row)
        if row["start_at"] != row["appointment_start"]:  # a link about a time since moved
            return _html(pages.not_confirmable_page(lang, row["practice"], details), 409)
        try:
            await changes.confirm(
                pool, request.app.state.settings, row["account_id"], row["appointment_id"],
                actor=EMAIL_ACTOR, now=clock.now(),
            )  # fmt: skip
        except Problem:
            return _html(pages.not_confirmable_page(lang, row["practice"], details), 409)
        return _html(pages.confirmed_page(lang, row["practice"], details))

    @get(
        "/unsubscribe/{token:str}",
        media_type=MediaType.HTML,
        responses=PAGE_RESPONSES,
        summary="A reminder email's unsubscribe link: asks first",
    )
    async def unsubscribe_page(
        self, request: Request, pool: DbPool, token: FromPath[str]
    ) -> Response[str]:
        row = await _reminder(request, pool, links.UNSUBSCRIBE, token)
        if row is None:
            return _not_found()
        return _html(pages.unsubscribe_page(row["locale"], row["practice"]))

    @post(
        "/unsubscribe/{token:str}",
        status_code=200,
        media_type=MediaType.HTML,
        responses=PAGE_RESPONSES,
        summary="One-click unsubscribe (RFC 8058): no more reminder emails to that address",
    )
    async def unsubscribe(
        self, request: Request, pool: DbPool, token: FromPath[str]
    ) -> Response[str]:
        row = await _reminder(request, pool, links.UNSUBSCRIBE, token)
        if row is None:
            return _not_found()
        if row["recipient"]:
            async with transaction(pool) as conn:
                await optouts.opt_out(conn, [row["account_id"]], "EMAIL", row["recipient"])
        return _html(pages.unsubscribed_page(row["locale"], row["practice"]))


class ReminderStatsController(Controller):
    path = "/self-scheduling/reminder-stats"
    tags = ["analytics"]
    opt = scope(ANALYTICS)

    @get(
        "/",
        summary="Reminders sent, confirmation rate, no-show rates with and without a "
        "confirmation, per day of the appointment or per setting",
    )
    async def reminder_stats(
        self,
        pool: DbPool,
        account_id: PathId,
        start: From = None,
        end: To = None,
        setting_id: SettingId = None,
        group_by: Annotated[str, QueryParameter(name="groupBy", max_length=20)] = "day",
    ) -> stats.ReminderStats:
        if group_by not in stats.GROUP_BY:
            raise invalid("groupBy", "must be one of " + ", ".join(stats.GROUP_BY))
        for raw, field in ((start, "from"), (end, "to")):
            if raw is None:
                raise invalid(field, "is required (a date YYYY-MM-DD or a time with an offset)")
        zone = ZoneInfo(await analytics_store.account_zone(pool, account_id))
        try:
            first = funnel.parse_bound(start, "from", zone, end=False)  # type: ignore[arg-type]
            last = funnel.parse_bound(end, "to", zone, end=True)  # type: ignore[arg-type]
            funnel.check_range(first, last)
        except funnel.RangeError as exc:
            raise invalid(exc.field, exc.message) from None
        if (
            setting_id is not None
            and await analytics_store.setting_name(pool, account_id, setting_id) is None
        ):
            raise not_found("self-scheduling setting")
        rows = await store.stats(
            pool, account_id, first, last, zone=zone.key, group_by=group_by,
            setting_id=setting_id,
        )  # fmt: skip
        aggregates = [stats.Aggregate(**dict(r)) for r in rows]
        days = funnel.local_days(first, last, zone) if group_by == "day" else None
        return stats.ReminderStats(
            start=first,
            end=last,
            time_zone=zone.key,
            group_by=group_by,
            self_scheduling_setting_id=setting_id,
            groups=stats.shape(aggregates, days),
        )

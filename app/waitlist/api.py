"""Waitlist routes: the patient's (manage link, verified widget attempt, offer link) and the
partner's (`scheduling` scope; stats with `analytics`). Thin: rules live in `entries`,
`matcher` and `claims`."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from litestar import Controller, Request, Response, delete, get, post
from litestar.params import FromPath, QueryParameter

from app.analytics import funnel as f
from app.analytics import store as analytics_store
from app.appointments import booking
from app.appointments.notify import manage_url
from app.attempts.machine import TERMINAL
from app.audit.spec import audit
from app.availability import store as availability_store
from app.availability.engine import zone
from app.core import clock
from app.core.errors import Problem, invalid
from app.core.http import Cursor, DbPool, JSONBody, Limit, PathId
from app.core.openapi import WIDGET_ATTEMPT
from app.core.pagination import DEFAULT_LIMIT, check_limit, decode_cursor
from app.core.principal import principal_of
from app.core.schema import MAX_ID
from app.core.secrets import keyed_hash
from app.embed.api import _kind, _location, _managed
from app.embed.auth import widget_session
from app.embed.schemas import WidgetPractitioner
from app.identity import store as identity_store
from app.partners.guard import scope
from app.partners.scopes import ANALYTICS, SCHEDULING
from app.waitlist import claims, entries, stats, store
from app.waitlist import schemas as s

EntryStatusQuery = Annotated[str | None, QueryParameter(name="status", max_length=20)]
PatientIdQuery = Annotated[int | None, QueryParameter(name="patientId", ge=1, le=MAX_ID)]
STATUSES = ("ACTIVE", "CLAIMED", "ENDED", "REMOVED")


def _origin_hash(request: Request) -> str:
    """A keyed hash of the caller's address (as the trusted-proxy rules decide it)."""
    secret = request.app.state.settings.secret_key
    return keyed_hash(secret, "waitlist-origin", principal_of(request.scope).ip)


class EarlierController(Controller):
    path = "/widget/v1/manage"
    tags = ["widget", "waitlist"]

    @post(
        "/{manage_token:str}/earlier",
        opt=audit("waitlist_entry", "create", "response:waitlistEntryId", action_if_200="update"),
        responses=s.LIVE_REQUEST,
        summary="Ask for an earlier time (201 new, 200 the live request, updated)",
    )
    async def earlier(
        self,
        request: Request,
        pool: DbPool,
        manage_token: FromPath[str],
        data: JSONBody[s.EarlierIn | None] = None,
    ) -> Response[s.EntryCreated]:
        row = _managed(request)
        body = data or s.EarlierIn()
        entry_id, created = await entries.earlier(
            pool, row, body.not_before, body.lang, clock.now()
        )
        return Response(s.EntryCreated(entry_id), status_code=201 if created else 200)


class WidgetWaitlistController(Controller):
    path = "/widget/v1"
    tags = ["widget", "waitlist"]

    @post(
        "/attempt/waitlist",
        security=WIDGET_ATTEMPT,
        opt=audit("waitlist_entry", "create", "response:waitlistEntryId"),
        summary="Join the waitlist (verified attempt with its patient set)",
    )
    async def join(
        self, request: Request, pool: DbPool, data: JSONBody[s.WindowIn]
    ) -> s.EntryCreated:
        session = widget_session(request)
        attempt, setting = session.attempt, entries.waitlist_setting(session.setting)
        if attempt.status in TERMINAL and attempt.status.value != "BOOKED":
            raise Problem(409, "attempt_abandoned", "This booking session has ended.")
        if attempt.patient_id is None:
            raise Problem(422, "patient_not_set", "Tell us who the patient is first.")
        # offers go to the patient's contact: only one proven by a code may ask for them
        proof_id = attempt.identity_proof_id
        if (
            proof_id is None
            or not (await identity_store.get_proof(pool, attempt.account_id, proof_id)).is_verified
        ):
            raise Problem(422, "not_verified", "Joining the waitlist needs a verified contact.")
        practitioners = list(dict.fromkeys(data.practitioner_ids or []))
        entries.check_choice(setting, data.appointment_type_id, data.location_id, practitioners)
        entry_id = await entries.join(
            pool,
            session.account_id,
            entries.NewEntry(
                setting_id=setting["id"],
                patient_id=attempt.patient_id,
                appointment_type_id=data.appointment_type_id,
                location_id=data.location_id,
                practitioner_ids=tuple(practitioners),
                window_start=data.window_start,
                window_end=data.window_end,
                locale=data.lang or "en",
                source="WIDGET",
                origin_hash=_origin_hash(request),
            ),
            clock.now(),
        )
        return s.EntryCreated(entry_id)


class OfferController(Controller):
    path = "/widget/v1/offer"
    tags = ["widget", "waitlist"]

    @get(
        "/{offer_token:str}",
        opt=audit("waitlist_offer", "read"),
        summary="The slot an offer link holds out",
    )
    async def show(self, request: Request, pool: DbPool, offer_token: FromPath[str]) -> s.Offer:
        offer = await claims.find(pool, request.app.state.settings.secret_key, offer_token)
        location = await pool.fetchrow(
            "SELECT * FROM locations WHERE id = $1", offer["location_id"]
        )
        kind = await pool.fetchrow(
            "SELECT * FROM appointment_types WHERE id = $1", offer["appointment_type_id"]
        )
        names = await availability_store.display_names(
            pool, offer["account_id"], [offer["practitioner_id"]]
        )
        extra = await pool.fetchrow(
            "SELECT a.name AS practice, e.locale, ap.start_at AS current_start"
            " FROM waitlist_entries e JOIN accounts a ON a.id = e.account_id"
            " LEFT JOIN appointments ap ON ap.id = e.appointment_id WHERE e.id = $1",
            offer["entry_id"],
        )
        tz = zone(location["time_zone"])
        current = extra["current_start"]
        return s.Offer(
            status=claims.status(offer, clock.now()),  # type: ignore[arg-type]
            kind=offer["kind"],
            practice_name=extra["practice"],
            start_date_time=offer["start_at"].astimezone(tz).isoformat(),
            end_date_time=offer["end_at"].astimezone(tz).isoformat(),
            expires_at=offer["expires_at"],
            location=_location(location),
            appointment_type=_kind(kind),
            practitioner=WidgetPractitioner(
                id=offer["practitioner_id"], display_name=names.get(offer["practitioner_id"], "")
            ),
            lang=extra["locale"] if extra["locale"] in ("en", "es") else "en",
            current_start_date_time=current.astimezone(tz).isoformat() if current else None,
        )

    @post(
        "/{offer_token:str}/claim",
        opt=audit("appointment", "create", "response:appointment.id", action_if_200="update"),
        responses=s.MOVED,
        summary="Claim the offer (201 booked, 200 your appointment moved; 409 offer_taken)",
    )
    async def claim(
        self, request: Request, pool: DbPool, offer_token: FromPath[str]
    ) -> Response[s.OfferClaimed]:
        settings = request.app.state.settings
        claimed = await claims.claim(pool, settings, offer_token, clock.now())
        body = s.OfferClaimed(
            appointment=booking.to_appointment(claimed.appointment),
            manage_url=(
                manage_url(settings.public_url, claimed.manage_token)
                if claimed.manage_token
                else None
            ),
        )
        return Response(body, status_code=201 if claimed.created else 200)


class WaitlistController(Controller):
    path = "/waitlist"
    tags = ["waitlist"]
    opt = scope(SCHEDULING)

    @post(
        "/",
        operation_id="createWaitlistEntry",
        opt=audit("waitlist_entry", "create", "response:waitlistEntryId"),
        summary="Add a waitlist entry (an earlier-request with appointmentId, else a window)",
    )
    async def add(
        self, pool: DbPool, account_id: PathId, data: JSONBody[s.PartnerEntryIn]
    ) -> s.EntryCreated:
        return s.EntryCreated(await entries.partner_add(pool, account_id, data, clock.now()))

    @get(
        "/",
        operation_id="listWaitlistEntries",
        opt=audit("waitlist_entry", "read", "response:entries[].id"),
        summary="Waitlist entries (oldest first; status, patientId, cursor)",
    )
    async def list_entries(
        self,
        pool: DbPool,
        account_id: PathId,
        status: EntryStatusQuery = None,
        patient_id: PatientIdQuery = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> s.EntryPage:
        if status is not None and status not in STATUSES:
            raise invalid("status", "must be one of " + ", ".join(STATUSES))
        rows, next_cursor = await store.list_entries(
            pool,
            account_id,
            after_id=decode_cursor(cursor),
            limit=check_limit(limit),
            status=status,
            patient_id=patient_id,
        )
        return s.EntryPage([entries.to_entry(r) for r in rows], next_cursor)

    @delete(
        "/{entry_id:int}",
        operation_id="deleteWaitlistEntry",
        opt=audit("waitlist_entry", "update", "path:entry_id"),
        summary="Take an entry off the waitlist",
    )
    async def remove(self, pool: DbPool, account_id: PathId, entry_id: PathId) -> None:
        if not 1 <= entry_id <= MAX_ID:
            raise Problem(404, "not_found", "The waitlist entry does not exist.")
        await entries.remove(pool, account_id, entry_id, clock.now())

    @get(
        "/stats",
        operation_id="getWaitlistStats",
        opt=scope(ANALYTICS),
        summary="Per setting and local day: entries, offers sent, claims, refills, minutes gained",
    )
    async def stats(
        self,
        pool: DbPool,
        account_id: PathId,
        from_: Annotated[str | None, QueryParameter(name="from", max_length=64)] = None,
        to: Annotated[str | None, QueryParameter(name="to", max_length=64)] = None,
    ) -> s.Stats:
        try:
            local = ZoneInfo(await analytics_store.account_zone(pool, account_id))
        except (ZoneInfoNotFoundError, ValueError):
            local = ZoneInfo("UTC")
        bounds = []
        for raw, field, end in ((from_, "from", False), (to, "to", True)):
            if raw is None:
                raise invalid(field, "is required (a date YYYY-MM-DD or a time with an offset)")
            try:
                bounds.append(f.parse_bound(raw, field, local, end=end))
            except f.RangeError as exc:
                raise invalid(exc.field, exc.message) from None
        try:
            f.check_range(bounds[0], bounds[1])
        except f.RangeError as exc:
            raise invalid(exc.field, exc.message) from None
        return await stats.daily(pool, account_id, bounds[0], bounds[1], local)

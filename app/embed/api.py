"""The widget's JSON API (/widget/v1): no partner token; `X-Widget-Key` selects the setting and
`Authorization: Bearer <attemptToken>` binds calls to one attempt. Thin over the same services
as the partner API."""

from __future__ import annotations

from typing import cast

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.params import FromPath

from app.appointments import booking, changes
from app.appointments import schemas as appointment_schemas
from app.appointments import store as appointment_store
from app.appointments.message_context import issue_manage_link, manage_url
from app.attempts import holds
from app.attempts import schemas as attempt_schemas
from app.attempts import service as attempts
from app.attempts import store as attempt_store
from app.attempts.machine import TERMINAL, Step
from app.audit.spec import audit
from app.availability import engine as e
from app.availability import schemas as availability_schemas
from app.availability import store as availability_store
from app.availability.answer import availability_json
from app.availability.api import (
    AppointmentTypeIdQuery,
    EndUnix,
    LocationIdQuery,
    PractitionerIdsQuery,
    StartUnix,
    from_unix_ms,
    parse_ids,
)
from app.availability.engine import to_unix_ms
from app.availability.limits import earliest_start, latest_start
from app.availability.service import SlotSearch
from app.core import clock
from app.core.crud import Row
from app.core.db import transaction
from app.core.errors import Problem, not_found
from app.core.http import DbPool, JSONBody
from app.core.openapi import WIDGET_ATTEMPT, WIDGET_KEY, OptionalBodyOperation
from app.core.principal import principal_of
from app.core.secrets import random_token
from app.embed import schemas as s
from app.embed.auth import attempt_token_hash, widget_attempt, widget_session, widget_setting
from app.identity import service as identity
from app.identity import store as identity_store
from app.identity.contacts import contact_from
from app.identity.policy import PROOF_MAX_FAILURES, Method
from app.identity.sms_limits import SmsCaller


def _location(row: Row) -> s.WidgetLocation:
    parts = [row["address_line1"], row["address_line2"], row["city"], row["state"]]
    address = (
        s.WidgetAddress(
            line1=row["address_line1"],
            line2=row["address_line2"],
            city=row["city"],
            state=row["state"],
            postal_code=row["postal_code"],
            country=row["country"],
        )
        if any(parts)
        else None
    )
    return s.WidgetLocation(
        id=row["id"],
        name=row["name"],
        time_zone=row["time_zone"],
        address=address,
        phone=row["phone"],
    )


def _kind(row: Row) -> s.WidgetAppointmentType:
    return s.WidgetAppointmentType(
        id=row["id"],
        name=row["name"],
        duration_minutes=row["duration_minutes"],
        telehealth=row["telehealth"],
        description=row["description"],
    )


def _as_stored(phone: str | None) -> str | None:
    return phone  # the widget API keeps E.164


async def _widget_attempt_view(pool, attempt: attempt_store.Attempt) -> s.WidgetAttempt:
    full = await attempts.view(pool, attempt)
    missing: list[str] = []
    if attempt.identity_proof_id is not None:
        proof = await identity_store.get_proof(pool, attempt.account_id, attempt.identity_proof_id)
        missing = proof.missing_verifications
    held = await appointment_store.current_hold(pool, attempt.id, clock.now())
    hold = None
    if held is not None:
        tz = e.zone(held["time_zone"])
        hold = s.WidgetHold(
            appointment_type_id=held["appointment_type_id"],
            location_id=held["location_id"],
            practitioner_id=held["practitioner_id"],
            scheduler_config_id=held["scheduler_config_id"],
            start_date_time=held["start_at"].astimezone(tz).isoformat(),
            start_unix=e.to_unix_ms(held["start_at"]),
            end_unix=e.to_unix_ms(held["end_at"]),
            expires_at=held["expires_at"],
        )
    patient = None
    if attempt.patient_id is not None:
        row = await pool.fetchrow(
            "SELECT id, first_name, last_name FROM patients WHERE id = $1", attempt.patient_id
        )
        patient = s.WidgetPatientName(
            id=row["id"], first_name=row["first_name"], last_name=row["last_name"]
        )
    return s.WidgetAttempt(
        id=full.id,
        status=full.status,
        is_verified=full.is_verified,
        missing_verifications=missing,
        steps=full.steps,
        hold=hold,
        patient=patient,
    )


async def _proof_id(attempt: attempt_store.Attempt) -> int:
    if attempt.identity_proof_id is None:
        raise Problem(422, "no_verification", "This booking does not verify a contact.")
    if attempt.status in TERMINAL:
        raise Problem(409, "attempt_finished", "This booking session has finished.")
    return attempt.identity_proof_id


class WidgetController(Controller):
    path = "/widget/v1"
    tags = ["widget"]

    @get("/config", security=WIDGET_KEY, summary="What the widget shows for this publishable key")
    async def config(self, request: Request, pool: DbPool) -> s.WidgetConfig:
        setting = widget_setting(request)
        account = setting["account_id"]
        locations = await pool.fetch(
            "SELECT * FROM locations WHERE account_id = $1 AND id = ANY($2::bigint[])"
            " AND active ORDER BY id",
            account,
            setting["location_ids"],
        )
        kinds = await pool.fetch(
            "SELECT * FROM appointment_types WHERE account_id = $1 AND id = ANY($2::bigint[])"
            " AND active ORDER BY id",
            account,
            setting["appointment_type_ids"],
        )
        names = await availability_store.display_names(
            pool, account, list(setting["practitioner_ids"])
        )
        offered = await availability_store.practitioner_offers(pool, setting["id"])
        now = clock.now()
        earliest = earliest_start(
            now,
            setting["afterward_booking_limit"],
            setting["afterward_booking_limit_unit"],
            setting["afterward_booking_limit_active"],
        )
        latest = latest_start(
            now,
            setting["forward_booking_limit"],
            setting["forward_booking_limit_unit"],
            setting["forward_booking_limit_active"],
        )
        return s.WidgetConfig(
            setting_id=setting["id"],
            practice_name=setting["practice_name"],
            verification_method=setting["verification_method"],
            locations=[_location(r) for r in locations],
            appointment_types=[_kind(r) for r in kinds],
            practitioners=[
                s.WidgetPractitioner(
                    id=pid,
                    display_name=name,
                    location_ids=offered.get(pid, ([], []))[0],
                    appointment_type_ids=offered.get(pid, ([], []))[1],
                )
                for pid, name in sorted(names.items())
            ],
            location_selectable=setting["location_selectable"],
            location_visible=setting["location_visible"],
            fixed_location_id=setting["fixed_location_id"],
            appointment_type_selectable=setting["appointment_type_selectable"],
            appointment_type_visible=setting["appointment_type_visible"],
            fixed_appointment_type_id=setting["fixed_appointment_type_id"],
            are_practitioners_selectable=setting["are_practitioners_selectable"],
            theme=dict(setting["theme"] or {}),
            allowed_phone_countries=list(setting["allowed_phone_countries"]),
            booking_horizon=s.BookingHorizon(
                earliest_unix=to_unix_ms(earliest),
                latest_unix=to_unix_ms(latest) if latest is not None else None,
            ),
        )

    @post(
        "/attempt",
        security=WIDGET_KEY,
        operation_class=OptionalBodyOperation,
        summary="Start a booking session (optionally in the patient's language)",
    )
    async def start(
        self, request: Request, pool: DbPool, data: JSONBody[s.AttemptStartIn | None] = None
    ) -> s.AttemptStarted:
        setting = widget_setting(request)
        secret = request.app.state.settings.secret_key
        proof_id = None
        if setting["verification_method"]:
            proof, _ = await identity.create_proof(
                pool, setting["account_id"], Method(setting["verification_method"]),
                secret_key=secret,
            )  # fmt: skip
            proof_id = proof.id
        token = random_token("at_", 24)
        attempt = await attempts.start(
            pool,
            setting["account_id"],
            attempt_schemas.AttemptIn(
                self_scheduling_setting_id=setting["id"], identity_proof_id=proof_id
            ),
            clock.now(),
            source="WIDGET",
            token_hash=attempt_token_hash(secret, token),
            locale=data.lang if data is not None and data.lang else "en",
        )
        return s.AttemptStarted(
            attempt_token=token, attempt=await _widget_attempt_view(pool, attempt)
        )

    @get(
        "/attempt",
        security=WIDGET_ATTEMPT,
        opt=audit("patient", "read", "response:patient.id"),
        summary="This booking session: what a reloaded widget resumes with",
    )
    async def current(self, request: Request, pool: DbPool) -> s.WidgetAttempt:
        session = widget_session(request)
        return await _widget_attempt_view(pool, session.attempt)

    @get(
        "/attempt/upcoming",
        security=WIDGET_ATTEMPT,
        opt=audit("appointment", "read", "response:appointments[].id"),
        summary="The patient's upcoming appointments (of a type), to manage instead of rebooking",
    )
    async def upcoming(
        self, request: Request, pool: DbPool, appointment_type_id: AppointmentTypeIdQuery
    ) -> s.UpcomingAppointments:
        session = widget_session(request)
        patient_id = session.attempt.patient_id
        if patient_id is None:
            raise Problem(422, "patient_not_set", "Name and date of birth come first.")
        settings = request.app.state.settings
        async with transaction(pool) as conn:
            rows = await appointment_store.upcoming_for_patient(
                conn, session.account_id, patient_id, clock.now(),
                appointment_type_id=appointment_type_id,
            )  # fmt: skip
            found = []
            for row in rows:
                tz = e.zone(row["time_zone"])
                token = await issue_manage_link(conn, settings.secret_key, row["id"])
                found.append(
                    s.UpcomingAppointment(
                        id=row["id"],
                        start_date_time=row["start_at"].astimezone(tz).isoformat(),
                        end_date_time=row["end_at"].astimezone(tz).isoformat(),
                        appointment_type_id=row["appointment_type_id"],
                        appointment_type_name=row["type_name"],
                        practitioner_name=row["practitioner_name"],
                        location_id=row["location_id"],
                        location_name=row["location_name"],
                        telehealth=row["telehealth"],
                        manage_url=manage_url(settings.public_url, token, session.attempt.locale),
                    )
                )
        return s.UpcomingAppointments(appointments=found)

    @get(
        "/availability",
        security=[*WIDGET_ATTEMPT, *WIDGET_KEY],  # the attempt token is optional here
        summary="Open times (the partner availability shape)",
    )
    async def availability(
        self,
        request: Request,
        pool: DbPool,
        start_unix: StartUnix,
        end_unix: EndUnix,
        location_id: LocationIdQuery,
        appointment_type_id: AppointmentTypeIdQuery,
        practitioner_ids: PractitionerIdsQuery = None,
    ) -> Response[availability_schemas.Availability]:
        setting = widget_setting(request)
        attempt = widget_attempt(request, required=False)
        now = clock.now()
        query = SlotSearch(
            setting_id=setting["id"],
            location_id=location_id,
            appointment_type_id=appointment_type_id,
            range_start=from_unix_ms(start_unix, "startUnix"),
            range_end=from_unix_ms(end_unix, "endUnix"),
            practitioner_ids=parse_ids(practitioner_ids, "practitionerIds"),
            except_attempt_id=attempt.id if attempt else None,
        )
        cache = request.app.state.availability_cache
        body, request.state.availability_cache = await availability_json(
            pool, cache, setting["account_id"], query, now
        )
        if attempt is not None:
            await attempts.record_first(
                pool, setting["account_id"], attempt.id, Step.AVAILABILITY_VIEWED, now
            )
        return Response(body, media_type=MediaType.JSON)

    @post(
        "/attempt/send-code",
        status_code=200,
        security=WIDGET_ATTEMPT,
        opt=audit("identity_proof", "update", "attempt:proof"),
        summary="Send a code to an email or phone",
    )
    async def send_code(
        self, request: Request, pool: DbPool, data: JSONBody[s.SendCodeIn]
    ) -> s.CodeSent:
        session = widget_session(request)
        proof_id = await _proof_id(session.attempt)
        contact = contact_from(data.email, data.phone, session.setting["allowed_phone_countries"])
        settings = request.app.state.settings
        ip = principal_of(request.scope).ip
        caller = SmsCaller(settings.sms_account_daily_cap, ip, settings.sms_per_client_per_hour)
        await identity.send_code(
            pool, session.account_id, proof_id, contact, secret_key=settings.secret_key,
            caller=caller, locale=session.attempt.locale,
        )  # fmt: skip
        return s.CodeSent(sent=True)

    @post(
        "/attempt/verify-code",
        status_code=200,
        security=WIDGET_ATTEMPT,
        opt=audit("identity_proof", "update", "attempt:proof"),
        summary="Check a code",
    )
    async def verify_code(
        self, request: Request, pool: DbPool, data: JSONBody[s.VerifyCodeIn]
    ) -> s.CodeChecked:
        session = widget_session(request)
        proof_id = await _proof_id(session.attempt)
        contact = contact_from(data.email, data.phone, session.setting["allowed_phone_countries"])
        proof = await identity.verify_code(
            pool, session.account_id, proof_id, contact, data.code,
            secret_key=request.app.state.settings.secret_key,
        )  # fmt: skip
        if proof is None:
            current = await identity_store.get_proof(pool, session.account_id, proof_id)
            return s.CodeChecked(
                verified=False,
                missing_verifications=current.missing_verifications,
                tries_left=max(0, PROOF_MAX_FAILURES - current.failed_attempts),
            )
        return s.CodeChecked(verified=True, missing_verifications=proof.missing_verifications)

    @post(
        "/attempt/hold", security=WIDGET_ATTEMPT, summary="Hold a time while the patient finishes"
    )
    async def hold(
        self, request: Request, pool: DbPool, data: JSONBody[appointment_schemas.SlotRequest]
    ) -> appointment_schemas.Hold:
        session = widget_session(request)
        settings = request.app.state.settings
        ip = principal_of(request.scope).ip
        caller = holds.widget_caller(settings, ip, session.setting["id"])
        return await attempts.hold(
            pool, settings, session.account_id, session.attempt.id, data, clock.now(),
            widget=caller,
        )  # fmt: skip

    @post(
        "/attempt/patient",
        security=WIDGET_ATTEMPT,
        opt=audit("patient", "create", "response:id", action_if_200="update"),
        responses=attempt_schemas.MATCHED_PATIENT,
        summary="Name and date of birth (200 matched, 201 created)",
    )
    async def patient(
        self, request: Request, pool: DbPool, data: JSONBody[attempt_schemas.AttemptPatientIn]
    ) -> Response[attempt_schemas.Patient]:
        session = widget_session(request)
        row, created = await attempts.set_patient(
            pool,
            session.account_id,
            session.attempt.id,
            data,
            clock.now(),
        )
        return Response(
            attempts.to_patient(row, phone=_as_stored), status_code=201 if created else 200
        )

    @post(
        "/attempt/appointment",
        security=WIDGET_ATTEMPT,
        opt=audit("appointment", "create", "response:appointment.id"),
        summary="Book; returns the manage link and whether an earlier time may be asked",
    )
    async def book(
        self, request: Request, pool: DbPool, data: JSONBody[appointment_schemas.SlotRequest]
    ) -> s.Booked:
        session = widget_session(request)
        settings = request.app.state.settings
        booked = await attempts.book(
            pool,
            settings,
            session.account_id,
            session.attempt.id,
            data,
            clock.now(),
        )
        return s.Booked(
            appointment=booking.to_appointment(booked.appointment),
            manage_token=booked.manage_token,
            manage_url=manage_url(settings.public_url, booked.manage_token, session.attempt.locale),
            can_ask_earlier=booked.can_ask_earlier,
        )


def _managed(request: Request) -> Row:
    row = principal_of(request.scope).managed
    if row is None:
        raise not_found("appointment")
    return cast(Row, row)


class ManageController(Controller):
    path = "/widget/v1/manage"
    tags = ["widget"]

    @get(
        "/{manage_token:str}",
        opt=audit("appointment", "read", "response:appointment.id"),
        summary="The appointment behind a manage link",
    )
    async def show(
        self, request: Request, pool: DbPool, manage_token: FromPath[str]
    ) -> s.ManagedAppointment:
        row = _managed(request)
        location = await pool.fetchrow("SELECT * FROM locations WHERE id = $1", row["location_id"])
        kind = await pool.fetchrow(
            "SELECT * FROM appointment_types WHERE id = $1", row["appointment_type_id"]
        )
        names = await availability_store.display_names(
            pool, row["account_id"], [row["practitioner_id"]]
        )
        owner = await pool.fetchrow(
            "SELECT s.publishable_key, s.waitlist, EXISTS (SELECT 1 FROM waitlist_entries e"
            " WHERE e.appointment_id = $2 AND e.status = 'ACTIVE') AS earlier_requested"
            " FROM scheduler_configs c"
            " JOIN self_scheduling_settings s ON s.id = c.setting_id WHERE c.id = $1",
            row["scheduler_config_id"],
            row["id"],
        )
        key = owner["publishable_key"] if owner else None
        # the same rules the cancel and reschedule calls apply to a patient
        upcoming = row["start_at"] > clock.now()
        can_reschedule = upcoming and row["status"] in changes.RESCHEDULABLE and key is not None
        return s.ManagedAppointment(
            appointment=booking.to_appointment(row),
            location=_location(location),
            appointment_type=_kind(kind),
            practitioner=s.WidgetPractitioner(
                id=row["practitioner_id"], display_name=names.get(row["practitioner_id"], "")
            ),
            can_cancel=upcoming and row["status"] in changes.PATIENT_CANCELLABLE,
            can_reschedule=can_reschedule,
            setting_publishable_key=key,
            can_ask_earlier=can_reschedule and owner["waitlist"]["enabled"],
            earlier_requested=bool(owner and owner["earlier_requested"]),
        )

    @post(
        "/{manage_token:str}/cancel",
        status_code=200,
        opt=audit("appointment", "update", "response:appointment.id"),
        summary="Cancel through the link",
    )
    async def cancel(
        self, request: Request, pool: DbPool, manage_token: FromPath[str]
    ) -> s.AppointmentOnly:
        row = _managed(request)
        updated = await changes.cancel(
            pool, request.app.state.settings, row["account_id"], row["id"],
            actor="patient", now=clock.now(), manage_token=manage_token,
        )  # fmt: skip
        return s.AppointmentOnly(appointment=booking.to_appointment(updated))

    @post(
        "/{manage_token:str}/reschedule",
        status_code=200,
        opt=audit("appointment", "update", "response:appointment.id"),
        summary="Move to another time",
    )
    async def reschedule(
        self,
        request: Request,
        pool: DbPool,
        manage_token: FromPath[str],
        data: JSONBody[s.RescheduleIn],
    ) -> s.AppointmentOnly:
        row = _managed(request)
        updated = await changes.reschedule(
            pool,
            request.app.state.settings,
            row["account_id"],
            row["id"],
            start=data.start_date_time,
            actor="patient",
            now=clock.now(),
            practitioner_id=data.practitioner_id,
            scheduler_config_id=data.scheduler_config_id,
            manage_token=manage_token,
        )
        return s.AppointmentOnly(appointment=booking.to_appointment(updated))

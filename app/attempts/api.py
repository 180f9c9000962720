"""Self-scheduling attempts (partner API, `scheduling` scope): thin handlers over the service."""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post, put
from litestar.openapi.spec import Link

from app.appointments import schemas as appointment_schemas
from app.appointments.booking import to_appointment
from app.attempts import schemas as s
from app.attempts import service, store
from app.audit.spec import audit
from app.core import clock
from app.core.http import DbPool, JSONBody, PathId
from app.core.openapi import linked
from app.partners.guard import scope
from app.partners.scopes import SCHEDULING

# OpenAPI links of the attempt flow: create -> read / attach a proof / patient / hold / book,
# patient -> hold / book, hold -> book that same slot
# (parameter names as the served document spells them: camelCase, app.core.contract)
_NEW = {"accountId": "$request.path.accountId", "attemptId": "$response.body#/id"}
_SAME = {"accountId": "$request.path.accountId", "attemptId": "$request.path.attemptId"}


def _next_steps(ids: dict[str, str], *operation_ids: str) -> dict[str, Link]:
    return {name: Link(operation_id=name, parameters=ids) for name in operation_ids}


_AFTER_PATIENT = _next_steps(
    _SAME, "getSelfSchedulingAttempt", "holdAttemptSlot", "createAppointment_1"
)
_CREATED = linked(
    {
        201: _next_steps(
            _NEW,
            "getSelfSchedulingAttempt",
            "attachAttemptIdentityProof",
            "attachPatientToSelfSchedulingAttempt",
            "holdAttemptSlot",
            "createAppointment_1",
        )
    }
)
_PATIENT_SET = linked({200: _AFTER_PATIENT, 201: _AFTER_PATIENT})
_HELD = linked(
    {
        201: {
            **_next_steps(_SAME, "getSelfSchedulingAttempt"),
            "createAppointment_1": Link(
                operation_id="createAppointment_1",
                parameters=_SAME,
                request_body="$request.body",
            ),
        }
    }
)


class AttemptController(Controller):
    path = "/self-scheduling/attempt"
    tags = ["self-scheduling attempts"]
    opt = scope(SCHEDULING)

    @post(
        "/",
        operation_id="createAttempt",
        operation_class=_CREATED,
        summary="Start a self-scheduling attempt",
    )
    async def create_attempt(
        self, pool: DbPool, account_id: PathId, data: JSONBody[s.AttemptIn]
    ) -> s.Attempt:
        attempt = await service.start(pool, account_id, data, clock.now())
        return await service.view(pool, attempt)

    @get(
        "/{attempt_id:int}",
        operation_id="getSelfSchedulingAttempt",
        summary="An attempt with its recorded steps",
    )
    async def get_attempt(self, pool: DbPool, account_id: PathId, attempt_id: PathId) -> s.Attempt:
        return await service.view(pool, await store.get(pool, account_id, attempt_id))

    @put(
        "/{attempt_id:int}/identity-proof",
        operation_id="attachAttemptIdentityProof",
        summary="Attach an identity proof",
    )
    async def attach_proof(
        self, pool: DbPool, account_id: PathId, attempt_id: PathId, data: JSONBody[s.AttemptProofIn]
    ) -> s.Attempt:
        attempt = await service.attach_proof(
            pool, account_id, attempt_id, data.identity_proof_id, clock.now()
        )
        return await service.view(pool, attempt)

    @post(
        "/{attempt_id:int}/patient",
        operation_id="attachPatientToSelfSchedulingAttempt",
        operation_class=_PATIENT_SET,
        summary="Set the patient (200 matched an existing one, 201 created)",
        opt=audit("patient", "create", "response:id", action_if_200="update"),
        responses=s.MATCHED_PATIENT,
    )
    async def set_patient(
        self,
        pool: DbPool,
        account_id: PathId,
        attempt_id: PathId,
        data: JSONBody[s.AttemptPatientIn],
    ) -> Response[s.Patient]:
        patient, created = await service.set_patient(
            pool, account_id, attempt_id, data, clock.now()
        )
        return Response(service.to_patient(patient), status_code=201 if created else 200)

    @post(
        "/{attempt_id:int}/hold",
        operation_id="holdAttemptSlot",
        operation_class=_HELD,
        summary="Hold a slot for this attempt",
    )
    async def hold_slot(
        self,
        request: Request,
        pool: DbPool,
        account_id: PathId,
        attempt_id: PathId,
        data: JSONBody[appointment_schemas.SlotRequest],
    ) -> appointment_schemas.Hold:
        settings = request.app.state.settings
        return await service.hold(pool, settings, account_id, attempt_id, data, clock.now())

    @post(
        "/{attempt_id:int}/appointment",
        operation_id="createAppointment_1",
        summary="Book the appointment",
        opt=audit("appointment", "create", "response:id"),
    )
    async def book(
        self,
        request: Request,
        pool: DbPool,
        account_id: PathId,
        attempt_id: PathId,
        data: JSONBody[appointment_schemas.SlotRequest],
    ) -> appointment_schemas.Appointment:
        settings = request.app.state.settings
        booked = await service.book(pool, settings, account_id, attempt_id, data, clock.now())
        return to_appointment(booked.appointment)

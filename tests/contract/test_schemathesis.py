"""Contract fuzzing: Schemathesis against the OpenAPI document the app serves.

Every operation of /schema/openapi.json is fuzzed (examples, coverage and fuzzing phases,
positive and negative data, both named in the configuration) with the checks the contract
promises: no 5xx, only documented status codes, bodies matching their schemas, and invalid
input rejected. Every POST documents the optional `Idempotency-Key` header, so it is generated
too (valid keys, made unique per request; invalid ones, which must be 400). Partner operations
run as a client holding every scope on a seeded practice; widget operations with its
`X-Widget-Key` and an attempt token; path ids point at real objects (DELETEs at spare ones, so
the rest of the run keeps its practice). `test_attempt_flow_links` walks the OpenAPI links of
the attempt flow statefully.

How it runs: in process. The schema is built from `create_app()` at import (collection needs
the operations; `test_served_schema_is_the_one_fuzzed` proves it is the served document), and
the requests go through Schemathesis's own ASGI transport to a second app instance on the
session's database: that transport runs the app (and its lifespan, hence its own asyncpg pool)
on a loop of its own, so the session-scoped app and pool are left untouched. Deterministic:
`derandomize=True`, a fixed seed, no example database.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import hypothesis
import msgspec
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.meta import TestPhase
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from app.config import Settings
from app.main import create_app
from app.webhooks.dispatcher import fan_out
from tests.builders import build_practice, insert_appointment
from tests.support import make_partner

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
MAX_EXAMPLES = 25  # per operation and phase: the whole file stays around two minutes
SETTINGS = hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)


def _openapi_document() -> dict[str, Any]:
    """What GET /schema/openapi.json serves (generation needs no database)."""
    app = create_app(Settings(database_url="postgresql://unused/unused", secret_key="x" * 40))
    return msgspec.json.decode(msgspec.json.encode(app.openapi_schema.to_schema()))


DOCUMENT = _openapi_document()
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20260301,
        "generation": {
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "database": "none",
            "mode": "all",
        },
        "phases": {"examples": {"enabled": True}, "coverage": {"enabled": True}},
    }
)
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)


class World(msgspec.Struct):
    """Real objects for the fuzzed requests: `ids` for path parameters, `spare` ids for the
    DELETE whose path ends so, `flow` the practice new attempts are for, `headers` per path
    prefix (the partner's bearer token, the widget's key and attempt)."""

    ids: dict[str, Any]
    spare: dict[str, Any]
    flow: dict[str, int]
    headers: dict[str, dict[str, str]]


_WORLD: list[World] = []  # set by the `world` fixture, read by the hook below


@pytest.fixture(scope="session")
async def world(client, pool, settings) -> World:
    partner = await make_partner(client, pool)
    practice = await build_practice(partner)
    endpoint = await partner.create(
        "/webhook-endpoint", {"url": "http://127.0.0.1:9/hook", "events": ["attempt.started"]}
    )
    attempt = await partner.create(
        "/self-scheduling/attempt", {"selfSchedulingSettingId": practice.setting_id}
    )
    await fan_out(pool, settings)  # attempt.started -> one delivery to the endpoint
    delivery_id = await pool.fetchval(
        "SELECT id FROM webhook_deliveries WHERE endpoint_id = $1", endpoint["id"]
    )
    proof = await partner.create("/identity-proof", {"verificationMethod": "EMAIL"})
    start = datetime.now(UTC).replace(microsecond=0, second=0, minute=0) + timedelta(days=3)
    appointment_id = await insert_appointment(
        pool,
        practice,
        practitioner_id=practice.practitioner_ids[0],
        location_id=practice.location_ids[0],
        start=start,
    )

    # spare objects, one per DELETE
    spare_location = await partner.create("/location", {"name": "Spare", "timeZone": "UTC"})
    spare_doctor = await partner.create("/practitioner", {"firstName": "S", "lastName": "P"})
    spare_kind = await partner.create("/appointment-type", {"name": "Spare", "durationMinutes": 15})
    spare_practice = await build_practice(partner)  # its setting is deleted
    spare_configs = await build_practice(partner)  # its config is deleted
    flow = await build_practice(partner, method=None)  # new attempts, patients without a proof
    spare_endpoint = await partner.create(
        "/webhook-endpoint", {"url": "http://127.0.0.1:9/spare", "events": ["attempt.started"]}
    )

    # the widget: a setting without verification, one booked attempt (its manage link) and
    # one fresh attempt for the fuzzed calls
    widget = await build_practice(await make_partner(client, pool), method=None)
    key = {"X-Widget-Key": widget.publishable_key}
    manage_token = await _book_through_widget(client, widget, key)
    started = await client.post("/widget/v1/attempt", headers=key)
    assert started.status_code == 201, started.text
    attempt_token = started.json()["attemptToken"]

    built = World(
        ids={
            "account_id": partner.account_id,
            "location_id": practice.location_ids[0],
            "practitioner_id": practice.practitioner_ids[0],
            "appointment_type_id": practice.appointment_type_id,
            "setting_id": practice.setting_id,
            "config_id": practice.config_ids[0],
            "attempt_id": attempt["id"],
            "proof_id": proof["id"],
            "appointment_id": appointment_id,
            "endpoint_id": endpoint["id"],
            "delivery_id": delivery_id,
            "manage_token": manage_token,
        },
        spare={
            "/location/{location_id}": {"location_id": spare_location["id"]},
            "/practitioner/{practitioner_id}": {"practitioner_id": spare_doctor["id"]},
            "/appointment-type/{appointment_type_id}": {"appointment_type_id": spare_kind["id"]},
            "/setting/{setting_id}": {"setting_id": spare_practice.setting_id},
            "/scheduler-config/{config_id}": {
                "setting_id": spare_configs.setting_id,
                "config_id": spare_configs.config_ids[0],
            },
            "/webhook-endpoint/{endpoint_id}": {"endpoint_id": spare_endpoint["id"]},
        },
        flow={
            "setting_id": flow.setting_id,
            "appointmentTypeId": flow.appointment_type_id,
            "locationId": flow.location_ids[0],
            "practitionerId": flow.practitioner_ids[0],
            "schedulerConfigId": flow.config_ids[0],
        },
        headers={
            "/partner/": {"Authorization": f"Bearer {partner.token}"},
            "/fhir/": {"Authorization": f"Bearer {partner.token}"},
            "/widget/v1/manage/": {},
            "/widget/v1/": {**key, "Authorization": f"Bearer {attempt_token}"},
        },
    )
    _WORLD[:] = [built]
    yield built
    _WORLD.clear()


async def _book_through_widget(client, practice, key: dict[str, str]) -> str:
    started = await client.post("/widget/v1/attempt", headers=key)
    headers = {**key, "Authorization": f"Bearer {started.json()['attemptToken']}"}
    patient = {"firstName": "Ann", "lastName": "Lee", "dateOfBirth": "1980-02-03"}
    r = await client.post(
        "/widget/v1/attempt/patient", headers=headers, json={**patient, "email": "a@b.example"}
    )
    assert r.status_code in (200, 201), r.text
    now = datetime.now(UTC)
    query = {
        "startUnix": int(now.timestamp() * 1000),
        "endUnix": int((now + timedelta(days=14)).timestamp() * 1000),
        "locationId": practice.location_ids[0],
        "appointmentTypeId": practice.appointment_type_id,
    }
    slots = (await client.get("/widget/v1/availability", headers=headers, params=query)).json()
    slot = next(iter(slots["slotsByDate"].values()))[0]
    booking = {
        "appointmentTypeId": practice.appointment_type_id,
        "locationId": practice.location_ids[0],
        "practitionerId": practice.practitioner_ids[0],
        "schedulerConfigId": practice.config_ids[0],
        "startDateTime": slot["startDateTime"],
    }
    r = await client.post("/widget/v1/attempt/appointment", headers=headers, json=booking)
    assert r.status_code == 201, r.text
    return r.json()["manageToken"]


@schemathesis.hook("before_call")
def _real_objects_and_credentials(context, case, kwargs) -> None:
    """Generated (positive) path ids -> the world's objects, the setting of a new attempt -> a
    real one, credentials added where the case has none. Done here rather than in the test
    body so Schemathesis re-checks whether the case is still negative after the change. In
    stateful runs only the account is fixed: the other ids come from the OpenAPI links."""
    if not _WORLD or case.operation.schema.raw_schema is not DOCUMENT:
        return
    world = _WORLD[0]
    meta = case.meta
    stateful = meta is not None and meta.phase.name == TestPhase.STATEFUL
    if case.path_parameters and _is_positive(case, ParameterLocation.PATH):
        ids = world.ids
        if case.method == "DELETE":
            spare = (v for k, v in world.spare.items() if case.operation.path.endswith(k))
            ids = {**ids, **next(spare, {})}
        for name in ["account_id"] if stateful else list(case.path_parameters):
            if name in ids and name in case.path_parameters:
                case.path_parameters[name] = ids[name]
    if isinstance(case.body, dict) and _is_positive(case, ParameterLocation.BODY):
        _real_body(case, world, stateful=stateful)
    prefix = next((p for p in world.headers if case.path.startswith(p)), None)
    if prefix is not None:
        # generated credentials are random strings: replace them, unless the headers are the
        # negative part of the case (then a missing one is added, a mangled one kept)
        replace = _is_positive(case, ParameterLocation.HEADER)
        headers = dict(case.headers or {})
        for name, value in world.headers[prefix].items():
            present = [key for key in headers if key.lower() == name.lower()]
            if replace or not present:
                for key in present:
                    del headers[key]
                headers[name] = value
        _idempotency_key(case, headers)
        case.headers = headers


def _idempotency_key(case: schemathesis.Case, headers: dict[str, str]) -> None:
    """A positive generated `Idempotency-Key` becomes a hash of the request, so identical
    cases (the phases repeat some) replay the stored answer and different ones never collide
    into 422 `idempotency_key_reused`, which would keep their bodies from being exercised. A
    negative one is sent as generated (400), and an absent one stays absent."""
    present = [key for key in headers if key.lower() == "idempotency-key"]
    if not present or not _is_positive(case, ParameterLocation.HEADER):
        return
    for key in present:
        del headers[key]
    request = msgspec.json.encode(
        [case.method, case.formatted_path, case.query or {}, case.body],
        enc_hook=repr,
        order="sorted",
    )
    headers["Idempotency-Key"] = "fuzz-" + hashlib.sha256(request).hexdigest()


def _real_body(case: schemathesis.Case, world: World, *, stateful: bool) -> None:
    """A new attempt is for the flow setting (no verification); in the stateful attempt flow
    the patient gets a plausible email and birth date, and slot requests the flow practice's
    ids, so the chain gets past validation (a random time then meets 409 `slot_unavailable`)."""
    operation = case.operation.definition.raw.get("operationId")
    assert isinstance(case.body, dict)
    if operation == "createAttempt":
        case.body["selfSchedulingSettingId"] = world.flow["setting_id"]
        case.body.pop("identityProofId", None)
    elif stateful and operation == "setAttemptPatient":
        case.body.pop("phone", None)
        case.body.update(email="flow.patient@example.com", dateOfBirth="1980-02-03")
    elif stateful and operation in ("holdAttemptSlot", "bookAttemptAppointment"):
        case.body.update({k: v for k, v in world.flow.items() if k != "setting_id"})


def _is_positive(case: schemathesis.Case, location: ParameterLocation) -> bool:
    component = case.meta.components.get(location) if case.meta else None
    return component is None or component.mode.is_positive


@pytest.fixture(scope="session")
def fuzzed_app(settings, world):
    """A second app on the session's database, run by Schemathesis's ASGI transport."""
    app = create_app(settings)
    yield app
    asgi.shutdown_lifespans()


async def test_served_schema_is_the_one_fuzzed(client) -> None:
    served = await client.get("/schema/openapi.json")
    assert served.status_code == 200
    assert served.json() == DOCUMENT


@schema.parametrize()
@SETTINGS
def test_contract(case: schemathesis.Case, fuzzed_app) -> None:
    case.call_and_validate(base_url="http://testserver", app=fuzzed_app, checks=CHECKS)


ATTEMPT_FLOW = schema.include(path_regex=r"^/partner/.*/self-scheduling/attempt")


def test_attempt_flow_links(fuzzed_app) -> None:
    """Stateful: chains of attempt calls along the OpenAPI links (create -> read, proof,
    patient, hold, book; patient -> hold, book; hold -> book the held slot), same checks."""
    assert ATTEMPT_FLOW.statistic.transitions.total >= 13  # the links are in the document
    base = ATTEMPT_FLOW.as_state_machine()

    class AttemptFlow(base):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"app": fuzzed_app, "base_url": "http://testserver"}

        def validate_response(self, response, case, additional_checks=None, **kwargs) -> None:
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)

    AttemptFlow.run(settings=hypothesis.settings(SETTINGS, stateful_step_count=6))

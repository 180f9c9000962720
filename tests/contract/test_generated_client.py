"""A partner generating an SDK gets every model: `openapi-python-client` generates a client
from the served document without a warning, and the partner booking flow runs through that
generated client against the app (in process, over ASGI).

The one generator setting: SVG and XML are not content types it models, so the funnel chart
and the TwiML answer of the inbound SMS callback are mapped to bytes
(`content_type_overrides`), as a partner would configure it."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from app.core import clock
from tests.builders import build_practice
from tests.support import last_code

PACKAGE = "slotproof_partner_client"
CONFIG = (
    "content_type_overrides:\n"
    "  image/svg+xml: application/octet-stream\n"
    "  application/xml: application/octet-stream\n"
)
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
async def generated(client, tmp_path_factory):
    """(generator output, the imported package)."""
    root = tmp_path_factory.mktemp("sdk")
    document = (await client.get("/schema/openapi.json")).json()
    (root / "openapi.json").write_text(json.dumps(document))
    (root / "config.yaml").write_text(CONFIG)
    bin_dir = str(Path(sys.executable).parent)  # the generator runs ruff from PATH
    process = await asyncio.create_subprocess_exec(
        str(Path(bin_dir) / "openapi-python-client"), "generate",
        "--path", str(root / "openapi.json"), "--output-path", str(root / PACKAGE),
        "--meta", "none", "--config", str(root / "config.yaml"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=root,
        env={**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")},
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), timeout=300)
    result = (process.returncode, output.decode())
    sys.path.insert(0, str(root))
    try:
        yield result, importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def test_generation_has_no_warning(generated):
    (returncode, output), _ = generated
    assert returncode == 0, output
    assert "Warning" not in output and "Could not find reference" not in output, output


def test_every_model_is_generated(generated):
    models = importlib.import_module(f"{generated[1].__name__}.models")
    for name in ("Attempt", "WidgetAttempt", "AttemptStarted", "AttemptStep", "LocationAppointment",
                 "PatientRecord", "ProblemDetails", "Availability", "Proof"):  # fmt: skip
        assert hasattr(models, name), name


async def test_the_partner_booking_flow_through_the_generated_client(
    generated, app, partner, pool, monkeypatch
):
    monkeypatch.setattr(clock, "now", lambda: NOW)
    _, package = generated

    def api(path):
        return importlib.import_module(f"{PACKAGE}.api.{path}")

    models = importlib.import_module(f"{PACKAGE}.models")
    practice = await build_practice(partner)
    sdk = package.AuthenticatedClient(base_url="http://testserver", token=partner.token)
    sdk.set_async_httpx_client(
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://testserver",
            headers={"Authorization": f"Bearer {partner.token}"},
        )
    )
    account = partner.account_id
    email = "sdk.patient@example.org"

    proof = await api("identity_proof.create_identity_proof").asyncio(
        account, client=sdk, body=models.IdentityProofIn(verification_method="EMAIL")
    )
    assert isinstance(proof, models.CreatedProof) and proof.token
    attempt = await api("self_scheduling_attempts.create_attempt").asyncio(
        account,
        client=sdk,
        body=models.AttemptIn(self_scheduling_setting_id=practice.setting_id,
                              identity_proof_id=proof.id),
        idempotency_key="sdk-attempt-1",
    )  # fmt: skip
    assert isinstance(attempt, models.Attempt), attempt
    sent = await api("identity_proof.send_verification").asyncio(
        account, proof.id, client=sdk, body=models.SendIn(email=email)
    )
    assert sent.sent is True
    checked = await api("identity_proof.verify_code").asyncio(
        account, proof.id, client=sdk,
        body=models.VerifyIn(code=await last_code(pool, account), email=email),
    )  # fmt: skip
    assert checked.verified is True

    start = datetime(2026, 3, 9, tzinfo=UTC)
    slots = await api("self_scheduling.get_availability").asyncio(
        account,
        client=sdk,
        self_scheduling_setting_id=practice.setting_id,
        start_unix=int(start.timestamp() * 1000),
        end_unix=int((start + timedelta(days=1)).timestamp() * 1000),
        location_id=practice.location_ids[0],
        appointment_type_id=practice.appointment_type_id,
        attempt_id=attempt.id,
    )
    assert isinstance(slots, models.Availability), slots
    first = slots.slots_by_date.additional_properties["3/9/2026"][0]

    attach = api("self_scheduling_attempts.attach_patient_to_self_scheduling_attempt")
    patient = await attach.asyncio(
        account, attempt.id, client=sdk,
        body=models.AttemptPatientIn(first_name="Sam", last_name="Dee",
                                     date_of_birth=datetime(1980, 2, 3).date(), email=email),
    )  # fmt: skip
    assert isinstance(patient, models.Patient), patient
    booked = await api("self_scheduling_attempts.create_appointment_1").asyncio(
        account, attempt.id, client=sdk,
        body=models.SlotRequest(
            appointment_type_id=practice.appointment_type_id,
            location_id=practice.location_ids[0],
            practitioner_id=practice.practitioner_ids[0],
            scheduler_config_id=practice.config_ids[0],
            start_date_time=datetime.fromisoformat(first.start_date_time),
        ),
    )  # fmt: skip
    assert isinstance(booked, models.Appointment), booked
    assert booked.status == models.AppointmentStatus.SCHEDULED

    done = await api("self_scheduling_attempts.get_self_scheduling_attempt").asyncio(
        account, attempt.id, client=sdk
    )
    assert done.status == models.AttemptStatus.BOOKED and done.appointment_id == booked.id
    listed = await api("appointments.list_appointments").asyncio(
        account, practice.location_ids[0], client=sdk
    )
    assert [a.id for a in listed.appointments] == [booked.id]
    assert listed.appointments[0].start_time == first.start_date_time
    again = await api("self_scheduling_attempts.create_appointment_1").asyncio_detailed(
        account, attempt.id, client=sdk,
        body=models.SlotRequest(
            appointment_type_id=practice.appointment_type_id,
            location_id=practice.location_ids[0],
            practitioner_id=practice.practitioner_ids[0],
            scheduler_config_id=practice.config_ids[0],
            start_date_time=datetime.fromisoformat(first.start_date_time),
        ),
    )  # fmt: skip
    assert again.status_code == 409 and again.parsed.code == "already_booked"
    await sdk.get_async_httpx_client().aclose()

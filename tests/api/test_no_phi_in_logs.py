"""No PHI in the logs: known values are planted, the partner and widget flows are driven end to
end (identity send/verify, patient, hold, booking, changes, manage link, delivery through the
real provider SDKs, provider callbacks, webhooks, periodic jobs, error paths), with every logger
at DEBUG, and every record is scanned -- message, arguments, extras, exception text and the
JSON line app.core.logs would write. None of the planted values, verification codes or
secrets may appear."""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from twilio.request_validator import RequestValidator

from app.core import clock
from app.core.db import create_pool
from app.core.logs import JsonFormatter
from app.core.migrate import migrate
from app.jobs import run_periodic_once
from app.main import create_app
from app.notifications.channels import build_channels
from app.notifications.worker import run_once
from app.webhooks import dispatcher
from tests.builders import build_practice, first_slot
from tests.conftest import TEST_SECRET_KEY
from tests.fakes.providers import TWILIO_TOKEN, FakeProviders, provider_settings
from tests.support import make_partner, running, scratch_database

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # Monday, 07:00 in New York
CLOCK = {"now": NOW}


def tick(seconds: float = 61) -> None:
    """Past the 60 s between two codes to one contact."""
    CLOCK["now"] += timedelta(seconds=seconds)


FIRST, LAST = "Zebulonia", "Quixotewright"
DOB = "1931-07-19"
EMAIL = "zebulonia.quixotewright@phi-canary.example"
PHONE = "+14155550142"
PHONE_TYPED = "(415) 555-0142"
PLANTED = [
    FIRST,
    LAST,
    DOB,
    "07/19/1931",
    "7/19/1931",
    "19310719",
    EMAIL,
    "zebulonia.quixotewright",  # the local part alone
    PHONE,
    "4155550142",
    "555-0142",
    "555 0142",
    "Mrs. Q has a heart murmur",  # an appointment note
    "Chest pain since Tuesday",  # a status change's reason
]

SENDGRID_SIGNER = ec.generate_private_key(ec.SECP256R1())
SENDGRID_PUBLIC = base64.b64encode(
    SENDGRID_SIGNER.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
).decode()

# LogRecord's own attributes; anything else on a record is an `extra`
_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class Capture(logging.Handler):
    """Keeps every record, and the JSON line the production formatter makes of it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.lines: list[str] = []
        self.json = JsonFormatter()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.json.format(record))


def record_texts(record: logging.LogRecord) -> Iterator[str]:
    """Everything of a record a handler could write out."""
    yield record.getMessage()
    yield str(record.msg)
    if isinstance(record.args, tuple | list):
        yield from (repr(a) for a in record.args)
    elif record.args:
        yield repr(record.args)
    for key, value in vars(record).items():
        if key not in _RESERVED:
            yield f"{key}={value!r}"
    if record.exc_info and record.exc_info[0] is not None:
        yield logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        yield record.exc_text
    if record.stack_info:
        yield record.stack_info


def is_test_client_line(record: logging.LogRecord) -> bool:
    """httpx logs the test's own requests (URLs with the manage token the API defines); those
    lines are the test harness talking, not the service."""
    return record.name == "httpx" and "http://testserver/" in record.getMessage()


def find_leaks(
    records: list[logging.LogRecord], lines: list[str], secrets_: list[str], codes: list[str]
) -> list[str]:
    needles = [s.lower() for s in PLANTED + secrets_]
    code_patterns = [re.compile(rf"(?<!\d){re.escape(c)}(?!\d)") for c in codes]
    leaks = []
    texts = [
        (f"{r.name}:{r.levelname}", text)
        for r in records
        if not is_test_client_line(r)
        for text in record_texts(r)
    ]
    texts += [("json", line) for line in lines if "http://testserver/" not in line]
    for where, text in texts:
        lowered = text.lower()
        for needle in needles:
            if needle in lowered:
                leaks.append(f"{where}: {needle!r} in {text[:300]!r}")
        for pattern in code_patterns:
            if pattern.search(text):
                leaks.append(f"{where}: code {pattern.pattern} in {text[:300]!r}")
    return leaks


# SendGrid's HTTP client logs whole request payloads (recipient, text, code) and headers (the
# API key) at DEBUG; app.notifications.sendgrid_email pins its logger to WARNING. Forcing it to
# DEBUG would be undoing that mitigation, so the test asserts the pin holds instead.
PINNED_QUIET = ("python_http_client",)


@pytest.fixture
def every_logger_at_debug(caplog):
    """DEBUG everywhere (root, every named logger, disabled ones re-enabled) except the pinned
    SDK loggers; the capture handler on the root logger and on any non-propagating logger."""
    import app.notifications.sendgrid_email  # noqa: F401 - its import pins the logger

    for name in PINNED_QUIET:
        assert logging.getLogger(name).getEffectiveLevel() >= logging.WARNING, name
    capture = Capture()
    root = logging.getLogger()
    saved = []
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]
    for logger in loggers:
        if logger.name.split(".")[0] in PINNED_QUIET:
            continue
        saved.append((logger, logger.level, logger.disabled, logger.propagate))
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
        if not logger.propagate:
            logger.addHandler(capture)
    saved_root = root.level
    root.addHandler(capture)
    caplog.set_level(logging.DEBUG)
    try:
        yield capture
    finally:
        root.removeHandler(capture)
        root.setLevel(saved_root)
        for logger, level, disabled, propagate in saved:
            logger.setLevel(level)
            logger.disabled = disabled
            if not propagate:
                logger.removeHandler(capture)


@pytest.fixture
def fake():
    server = FakeProviders()
    yield server
    server.close()


async def latest_code(pool, recipient: str) -> str:
    code = await pool.fetchval(
        "SELECT params->>'code' FROM notifications WHERE recipient = $1"
        " AND purpose = 'verification_code' ORDER BY id DESC LIMIT 1",
        recipient,
    )
    assert code and len(code) == 6
    return code


def wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


async def test_planted_phi_never_reaches_the_logs(
    admin_database_url, monkeypatch, every_logger_at_debug, caplog, fake
):
    monkeypatch.setattr(clock, "now", lambda: CLOCK["now"])
    CLOCK["now"] = NOW
    codes: list[str] = []
    secrets_: list[str] = []
    async with scratch_database(admin_database_url) as dsn:
        await migrate(dsn)
        settings = provider_settings(
            fake,
            database_url=dsn,
            secret_key=TEST_SECRET_KEY,
            twilio_auth_token=TWILIO_TOKEN,
            sendgrid_webhook_public_key=SENDGRID_PUBLIC,
            token_rate_limit_per_minute=10_000,
            db_pool_min=1,
            db_pool_max=4,
        )
        application = create_app(settings)
        pool = await create_pool(dsn, min_size=1, max_size=3)
        try:
            async with running(application):
                transport = httpx.ASGITransport(app=application)
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://testserver"
                ) as http:
                    await drive_everything(http, pool, settings, fake, codes, secrets_)
        finally:
            await pool.close()

    capture = every_logger_at_debug
    records = capture.records + [r for r in caplog.records if r not in capture.records]
    # the capture works: the service did log, at several levels and from several loggers
    names = {r.name for r in records}
    assert {"slotproof.access", "slotproof.notifications"} <= names, names
    assert any(r.levelno == logging.DEBUG for r in records)
    assert len(codes) >= 4 and len(secrets_) >= 5
    # and the scanner finds what it looks for
    canary = logging.LogRecord("canary", logging.INFO, "", 0, "to %s", (PHONE,), None)
    canary.contact = EMAIL
    assert len(find_leaks([canary], [], [], [])) >= 2
    leaks = find_leaks(records, capture.lines, secrets_, codes)
    assert not leaks, "\n".join(leaks[:20])


async def drive_everything(http, pool, settings, fake, codes, secrets_) -> None:
    partner = await make_partner(http, pool)
    secrets_ += [partner.token, partner.secret]
    practice = await build_practice(partner, method="EMAIL_AND_SMS")
    await partner.create(
        "/webhook-endpoint",
        {"url": f"{fake.url}/hooks/practice", "events": ["appointment.created"]},
    )

    # ---- the partner flow
    proof = await partner.create("/identity-proof", {"verificationMethod": "EMAIL_AND_SMS"})
    secrets_.append(proof["token"])
    attempt = await partner.create(
        "/self-scheduling/attempt",
        {"selfSchedulingSettingId": practice.setting_id, "identityProofId": proof["id"]},
    )
    base = f"/self-scheduling/attempt/{attempt['id']}"
    proof_path = f"/identity-proof/{proof['id']}"
    # error paths that carry PHI in the request
    assert (
        await partner.post(f"{proof_path}/send", json={"email": f"{FIRST} {LAST}"})
    ).status_code == 400
    assert (await partner.post(f"{proof_path}/send", json={"phone": "555-0142"})).status_code == 400
    r = await partner.post(f"{proof_path}/send", json={"email": EMAIL})
    assert r.status_code == 200, r.text
    code = await latest_code(pool, EMAIL)
    codes.append(code)
    r = await partner.post(f"{proof_path}/verify", json={"code": wrong(code), "email": EMAIL})
    assert r.json()["verified"] is False
    r = await partner.post(f"{proof_path}/verify", json={"code": code, "email": EMAIL})
    assert r.json()["verified"] is True, r.text
    r = await partner.post(f"{proof_path}/send", json={"phone": PHONE_TYPED})
    assert r.status_code == 200, r.text
    code = await latest_code(pool, PHONE)
    codes.append(code)
    r = await partner.post(f"{proof_path}/verify", json={"code": code, "phone": PHONE})
    assert r.json()["verified"] is True, r.text
    assert (await partner.get(f"{proof_path}/patient")).status_code == 404
    assert (await partner.get(proof_path)).status_code == 200

    nine = first_slot(practice, "2026-03-09T09:00:00-04:00")
    assert (await partner.post(f"{base}/hold", json=nine)).status_code == 201
    bad = {"firstName": FIRST, "lastName": LAST, "dateOfBirth": "1931-02-30"}
    assert (await partner.post(f"{base}/patient", json=bad)).status_code == 400
    person = {"firstName": FIRST, "lastName": LAST, "dateOfBirth": DOB}
    r = await partner.post(f"{base}/patient", json=person)
    assert r.status_code == 201, r.text
    r = await partner.post(f"{base}/appointment", json=nine)
    assert r.status_code == 201, r.text
    appointment = r.json()
    taken = await partner.post(f"{base}/appointment", json=nine)
    assert taken.status_code == 409
    assert (await partner.get(f"{proof_path}/patient")).status_code == 200
    where = f"/location/{practice.location_ids[0]}/appointment"
    assert (await partner.get(where)).status_code == 200
    r = await partner.put(
        f"{where}/{appointment['id']}", json={"note": "Mrs. Q has a heart murmur"}
    )
    assert r.status_code == 200, r.text
    r = await partner.put(
        f"{where}/{appointment['id']}", json={"startTime": "2026-03-09T11:00:00-04:00"}
    )
    assert r.status_code == 200, r.text
    reason = {"reason": "Chest pain since Tuesday"}
    r = await partner.put(f"{where}/{appointment['id']}", json={"status": "CONFIRMED", **reason})
    assert r.status_code == 200, r.text
    assert (await partner.put(f"{where}/{appointment['id']}", json=reason)).status_code == 400

    # ---- the widget flow, same person (matched, not created)
    key = {"X-Widget-Key": practice.publishable_key}
    assert (await http.get("/widget/v1/config", headers=key)).status_code == 200
    started = await http.post("/widget/v1/attempt", headers=key)
    assert started.status_code == 201, started.text
    attempt_token = started.json()["attemptToken"]
    secrets_.append(attempt_token)
    widget = {**key, "Authorization": f"Bearer {attempt_token}"}
    start = datetime(2026, 3, 9, 5, tzinfo=UTC)
    r = await http.get(
        "/widget/v1/availability",
        headers=widget,
        params={
            "startUnix": int(start.timestamp() * 1000),
            "endUnix": int((start + timedelta(days=7)).timestamp() * 1000),
            "locationId": practice.location_ids[0],
            "appointmentTypeId": practice.appointment_type_id,
        },
    )
    assert r.status_code == 200, r.text
    ten = first_slot(practice, "2026-03-09T10:00:00-04:00")
    tick()
    r = await http.post("/widget/v1/attempt/send-code", headers=widget, json={"email": EMAIL})
    assert r.status_code == 200, r.text
    assert (await http.post("/widget/v1/attempt/hold", headers=widget, json=ten)).status_code == 201
    code = await latest_code(pool, EMAIL)
    codes.append(code)
    r = await http.post(
        "/widget/v1/attempt/verify-code", headers=widget, json={"code": wrong(code), "email": EMAIL}
    )
    assert r.json()["verified"] is False
    r = await http.post(
        "/widget/v1/attempt/verify-code", headers=widget, json={"code": code, "email": EMAIL}
    )
    assert r.json()["verified"] is True, r.text
    r = await http.post("/widget/v1/attempt/send-code", headers=widget, json={"phone": PHONE_TYPED})
    assert r.status_code == 200, r.text
    code = await latest_code(pool, PHONE)
    codes.append(code)
    r = await http.post(
        "/widget/v1/attempt/verify-code", headers=widget, json={"code": code, "phone": PHONE}
    )
    assert r.json()["verified"] is True, r.text
    r = await http.post("/widget/v1/attempt/patient", headers=widget, json=person)
    assert r.status_code == 200, r.text  # matched the partner flow's patient
    r = await http.post("/widget/v1/attempt/appointment", headers=widget, json=ten)
    assert r.status_code == 201, r.text
    manage_token = r.json()["manageToken"]
    secrets_.append(manage_token)
    manage = f"/widget/v1/manage/{manage_token}"
    assert (await http.get(manage)).status_code == 200
    r = await http.post(
        f"{manage}/reschedule",
        json={
            "startDateTime": "2026-03-10T09:30:00-04:00",
            "schedulerConfigId": practice.config_ids[0],
            "practitionerId": practice.practitioner_ids[0],
        },
    )
    assert r.status_code == 200, r.text
    assert (await http.post(f"{manage}/cancel")).status_code == 200
    assert (await http.get("/widget/v1/manage/mg_not-a-real-token")).status_code == 404

    # ---- delivery through the real SDKs, provider callbacks, webhooks, periodic jobs
    fake.script("twilio", 500)  # one retry path too
    channels = build_channels(settings)
    for _ in range(20):
        if not await run_once(pool, settings, channels, now=datetime.now(UTC) + timedelta(hours=1)):
            break
    assert fake.accepted_for(EMAIL) and fake.accepted_for(PHONE)
    sms = await pool.fetchval(
        "SELECT provider_message_id FROM notifications WHERE recipient = $1"
        " AND provider_message_id IS NOT NULL LIMIT 1",
        PHONE,
    )
    form = {"MessageSid": sms, "MessageStatus": "delivered", "To": PHONE, "AccountSid": "AC1"}
    url = settings.public_url + "/callbacks/twilio/status"
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, form)
    r = await http.post(
        "/callbacks/twilio/status", data=form, headers={"X-Twilio-Signature": signature}
    )
    assert r.status_code < 300, r.text
    email_id = await pool.fetchval(
        "SELECT id FROM notifications WHERE recipient = $1 AND status = 'SENT' LIMIT 1", EMAIL
    )
    events = [
        {
            "email": EMAIL,
            "timestamp": int(time.time()),
            "event": event,
            "sg_event_id": secrets.token_urlsafe(16),
            "sg_message_id": "x.filterdrecv-1",
            "notification_id": str(email_id),
            "reason": f"550 5.1.1 <{EMAIL}>: Recipient address rejected",
        }
        for event in ("delivered", "bounce")
    ]
    body = json.dumps(events).encode()
    stamp = str(int(time.time()))
    signed = SENDGRID_SIGNER.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    r = await http.post(
        "/callbacks/sendgrid/events",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signed).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
        },
    )
    assert r.status_code < 300, r.text
    await dispatcher.run_once(pool, settings)
    await run_periodic_once(pool, settings, NOW + timedelta(days=2))

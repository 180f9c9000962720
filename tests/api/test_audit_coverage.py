"""No PHI route without an audit declaration: every handler whose request or response body can
carry a person's name, date of birth, contact or appointment must declare `opt=audit(...)`.
A new PHI route that forgets it fails here."""

import typing

import msgspec
from litestar import Litestar
from litestar.routes import HTTPRoute

from app.appointments.schemas import Appointment
from app.audit.spec import AuditSpec
from app.config import Settings
from app.main import create_app

PHI_FIELDS = {
    "first_name", "last_name", "date_of_birth", "email", "phone", "mobile_phone",
    "verified_email", "verified_phone",
}  # fmt: skip
_BASE = "/partner/v2/account/{account_id:int}"
# bodies with such a field name that are not a patient's: a location's phone number, a
# practitioner's name (staff), a proof or widget attempt just created (no contact, no patient)
NOT_PHI = {
    ("GET", "/widget/v1/config"),
    ("POST", "/widget/v1/attempt"),
    ("POST", f"{_BASE}/identity-proof"),
    ("GET", f"{_BASE}/practitioner"),
    ("POST", f"{_BASE}/practitioner"),
    ("GET", f"{_BASE}/practitioner/{{practitioner_id:int}}"),
    ("PUT", f"{_BASE}/practitioner/{{practitioner_id:int}}"),
    ("GET", f"{_BASE}/location"),
    ("POST", f"{_BASE}/location"),
    ("GET", f"{_BASE}/location/{{location_id:int}}"),
    ("PUT", f"{_BASE}/location/{{location_id:int}}"),
}


def carries_phi(tp, seen=None) -> bool:
    seen = set() if seen is None else seen
    if tp in seen:
        return False
    seen.add(tp)
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return carries_phi(typing.get_args(tp)[0], seen)
    if origin is not None:
        return any(carries_phi(a, seen) for a in typing.get_args(tp) if a is not Ellipsis)
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        if tp is Appointment:
            return True
        hints = typing.get_type_hints(tp, include_extras=True)
        return any(name in PHI_FIELDS or carries_phi(hint, seen) for name, hint in hints.items())
    return False


def handlers(app: Litestar):
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                for method in handler.http_methods:
                    yield method, route.path, handler


def test_every_phi_route_is_audited():
    app = create_app(Settings(database_url="postgresql://unused@localhost/x"))
    audited, missing = set(), []
    for method, path, handler in handlers(app):
        signature = handler.parsed_fn_signature
        types = [signature.return_type.annotation]
        if "data" in signature.parameters:
            types.append(signature.parameters["data"].annotation)
        phi = any(carries_phi(t) for t in types) and (method, path) not in NOT_PHI
        spec = handler.opt.get("audit")
        if isinstance(spec, AuditSpec):
            audited.add((method, path))
        elif phi:
            missing.append((method, path))
    assert missing == []
    # and the known PHI routes are all among them (a declaration removed by mistake)
    base = _BASE
    assert {
        ("GET", f"{base}/identity-proof/{{proof_id:int}}"),
        ("POST", f"{base}/identity-proof/{{proof_id:int}}/send"),
        ("POST", f"{base}/identity-proof/{{proof_id:int}}/verify"),
        ("GET", f"{base}/identity-proof/{{proof_id:int}}/patient"),
        ("POST", f"{base}/self-scheduling/attempt/{{attempt_id:int}}/patient"),
        ("POST", f"{base}/self-scheduling/attempt/{{attempt_id:int}}/appointment"),
        ("GET", f"{base}/location/{{location_id:int}}/appointment"),
        ("GET", f"{base}/location/{{location_id:int}}/appointment/{{appointment_id:int}}"),
        ("PUT", f"{base}/location/{{location_id:int}}/appointment/{{appointment_id:int}}"),
        ("POST", "/widget/v1/attempt/send-code"),
        ("POST", "/widget/v1/attempt/verify-code"),
        ("POST", "/widget/v1/attempt/patient"),
        ("POST", "/widget/v1/attempt/appointment"),
        ("GET", "/widget/v1/manage/{manage_token:str}"),
        ("POST", "/widget/v1/manage/{manage_token:str}/cancel"),
        ("POST", "/widget/v1/manage/{manage_token:str}/reschedule"),
    } <= audited
    # the analytics calls carry none
    for method, path, handler in handlers(app):
        if path.startswith(f"{base}/self-scheduling/funnel") or (
            path == f"{base}/self-scheduling/attempt" and method == "GET"
        ):
            assert "audit" not in handler.opt
            assert not carries_phi(handler.parsed_fn_signature.return_type.annotation)

"""Reading a `Parameters` body: IHE parameter names, one value each where IHE says 1..1."""

from __future__ import annotations

from app.core.errors import invalid
from app.fhir import ids
from app.fhir.schemas import AppointmentIn, Parameter, Parameters


def check_names(body_names: list[str], allowed: frozenset[str]) -> None:
    for name in body_names:
        if name not in allowed:
            raise invalid(name, "is not a parameter this server supports for this operation")


def value_text(p: Parameter) -> str | None:
    if p.value_reference is not None:
        return p.value_reference.reference
    if p.value_coding is not None:
        system, code = p.value_coding.system, p.value_coding.code
        return f"{system}|{code}" if system else code
    return p.value_date_time or p.value_instant or p.value_date or p.value_string or p.value_code


def one(body: Parameters, name: str) -> Parameter | None:
    found = [p for p in body.parameter if p.name == name]
    if len(found) > 1:
        raise invalid(name, "may be given once")
    return found[0] if found else None


def appointment(body: Parameters) -> tuple[str | None, AppointmentIn | None]:
    """(the referenced id, the resource) of appointment-reference / appointment-resource."""
    reference = one(body, "appointment-reference")
    resource = one(body, "appointment-resource")
    if (reference is None) == (resource is None):
        raise invalid(
            "appointment-reference",
            "give exactly one of appointment-reference or appointment-resource",
        )
    if reference is not None:
        raw = value_text(reference)
        appointment_id = ids.reference_id(raw or "", "Appointment")
        if appointment_id is None:
            raise invalid(
                "appointment-reference",
                "must reference an Appointment, e.g. Appointment/proposed-…",
            )
        return appointment_id, None
    if not isinstance(resource.resource, AppointmentIn):  # type: ignore[union-attr]
        raise invalid("appointment-resource", "must be an Appointment resource")
    return resource.resource.id, resource.resource  # type: ignore[union-attr]

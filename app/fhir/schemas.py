"""What the FHIR operations accept: a `Parameters` resource with the IHE parameter names.

Only the elements the facade reads are declared; anything else in a resource is ignored, as
FHIR allows. Every string is bounded and NUL-free (PostgreSQL text cannot hold NUL)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

Text = Annotated[str, msgspec.Meta(max_length=200, pattern=r"^[^\x00]*$")]
LongText = Annotated[str, msgspec.Meta(max_length=2000, pattern=r"^[^\x00]*$")]


class _In(msgspec.Struct, rename="camel", kw_only=True):
    pass


class Reference(_In):
    reference: Text | None = None
    display: Text | None = None


class Coding(_In):
    system: Text | None = None
    code: Text | None = None


class CodeableConcept(_In):
    coding: Annotated[list[Coding], msgspec.Meta(max_length=20)] = []
    text: Text | None = None


class Participant(_In):
    actor: Reference | None = None
    status: Text | None = None


class HumanName(_In):
    family: Text | None = None
    given: Annotated[list[Text], msgspec.Meta(max_length=5)] = []
    text: Text | None = None


class ContactPoint(_In):
    system: Text | None = None
    value: Text | None = None


class AppointmentIn(_In, tag_field="resourceType", tag="Appointment"):
    id: Text | None = None
    status: Text | None = None
    start: Text | None = None
    end: Text | None = None
    participant: Annotated[list[Participant], msgspec.Meta(max_length=20)] = []
    slot: Annotated[list[Reference], msgspec.Meta(max_length=5)] = []
    service_type: Annotated[list[CodeableConcept], msgspec.Meta(max_length=5)] = []
    comment: LongText | None = None


class PatientIn(_In, tag_field="resourceType", tag="Patient"):
    id: Text | None = None
    name: Annotated[list[HumanName], msgspec.Meta(max_length=5)] = []
    birth_date: Text | None = None
    telecom: Annotated[list[ContactPoint], msgspec.Meta(max_length=10)] = []


class Parameter(_In):
    name: Text
    value_date_time: Text | None = None
    value_instant: Text | None = None
    value_date: Text | None = None
    value_string: LongText | None = None
    value_code: Text | None = None
    value_coding: Coding | None = None
    value_reference: Reference | None = None
    resource: AppointmentIn | PatientIn | None = None


class Parameters(_In):
    """`POST [base]/Appointment/$find|$hold|$book` body (`application/fhir+json`)."""

    resource_type: Literal["Parameters"]
    parameter: Annotated[list[Parameter], msgspec.Meta(max_length=50)] = []


class FhirResource(msgspec.Struct):
    """Every answer is a FHIR R4 resource (`application/fhir+json`); FHIR defines its schema."""

    resourceType: str


def parameter_values(body: Parameters, name: str) -> list[Parameter]:
    return [p for p in body.parameter if p.name == name]


def as_dict(value: Any) -> Any:
    return msgspec.to_builtins(value)

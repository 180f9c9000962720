"""The CapabilityStatement: exactly what the facade implements (pure).

The search parameters listed here are also the ones the handlers accept: any other is
refused (400), so the statement and the behaviour cannot drift apart."""

from __future__ import annotations

from app.fhir.resources import Resource

FHIR_VERSION = "4.0.1"
IHE = "https://profiles.ihe.net/ITI/Scheduling/OperationDefinition"

# resource type -> its search parameters (name, FHIR type)
SEARCH: dict[str, tuple[tuple[str, str], ...]] = {
    "Location": (("_id", "token"), ("name", "string")),
    "Practitioner": (("_id", "token"), ("name", "string")),
    "PractitionerRole": (
        ("_id", "token"),
        ("practitioner", "reference"),
        ("location", "reference"),
    ),
    "HealthcareService": (("_id", "token"), ("location", "reference")),
    "Schedule": (
        ("_id", "token"),
        ("actor", "reference"),
        ("service-type", "token"),
        ("active", "token"),
    ),
    "Slot": (
        ("schedule", "reference"),
        ("start", "date"),
        ("status", "token"),
        ("service-type", "token"),
    ),
    "Patient": (
        ("_id", "token"),
        ("identifier", "token"),
        ("birthdate", "date"),
        ("email", "token"),
        ("phone", "token"),
    ),
    "Appointment": (
        ("_id", "token"),
        ("patient", "reference"),
        ("date", "date"),
        ("status", "token"),
        ("location", "reference"),
        ("practitioner", "reference"),
    ),
}
RESULT_PARAMETERS = ("_count", "_offset")
FIND_PARAMETERS = ("start", "end", "visit-type", "location-reference", "practitioner")
OPERATIONS = (
    ("find", "appointment-find"),
    ("hold", "appointment-hold"),
    ("book", "appointment-book"),
)


def allowed(resource_type: str) -> frozenset[str]:
    return frozenset(name for name, _ in SEARCH[resource_type]) | frozenset(RESULT_PARAMETERS)


def capability_statement(software_version: str, base: str) -> Resource:
    resources = []
    for resource_type, params in SEARCH.items():
        entry: Resource = {
            "type": resource_type,
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "searchParam": [{"name": name, "type": kind} for name, kind in params],
        }
        if resource_type == "Appointment":
            entry["operation"] = [
                {"name": name, "definition": f"{IHE}/{definition}"}
                for name, definition in OPERATIONS
            ]
        resources.append(entry)
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-12-07",
        "kind": "instance",
        "software": {"name": "slotproof", "version": software_version},
        "implementation": {
            "description": "slotproof FHIR R4 scheduling facade (IHE ITI Scheduling)",
            "url": base,
        },
        "fhirVersion": FHIR_VERSION,
        "format": ["application/fhir+json", "json"],
        "instantiates": [
            "https://profiles.ihe.net/ITI/Scheduling/CapabilityStatement/IHE.Scheduling.server"
        ],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                    "code": "OAuth",
                                }
                            ]
                        }
                    ],
                    "description": "OAuth2 client credentials (POST /oauth2/token); the "
                    "'scheduling' scope and a grant on the account.",
                },
                "resource": resources,
            }
        ],
    }

"""Our records -> FHIR R4 resources (pure; plain dicts in FHIR's JSON shape).

Times are instants in the location's zone (`2026-03-09T09:00:00-04:00`), as in the partner
API. The mapping table is in docs/fhir.md."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from app.fhir import ids
from app.fhir.store import (
    AppointmentRow,
    LocationRow,
    PatientRow,
    PractitionerRow,
    RoleRow,
    ScheduleRow,
    ServiceRow,
)

Resource = dict[str, Any]

TIMEZONE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/timezone"
NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"

# ours -> FHIR R4 AppointmentStatus
APPOINTMENT_STATUS = {
    "SCHEDULED": "booked",
    "CONFIRMED": "booked",
    "CHECKED_IN": "checked-in",
    "IN_TREATMENT": "arrived",
    "CHECKED_OUT": "fulfilled",
    "NO_SHOW": "noshow",
    "CANCELLED": "cancelled",
    "RESCHEDULED": "cancelled",
    "VOIDED": "entered-in-error",
}
# FHIR -> ours, for `Appointment?status=`
STATUS_SEARCH: dict[str, list[str]] = {}
for _ours, _theirs in APPOINTMENT_STATUS.items():
    STATUS_SEARCH.setdefault(_theirs, []).append(_ours)


class Systems:
    """The URIs of this deployment's own code systems and extensions."""

    def __init__(self, public_url: str) -> None:
        root = public_url.rstrip("/") + "/fhir"
        self.service = f"{root}/CodeSystem/appointment-type"
        self.patient_id = f"{root}/sid/patient-id"
        self.hold_expires = f"{root}/StructureDefinition/hold-expires-at"
        self.alternative = f"{root}/StructureDefinition/alternative"
        self.code = f"{root}/CodeSystem/error-code"


def ref(resource_type: str, id_: object, display: str | None = None) -> dict[str, str]:
    out = {"reference": f"{resource_type}/{id_}"}
    if display:
        out["display"] = display
    return out


def _instant(at: datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).isoformat()


def _active(active: bool) -> str:
    return "active" if active else "inactive"


def location(row: LocationRow) -> Resource:
    out: Resource = {
        "resourceType": "Location",
        "id": str(row.id),
        "status": _active(row.active),
        "name": row.name,
        "mode": "instance",
        "extension": [{"url": TIMEZONE_EXTENSION, "valueCode": row.time_zone}],
    }
    if row.phone:
        out["telecom"] = [{"system": "phone", "value": row.phone, "use": "work"}]
    lines = [line for line in (row.address_line1, row.address_line2) if line]
    address = {
        k: v
        for k, v in (
            ("line", lines),
            ("city", row.city),
            ("state", row.state),
            ("postalCode", row.postal_code),
            ("country", row.country),
        )
        if v
    }
    if address:
        out["address"] = address
    return out


def practitioner(row: PractitionerRow) -> Resource:
    name: Resource = {"text": row.display_name, "family": row.last_name, "given": [row.first_name]}
    if row.credentials:
        name["suffix"] = [row.credentials]
    out: Resource = {
        "resourceType": "Practitioner",
        "id": str(row.id),
        "active": row.active,
        "name": [name],
    }
    if row.npi:
        out["identifier"] = [{"system": NPI_SYSTEM, "value": row.npi}]
    return out


def service_concept(systems: Systems, service_id: int, name: str | None = None) -> Resource:
    coding = {"system": systems.service, "code": str(service_id)}
    if name:
        coding["display"] = name
    return {"coding": [coding], **({"text": name} if name else {})}


def healthcare_service(row: ServiceRow, systems: Systems) -> Resource:
    out: Resource = {
        "resourceType": "HealthcareService",
        "id": str(row.id),
        "active": row.active,
        "name": row.name,
        "type": [service_concept(systems, row.id, row.name)],
        "appointmentRequired": True,
    }
    if row.description:
        out["comment"] = row.description
    if row.location_ids:
        out["location"] = [ref("Location", i) for i in row.location_ids]
    if row.telehealth:
        out["characteristic"] = [{"text": "telehealth"}]
    return out


def practitioner_role(row: RoleRow) -> Resource:
    return {
        "resourceType": "PractitionerRole",
        "id": ids.role_id(ids.RoleKey(row.practitioner_id, row.location_id)),
        "active": row.active,
        "practitioner": ref("Practitioner", row.practitioner_id),
        "location": [ref("Location", row.location_id)],
        "healthcareService": [ref("HealthcareService", i) for i in row.appointment_type_ids],
    }


def schedule(row: ScheduleRow, systems: Systems) -> Resource:
    return {
        "resourceType": "Schedule",
        "id": str(row.id),
        "active": row.active,
        "serviceType": [service_concept(systems, i) for i in row.appointment_type_ids],
        "actor": [
            ref("Practitioner", row.practitioner_id),
            ref("Location", row.location_id),
            ref(
                "PractitionerRole",
                ids.role_id(ids.RoleKey(row.practitioner_id, row.location_id)),
            ),
        ],
    }


class Names:
    """Display names of the practitioners, locations and services a response mentions."""

    def __init__(
        self,
        practitioners: dict[int, str] | None = None,
        locations: dict[int, str] | None = None,
        services: dict[int, str] | None = None,
    ) -> None:
        self.practitioners = practitioners or {}
        self.locations = locations or {}
        self.services = services or {}


class SlotView:
    """A slot of one schedule for one appointment type: free (from the engine) or busy (an
    appointment holds it)."""

    def __init__(
        self,
        key: ids.SlotKey,
        end: datetime,
        zone: ZoneInfo,
        *,
        practitioner_id: int,
        location_id: int,
        busy: bool = False,
    ) -> None:
        self.key, self.end, self.zone, self.busy = key, end, zone, busy
        self.practitioner_id, self.location_id = practitioner_id, location_id

    @property
    def start_text(self) -> str:
        return _instant(self.key.start, self.zone)

    @property
    def end_text(self) -> str:
        return _instant(self.end, self.zone)


def slot(view: SlotView, systems: Systems) -> Resource:
    return {
        "resourceType": "Slot",
        "id": ids.slot_id(view.key),
        "schedule": ref("Schedule", view.key.schedule_id),
        "status": "busy" if view.busy else "free",
        "start": view.start_text,
        "end": view.end_text,
        "serviceType": [service_concept(systems, view.key.service_id)],
    }


def _minutes(start: datetime, end: datetime) -> int:
    return int((end - start).total_seconds() // 60)


def proposed_appointment(
    view: SlotView,
    systems: Systems,
    *,
    names: Names | None = None,
    status: str = "proposed",
    id_: str | None = None,
    expires_at: datetime | None = None,
) -> Resource:
    """What `$find` proposes (status `proposed`), or a held one (`pending`, `hold-…` id)."""
    names = names or Names()
    participant_status = {"proposed": "needs-action", "pending": "tentative"}.get(
        status, "declined"
    )
    key = view.key
    out: Resource = {
        "resourceType": "Appointment",
        "id": id_ or ids.proposed_id(key),
        "status": status,
        "serviceType": [
            service_concept(systems, key.service_id, names.services.get(key.service_id))
        ],
        "start": view.start_text,
        "end": view.end_text,
        "minutesDuration": _minutes(key.start, view.end),
        "slot": [ref("Slot", ids.slot_id(key))],
        "participant": [
            {
                "actor": ref(
                    "Practitioner",
                    view.practitioner_id,
                    names.practitioners.get(view.practitioner_id),
                ),
                "required": "required",
                "status": participant_status,
            },
            {
                "actor": ref("Location", view.location_id, names.locations.get(view.location_id)),
                "required": "required",
                "status": participant_status,
            },
        ],
    }
    if expires_at is not None:
        out["extension"] = [
            {"url": systems.hold_expires, "valueInstant": _instant(expires_at, view.zone)}
        ]
    return out


def appointment(row: AppointmentRow, systems: Systems) -> Resource:
    zone = ZoneInfo(row.time_zone)
    status = APPOINTMENT_STATUS.get(row.status, "booked")
    participant_status = "declined" if status in ("cancelled", "noshow") else "accepted"
    out: Resource = {
        "resourceType": "Appointment",
        "id": str(row.id),
        "status": status,
        "serviceType": [service_concept(systems, row.appointment_type_id)],
        "start": _instant(row.start_at, zone),
        "end": _instant(row.end_at, zone),
        "minutesDuration": _minutes(row.start_at, row.end_at),
        "created": _instant(row.created_at, zone),
        "participant": [
            {"actor": ref("Patient", row.patient_id), "status": participant_status},
            {"actor": ref("Practitioner", row.practitioner_id), "status": participant_status},
            {"actor": ref("Location", row.location_id), "status": participant_status},
        ],
    }
    if row.scheduler_config_id is not None:
        key = ids.SlotKey(row.scheduler_config_id, row.appointment_type_id, row.start_at)
        out["slot"] = [ref("Slot", ids.slot_id(key))]
    if row.note:
        out["comment"] = row.note
    return out


def patient(row: PatientRow, systems: Systems) -> Resource:
    out: Resource = {
        "resourceType": "Patient",
        "id": str(row.id),
        "identifier": [{"system": systems.patient_id, "value": str(row.id)}],
        "name": [{"family": row.last_name, "given": [row.first_name]}],
        "birthDate": row.date_of_birth.isoformat(),
    }
    telecom = []
    if row.email:
        telecom.append({"system": "email", "value": row.email})
    if row.mobile_phone:
        telecom.append({"system": "sms", "value": row.mobile_phone, "use": "mobile"})
    if telecom:
        out["telecom"] = telecom
    return out

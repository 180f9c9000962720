"""The served OpenAPI document as the machine contract: the finishing touches Litestar cannot
express per handler, applied once to the generated document before it is served.

* Path parameters in camelCase (`{accountId}`, `{attemptId}`), as Lobbie's description names
  them, so an SDK generated from either has the same parameter names. Routing is unaffected:
  only the names in the document change.
* A one-line `description` on every operation: a handler's own `description=` (or docstring)
  wins; `DESCRIPTIONS` below covers the handlers that have none, by operationId.

Operation ids: Lobbie's on Lobbie's operations (`app.core.lobbie`), else the handler's name in
camelCase (`operation_id`), with `widget` in front on the widget API.

`served_document(app)` is what `GET /schema/openapi.json` answers; the snapshot test
(tests/contract/test_openapi_contract.py) compares it with `tests/contract/openapi.json`.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from litestar import Litestar, Request
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.openapi.plugins import JsonRenderPlugin, RedocRenderPlugin, SwaggerRenderPlugin

_PATH_PARAM = re.compile(r"\{([a-z0-9_]+)\}")


# one line per operation whose handler has no description of its own (operationId -> text)
DESCRIPTIONS = {
    "healthz": "200 while the process is up; no database access.",
    "readyz": "200 when the database answers and every migration is applied, else 503.",
    "issueToken": "OAuth 2.0 client credentials (form body or HTTP Basic) to a 1-hour bearer JWT.",
    "twilioStatus": "Twilio's signed delivery status for an SMS we sent; 403 if unsigned.",
    "sendgridEvents": "SendGrid's signed Event Webhook batch; 403 if the signature fails.",
    "createLocation": "Create a location (config scope); Lobbie's address and phoneNumber names.",
    "getLocation": "One location of the account.",
    "updateLocation": "Change the fields sent; null clears an optional one.",
    "deleteLocation": "Delete a location no setting uses (409 in_use otherwise).",
    "listPractitioners": "The account's practitioners, filtered by active, with a cursor.",
    "createPractitioner": "Create a practitioner (config scope).",
    "getPractitioner": "One practitioner of the account.",
    "updatePractitioner": "Change the fields sent; null clears an optional one.",
    "deletePractitioner": "Delete a practitioner no setting uses (409 in_use otherwise).",
    "listAppointmentTypes": "The account's appointment types, filtered by active, with a cursor.",
    "createAppointmentType": "Create an appointment type (config scope).",
    "getAppointmentType": "One appointment type of the account.",
    "updateAppointmentType": "Change the fields sent; null clears an optional one.",
    "deleteAppointmentType": "Delete an appointment type no setting uses (409 in_use otherwise).",
    "listSettings": "The account's self-scheduling settings, with a cursor.",
    "createSetting": "Create a self-scheduling setting with its widget keys (config scope).",
    "getSetting": "One self-scheduling setting with its scheduler configs and widget.",
    "updateSetting": "Change the fields sent of a self-scheduling setting.",
    "deleteSetting": "Delete a self-scheduling setting and its scheduler configs.",
    "listSchedulerConfigs": "The scheduler configs of a setting.",
    "createSchedulerConfig": "Add a scheduler config (rules, overrides, blocks) to a setting.",
    "getSchedulerConfig": "One scheduler config of the setting.",
    "updateSchedulerConfig": "Change the fields sent of a scheduler config.",
    "deleteSchedulerConfig": "Remove a scheduler config from its setting.",
    "createIdentityProof": "Start a proof for EMAIL, SMS or EMAIL_AND_SMS; its token is shown"
    " only in this answer.",
    "getIdentityProofStatus": "The proof's verification state and verified contacts.",
    "getPatient_1": "The patient holding the proof's verified contact(s); 404 when none.",
    "sendVerification": "Send a 6-digit code to an email or phone; the same answer whether or"
    " not a patient has it.",
    "verifyCode": "Check a code; a wrong or expired one is 200 verified: false.",
    "getAvailability": "Bookable slots by local date; pass attemptId to record"
    " AVAILABILITY_VIEWED on that attempt.",
    "listWebhookEndpoints": "The account's webhook endpoints, with a cursor.",
    "createWebhookEndpoint": "Register an endpoint; its signing secret is shown only here.",
    "deleteWebhookEndpoint": "Delete an endpoint; its pending deliveries are dropped.",
    "listWebhookDeliveries": "The endpoint's delivery log, oldest first.",
    "retryWebhookDelivery": "Queue a delivery again, due now, with a fresh retry window.",
    "attachAttemptIdentityProof": "Bind an identity proof to an attempt started without one.",
    "createAppointment_1": "Book the attempt's appointment; the slot is re-checked (409"
    " slot_unavailable with alternatives).",
    "listAttempts": "Attempt records with their steps, no PHI; text/csv streams every match.",
    "createAttempt": "Start an attempt on an active setting, optionally with a proof.",
    "getSelfSchedulingAttempt": "The attempt with its status and recorded steps.",
    "holdAttemptSlot": "Withhold a slot from everyone else for the hold time.",
    "attachPatientToSelfSchedulingAttempt": "Match (200) or create (201) the attempt's patient"
    " from the verified contact.",
    "funnelChart": "The funnel of the range as an SVG bar chart.",
    "getFunnel": "Reached, conversion and drop-off per step, grouped by day, setting or location.",
    "listAuditLog": "The PHI audit trail, filtered, with a cursor (audit scope).",
    "widgetAvailability": "Open times for the widget's setting (the partner shape).",
    "widgetAttemptBook": "Book the session's appointment; answers a manage link.",
    "widgetConfig": "What the widget shows for this publishable key.",
    "widgetAttemptCurrent": "The current booking session.",
    "widgetAttemptUpcoming": "The patient's upcoming appointments of a type, to manage instead of"
    " booking another.",
    "widgetAttemptStart": "Start a booking session; answers its bearer attemptToken.",
    "widgetAttemptHold": "Hold a time while the patient finishes.",
    "widgetAttemptPatient": "Set the session's patient from its verified contact.",
    "widgetAttemptSendCode": "Send a verification code to an email or phone.",
    "widgetAttemptVerifyCode": "Check a verification code.",
    "widgetManageCancel": "Cancel the appointment behind a manage link.",
    "widgetManageReschedule": "Move the appointment behind a manage link to another open time.",
    "widgetManageShow": "The appointment behind a manage link.",
    "twilioInbound": "Twilio's signed inbound SMS (replies to reminders), answered with TwiML.",
    "reminderStats": "Reminders sent, confirmation and no-show rates, per appointment day or"
    " setting.",
    "widgetConfirmPage": "A reminder email's confirm link: the appointment and a button.",
    "widgetConfirm": "Confirm the appointment behind the link (SCHEDULED to CONFIRMED).",
    "widgetUnsubscribePage": "A reminder email's unsubscribe link: asks first.",
    "widgetUnsubscribe": "One-click unsubscribe (RFC 8058): no more reminder emails there.",
    "listWaitlistEntries": "The account's waitlist entries, oldest first, with a cursor.",
    "createWaitlistEntry": "Add a waitlist entry: an earlier-time request for an appointment,"
    " or a window.",
    "deleteWaitlistEntry": "Take an entry off the waitlist.",
    "getWaitlistStats": "Waitlist entries, offers, claims and minutes gained per setting and day.",
    "widgetManageEarlier": "Ask for an earlier time for the appointment behind the link.",
    "widgetAttemptJoin": "Join the waitlist for a window (verified attempt, patient set).",
    "widgetOfferClaim": "Claim an offer: book it, or move your appointment to it; one wins.",
    "widgetOfferShow": "The slot an offer link holds out.",
    "fhirCapabilities": "The CapabilityStatement of the FHIR R4 facade; needs no token.",
    "fhirFindGet": "IHE ITI-115 $find as a GET (what a searchset's next link calls).",
    "fhirFind": "IHE ITI-115 $find: a searchset Bundle of proposed Appointments.",
    "fhirHold": "IHE ITI-116 $hold: a proposed Appointment held like a widget hold (pending).",
    "fhirBook": "IHE ITI-117 $book: book a pending Appointment, cancel one, or move it.",
    **{
        f"fhir{kind}{resource}": text.format(resource)
        for resource in (
            "Location",
            "Practitioner",
            "PractitionerRole",
            "HealthcareService",
            "Schedule",
            "Slot",
            "Patient",
            "Appointment",
        )
        for kind, text in (
            ("Search", "A searchset Bundle of {} resources; an unsupported parameter is 400."),
            ("Read", "One {} resource; an OperationOutcome 404 when absent."),
        )
    },
}


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def finish(document: dict[str, Any]) -> dict[str, Any]:
    """A finished copy of the generated document."""
    doc = copy.deepcopy(document)
    doc["paths"] = {
        _PATH_PARAM.sub(lambda m: "{" + camel(m[1]) + "}", path): _finish_path(item)
        for path, item in doc.get("paths", {}).items()
    }
    return doc


def operation_id(handler: Any, method: str, path_components: list[Any]) -> str:
    """Litestar `operation_id_creator`: the handler's name in camelCase (`createLocation`); on
    the widget API `widget` + the path's first part + the name (`widgetManageShow`,
    `widgetOfferShow`), as widget handlers reuse short names; the part is not repeated when
    the name starts with it (`widgetConfirmPage`). Lobbie's operations get Lobbie's ids
    (app.core.lobbie); a handler's own `operation_id=` wins."""
    name = camel(handler.handler_name)
    if path_components[:2] != ["widget", "v1"]:
        return name
    area = next((str(part) for part in path_components[2:3] if isinstance(part, str)), "")
    area = camel(area.replace("-", "_"))
    words = [area] if area and not name.startswith(area) else []
    return "widget" + "".join(w[:1].upper() + w[1:] for w in [*words, name])


def _finish_path(item: dict[str, Any]) -> dict[str, Any]:
    for operation in item.values():
        if not isinstance(operation, dict):
            continue
        if not operation.get("description"):
            operation["description"] = DESCRIPTIONS.get(operation.get("operationId", ""), "")
        for parameter in operation.get("parameters", []):
            if parameter.get("in") == "path":
                parameter["name"] = camel(parameter["name"])
    return item


class _Finished:
    """Render plugins serving the finished document (computed once per generated one)."""

    _source: int | None = None
    _finished: dict[str, Any] | None = None

    def render_json(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:  # type: ignore[override]
        if self._source != id(openapi_schema):
            self._finished, self._source = finish(openapi_schema), id(openapi_schema)
        return super().render_json(request, self._finished)  # type: ignore[misc, arg-type]


class ContractJsonPlugin(_Finished, JsonRenderPlugin):
    pass


class ContractRedocPlugin(_Finished, RedocRenderPlugin):
    pass


class ContractSwaggerPlugin(_Finished, SwaggerRenderPlugin):
    pass


def served_document(app: Litestar) -> dict[str, Any]:
    """The document as `GET /schema/openapi.json` serves it."""
    return finish(app.plugins.get(OpenAPIPlugin).provide_openapi_schema())

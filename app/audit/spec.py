"""What a PHI route declares for the audit trail: `opt=audit("patient", "create", "response:id")`.

`resource_id` names where the record's id comes from:

* `path:<param>` — a path parameter (`path:proof_id`);
* `response:<field>[.<field>…]` — a field of the JSON response (`response:appointment.id`);
* `response:<list>[].<field>` — every item of a list in the response, comma-separated
  (`response:appointments[].id`: a list call records the ids it returned);
* `attempt:proof` — the identity proof of the widget caller's attempt;
* None — no id (the record is known only from the account).

`action_if_200` overrides `action` when the handler answered 200 (the attempt patient call:
201 created a patient, 200 matched an existing one and may have filled in its contacts).
"""

from __future__ import annotations

from typing import Any

import msgspec

ACTIONS = ("read", "create", "update")
OUTCOMES = ("success", "denied", "error")
_SOURCES = ("path:", "response:", "attempt:proof")


class AuditSpec(msgspec.Struct, frozen=True):
    resource_type: str
    action: str
    resource_id: str | None = None
    action_if_200: str | None = None


def audit(
    resource_type: str,
    action: str,
    resource_id: str | None = None,
    *,
    action_if_200: str | None = None,
) -> dict[str, Any]:
    """Route handler `opt` marking a route that reads or writes PHI: every call to it writes
    exactly one audit_log row (app.audit.middleware)."""
    for value in (action, action_if_200):
        if value is not None and value not in ACTIONS:
            raise ValueError(f"audit action must be one of {ACTIONS}, not {value!r}")
    if resource_id is not None and not resource_id.startswith(_SOURCES):
        raise ValueError(f"unknown audit resource id source {resource_id!r}")
    return {"audit": AuditSpec(resource_type, action, resource_id, action_if_200)}


def outcome(status: int) -> str:
    if status < 400:
        return "success"
    if status in (401, 403):
        return "denied"
    return "error"


def resource_id_from_response(body: Any, path: str) -> str | None:
    """The id(s) at `path` (`a.b`, or `list[].field`) in a decoded JSON body."""
    if "[]." in path:
        list_name, _, field = path.partition("[].")
        items = _dig(body, list_name)
        if not isinstance(items, list):
            return None
        ids = [str(v) for item in items if (v := _dig(item, field)) is not None]
        return ",".join(ids) or None
    value = _dig(body, path)
    return None if value is None or isinstance(value, dict | list) else str(value)


def _dig(value: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value

"""What a setting or scheduler config body must satisfy beyond its types.

Every failure is a 400 `validation_failed` whose `errors` name each offending field
(`rules[0].end`, `widget.allowedOrigins[1]`, ...) without echoing the submitted value.
All problems of one body are reported together.

Setting rules
-------------
* Enums (`verificationMethod`, `*BookingLimitUnit`) are matched case-insensitively and stored
  upper-case. `allowedPhoneCountries` are ISO alpha-2 regions, stored upper-case, de-duplicated;
  a setting whose method uses SMS needs at least one.
* `locationIds`, `appointmentTypeIds`, `practitionerIds` and the fixed ids must exist in the
  same account (400 naming the field: they are body values, not path ids). Lists are
  de-duplicated, first occurrence wins.
* Fixed vs selectable (our decision, the contract is silent). A fixed location is the one the
  patient books at, so it is never also chosen by the patient:

  - `fixedLocationId` must be one of `locationIds`;
  - a fixed location implies `locationSelectable=false`: a request that sets a fixed id without
    mentioning `locationSelectable` turns it off, one that turns `locationSelectable` on without
    mentioning `fixedLocationId` clears it; saying both (fixed id + selectable true) is a 400;
  - `locationSelectable=false` with several `locationIds` needs `fixedLocationId` (which one
    would the patient get?); with one location that location is implied;
  - a selectable list must be visible (`locationSelectable=true` with `locationVisible=false`
    is a 400): the patient cannot pick from a list they cannot see.

  The same holds for appointment types. Practitioners have no fixed id.
* `widget.allowedOrigins` are browser origins `http(s)://host[:port]`, no path, query, fragment,
  user info or wildcard; stored lower-case, default port dropped, a lone trailing `/` dropped,
  so they compare equal to an `Origin` header. In production only `https://` origins: a page
  served over plain HTTP can be rewritten by anyone on its network, who could then frame the
  widget. `widget.theme.logoUrl` must be https.

Scheduler config rules
----------------------
* Times are `HH:MM` from 00:00 to 23:59; a window must end after it starts.
* Rules of one weekday may touch (09:00-12:00, 12:00-17:00) but not overlap; the same for the
  windows of one override.
* One override per date; an override is either `unavailable: true` or has windows, not both
  and not neither.
* Blocks are instants with an offset (naive ones are refused by the schema) between the years
  1900 and 2199; end after start.
* `practitionerId`, `locationId` and `appointmentTypeIds` must exist in the account and be
  among the setting's `practitionerIds` / `locationIds` / `appointmentTypeIds`.
* Stored in a canonical order: rules by weekday and start, overrides by date, blocks by start.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import msgspec
from phonenumbers import SUPPORTED_REGIONS

from app.core.errors import Problem, invalid
from app.core.instants import OUT_OF_RANGE, in_range
from app.practice import store as practice
from app.selfscheduling import schemas as s
from app.selfscheduling import store

VERIFICATION_METHODS = ("EMAIL", "SMS", "EMAIL_AND_SMS")
LIMIT_UNITS = ("HOURS", "DAYS", "WEEKS", "MONTHS")

_WALL_TIME = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
_HOST_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST = re.compile(rf"^{_HOST_LABEL}(?:\.{_HOST_LABEL})*$")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_URL_FORBIDDEN = re.compile(r"[\s\"'<>\\`{}|^]")


class Errors:
    """Collects field errors and raises them as one 400 `validation_failed`."""

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, field: str, message: str) -> None:
        self.items.append({"field": field, "message": message})

    def raise_if_any(self) -> None:
        if self.items:
            problem = invalid(self.items[0]["field"], self.items[0]["message"])
            problem.extra["errors"] = list(self.items)
            raise problem


def _camel(column: str) -> str:
    head, *rest = column.split("_")
    return head + "".join(part.title() for part in rest)


def _dedupe(values: Sequence[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


# ------------------------------------------------------------------ settings

# Fields whose values are not simply copied into a column.
_SETTING_SPECIAL = {
    "widget",
    "verification_method",
    "allowed_phone_countries",
    "reminders",
    "waitlist",
}
_UNITS = ("forward_booking_limit_unit", "afterward_booking_limit_unit")
_ID_LISTS = {
    "location_ids": practice.locations,
    "appointment_type_ids": practice.appointment_types,
    "practitioner_ids": practice.practitioners,
}
_FIXED = {
    "fixed_location_id": practice.locations,
    "fixed_appointment_type_id": practice.appointment_types,
}
# (list column, fixed column, selectable column, visible column)
_CHOICES = (
    ("location_ids", "fixed_location_id", "location_selectable", "location_visible"),
    (
        "appointment_type_ids",
        "fixed_appointment_type_id",
        "appointment_type_selectable",
        "appointment_type_visible",
    ),
)

# The state a new setting starts from (the columns' defaults), before its body is applied.
NEW_SETTING: dict[str, Any] = {
    "location_ids": [],
    "location_selectable": True,
    "location_visible": True,
    "fixed_location_id": None,
    "appointment_type_ids": [],
    "appointment_type_selectable": True,
    "appointment_type_visible": True,
    "fixed_appointment_type_id": None,
    "practitioner_ids": [],
    "verification_method": None,
    "allowed_phone_countries": ["US", "CA"],
}


def setting_changes(
    data: s.SettingIn | s.SettingPatch, *, https_only: bool = False
) -> dict[str, Any]:
    """The body as column values, normalised (enums upper-case, origins canonical, theme as a
    JSON object); `https_only` (production) refuses `http://` origins. Id lists keep their
    submitted order and duplicates until `check_setting_references` has reported unknown ids
    by index."""
    errors = Errors()
    fields = {
        f: value for f in data.__struct_fields__ if (value := getattr(data, f)) is not msgspec.UNSET
    }
    changes = {f: v for f, v in fields.items() if f not in _SETTING_SPECIAL}

    if "verification_method" in fields:
        method = fields["verification_method"]
        if method is not None:
            method = method.upper()
            if method not in VERIFICATION_METHODS:
                errors.add("verificationMethod", "must be EMAIL, SMS, EMAIL_AND_SMS or null")
        changes["verification_method"] = method
    for unit_field in _UNITS:
        if unit_field in changes:
            unit = changes[unit_field].upper()
            if unit not in LIMIT_UNITS:
                errors.add(_camel(unit_field), "must be HOURS, DAYS, WEEKS or MONTHS")
            changes[unit_field] = unit
    if "allowed_phone_countries" in fields:
        countries = [c.upper() for c in fields["allowed_phone_countries"]]
        for i, country in enumerate(countries):
            if country not in SUPPORTED_REGIONS:
                errors.add(f"allowedPhoneCountries[{i}]", "must be an ISO 3166-1 alpha-2 code")
        changes["allowed_phone_countries"] = _dedupe(countries)

    if fields.get("waitlist") is not None:
        changes["waitlist"] = msgspec.to_builtins(fields["waitlist"])
    if "reminders" in fields:
        seen: set[tuple[int, str]] = set()
        for i, reminder in enumerate(fields["reminders"]):
            key = (reminder.offset_minutes, reminder.channel)
            if key in seen:
                errors.add(f"reminders[{i}]", "repeats an earlier reminder's offset and channel")
            seen.add(key)
        changes["reminders"] = msgspec.to_builtins(
            sorted(fields["reminders"], key=lambda r: (r.offset_minutes, r.channel))
        )

    widget = fields.get("widget")
    if isinstance(data, s.SettingIn) and widget is None:
        widget = s.WidgetIn()
    if widget is not None:
        origins = getattr(widget, "allowed_origins", msgspec.UNSET)
        if origins is not msgspec.UNSET:
            canonical = []
            for i, raw in enumerate(origins):
                origin = canonical_origin(raw)
                if origin is None:
                    errors.add(
                        f"widget.allowedOrigins[{i}]",
                        "must be an origin such as https://clinic.example.com "
                        "(scheme, host and optional port; no path)",
                    )
                elif https_only and not origin.startswith("https://"):
                    errors.add(f"widget.allowedOrigins[{i}]", "must be https:// in production")
                canonical.append(origin)
            changes["allowed_origins"] = _dedupe(canonical)
        theme = getattr(widget, "theme", msgspec.UNSET)
        if theme is not msgspec.UNSET:
            if theme is not None and theme.logo_url is not None and not _https_url(theme.logo_url):
                errors.add("widget.theme.logoUrl", "must be an https URL")
            changes["theme"] = msgspec.to_builtins(theme) if theme is not None else {}
    errors.raise_if_any()
    return changes


def settle_setting(current: Mapping[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Apply the fixed/selectable implications to `changes` (in place) and check the merged
    setting is consistent; returns the merged state."""
    for _, fixed, selectable, _ in _CHOICES:
        if changes.get(fixed) is not None and selectable not in changes:
            changes[selectable] = False
        if changes.get(selectable) is True and fixed not in changes:
            changes[fixed] = None
    merged = {**current, **changes}
    errors = Errors()
    for ids, fixed, selectable, visible in _CHOICES:
        fixed_id = merged[fixed]
        if fixed_id is not None and fixed_id not in merged[ids]:
            errors.add(_camel(fixed), f"must be one of {_camel(ids)}")
        if fixed_id is not None and merged[selectable]:
            errors.add(_camel(selectable), f"must be false when {_camel(fixed)} is set")
        if fixed_id is None and not merged[selectable] and len(set(merged[ids])) > 1:
            errors.add(
                _camel(fixed),
                f"is required when {_camel(selectable)} is false and {_camel(ids)} has "
                "more than one entry",
            )
        if merged[selectable] and not merged[visible]:
            errors.add(_camel(visible), f"must be true while {_camel(selectable)} is true")
    method = merged["verification_method"]
    if method in ("SMS", "EMAIL_AND_SMS") and not merged["allowed_phone_countries"]:
        errors.add("allowedPhoneCountries", "must not be empty when verification uses SMS")
    errors.raise_if_any()
    return merged


async def check_setting_references(
    conn: asyncpg.Connection, account_id: int, changes: dict[str, Any]
) -> None:
    """Every id the body names exists in this account (ids of other accounts read as
    unknown); then the id lists are de-duplicated in `changes`."""
    errors = Errors()
    for column, table in _ID_LISTS.items():
        if column not in changes:
            continue
        ids = changes[column]
        known = await table.existing_ids(conn, account_id, ids)
        for i, id_ in enumerate(ids):
            if id_ not in known:
                errors.add(f"{_camel(column)}[{i}]", f"no {table.noun} with this id in the account")
        changes[column] = _dedupe(ids)
    for column, table in _FIXED.items():
        id_ = changes.get(column)
        if id_ is not None and not await table.existing_ids(conn, account_id, [id_]):
            errors.add(_camel(column), f"no {table.noun} with this id in the account")
    errors.raise_if_any()


async def check_configs_still_fit(
    conn: asyncpg.Connection, account_id: int, setting_id: int, merged: Mapping[str, Any]
) -> None:
    """A setting may not drop a practitioner, location or appointment type that one of its
    scheduler configs still uses (409 `in_use`)."""
    clashes = await store.configs_outside(
        conn,
        account_id,
        setting_id,
        practitioner_ids=merged["practitioner_ids"],
        location_ids=merged["location_ids"],
        appointment_type_ids=merged["appointment_type_ids"],
    )
    if clashes:
        fields = ", ".join(_camel(c) for c in clashes)
        raise Problem(
            409,
            "in_use",
            f"A scheduler config of this setting still uses an id removed from {fields}; "
            "change or delete that config first.",
            fields=[_camel(c) for c in clashes],
        )


# ------------------------------------------------------------------ origins and URLs


def canonical_origin(raw: str) -> str | None:
    """`raw` as a serialised browser origin, or None when it is not one."""
    if not raw or _URL_FORBIDDEN.search(raw) or "*" in raw:
        return None
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or "?" in raw or "#" in raw or "@" in parts.netloc:
        return None
    if parts.path not in ("", "/") or parts.netloc.endswith(":"):
        return None
    host = (parts.hostname or "").lower()
    if parts.netloc.startswith("["):
        try:
            host = f"[{ipaddress.IPv6Address(host).compressed}]"
        except ValueError:
            return None
    elif not _HOST.match(host) or len(host) > 253:
        return None
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        if not 1 <= port <= 65535:
            return None
        return f"{scheme}://{host}:{port}"
    return f"{scheme}://{host}"


def _https_url(raw: str) -> bool:
    if _URL_FORBIDDEN.search(raw):
        return False
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return False
    return parts.scheme == "https" and bool(parts.hostname) and "@" not in parts.netloc


# ------------------------------------------------------------------ scheduler configs


def _minutes(raw: str) -> int | None:
    match = _WALL_TIME.match(raw)
    return int(match.group(1)) * 60 + int(match.group(2)) if match else None


def _check_window(errors: Errors, where: str, start: str, end: str) -> tuple[int, int] | None:
    """The window in minutes of the day, or None after reporting what is wrong with it."""
    lo, hi = _minutes(start), _minutes(end)
    message = "must be a time HH:MM between 00:00 and 23:59"
    if lo is None:
        errors.add(f"{where}.start", message)
    if hi is None:
        errors.add(f"{where}.end", message)
    if lo is None or hi is None:
        return None
    if hi <= lo:
        errors.add(
            f"{where}.end", "must be later than start (a window cannot end before it starts)"
        )
        return None
    return lo, hi


def _check_overlaps(errors: Errors, spans: list[tuple[int, int, str]], scope: str) -> None:
    """`spans` = (start, end, field) of one day; touching is fine, overlapping is not."""
    reach, reach_field = -1, ""
    for start, end, field in sorted(spans):
        if start < reach:
            errors.add(field, f"overlaps {reach_field} {scope}")
        if end > reach:
            reach, reach_field = end, field


def config_changes(data: s.SchedulerConfigIn | s.SchedulerConfigPatch) -> dict[str, Any]:
    """The body as column values; rules, overrides and blocks checked and put in canonical
    order (see the module docstring)."""
    errors = Errors()
    changes = {
        f: value for f in data.__struct_fields__ if (value := getattr(data, f)) is not msgspec.UNSET
    }
    if "rules" in changes:
        by_day: dict[int, list[tuple[int, int, str]]] = {}
        for i, rule in enumerate(changes["rules"]):
            span = _check_window(errors, f"rules[{i}]", rule.start, rule.end)
            if span:
                by_day.setdefault(rule.weekday, []).append((*span, f"rules[{i}]"))
        for spans in by_day.values():
            _check_overlaps(errors, spans, "on the same weekday")
        changes["rules"] = sorted(changes["rules"], key=lambda r: (r.weekday, r.start))

    if "overrides" in changes:
        first_seen: dict[Any, int] = {}
        for i, override in enumerate(changes["overrides"]):
            where = f"overrides[{i}]"
            if override.date in first_seen:
                errors.add(
                    f"{where}.date", f"repeats the date of overrides[{first_seen[override.date]}]"
                )
            else:
                first_seen[override.date] = i
            if override.unavailable and override.windows:
                errors.add(f"{where}.windows", "must be empty when unavailable is true")
            elif not override.unavailable and not override.windows:
                errors.add(where, "needs unavailable: true or at least one window")
            spans = []
            for j, window in enumerate(override.windows):
                span = _check_window(errors, f"{where}.windows[{j}]", window.start, window.end)
                if span:
                    spans.append((*span, f"{where}.windows[{j}]"))
            _check_overlaps(errors, spans, "on the same date")
            override.windows.sort(key=lambda w: w.start)
        changes["overrides"] = sorted(changes["overrides"], key=lambda o: o.date)

    if "blocks" in changes:
        for i, block in enumerate(changes["blocks"]):
            for edge in ("start", "end"):
                if not in_range(getattr(block, edge)):
                    errors.add(f"blocks[{i}].{edge}", OUT_OF_RANGE)
            if block.end <= block.start:
                errors.add(f"blocks[{i}].end", "must be later than start")
        changes["blocks"] = sorted(changes["blocks"], key=lambda b: (b.start, b.end))
    errors.raise_if_any()
    return changes


async def check_config_references(
    conn: asyncpg.Connection, account_id: int, setting: Mapping[str, Any], changes: dict[str, Any]
) -> None:
    """The practitioner, location and types exist in the account and belong to the setting."""
    errors = Errors()
    singles = (
        ("practitioner_id", practice.practitioners, "practitioner_ids"),
        ("location_id", practice.locations, "location_ids"),
    )
    for column, table, setting_column in singles:
        if column not in changes:
            continue
        if not await table.existing_ids(conn, account_id, [changes[column]]):
            errors.add(_camel(column), f"no {table.noun} with this id in the account")
        elif changes[column] not in setting[setting_column]:
            errors.add(_camel(column), f"is not one of the setting's {_camel(setting_column)}")
    if "appointment_type_ids" in changes:
        ids = changes["appointment_type_ids"]
        known = await practice.appointment_types.existing_ids(conn, account_id, ids)
        allowed = set(setting["appointment_type_ids"])
        for i, id_ in enumerate(ids):
            if id_ not in known:
                errors.add(
                    f"appointmentTypeIds[{i}]", "no appointment type with this id in the account"
                )
            elif id_ not in allowed:
                errors.add(
                    f"appointmentTypeIds[{i}]", "is not one of the setting's appointmentTypeIds"
                )
        changes["appointment_type_ids"] = _dedupe(ids)
    errors.raise_if_any()

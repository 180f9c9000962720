"""An appointment for the patient's calendar: an `.ics` file (RFC 5545) and add-to-Google /
add-to-Outlook links. Pure: no I/O. Nothing about the patient goes in, only the visit."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

import msgspec


class CalendarEvent(msgspec.Struct, frozen=True, kw_only=True):
    uid: str
    start: datetime
    end: datetime
    summary: str
    location: str
    description: str
    sequence: int = 0
    cancelled: bool = False


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _escape(text: str) -> str:
    text = text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return text.replace("\r\n", "\\n").replace("\n", "\\n")


def _fold(line: str) -> str:
    """Lines of at most 75 octets, continued with CRLF + space (never inside a character)."""
    out, size = [], 0
    for char in line:
        width = len(char.encode())
        if size + width > 75:
            out.append("\r\n ")
            size = 1
        out.append(char)
        size += width
    return "".join(out)


def ics(event: CalendarEvent, *, now: datetime) -> str:
    """A one-event calendar: PUBLISH to add or update it, CANCEL (same UID) to remove it."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//slotproof//appointment//EN",
        "CALSCALE:GREGORIAN",
        f"METHOD:{'CANCEL' if event.cancelled else 'PUBLISH'}",
        "BEGIN:VEVENT",
        f"UID:{_escape(event.uid)}",
        f"SEQUENCE:{event.sequence}",
        f"DTSTAMP:{_stamp(now)}",
        f"DTSTART:{_stamp(event.start)}",
        f"DTEND:{_stamp(event.end)}",
        f"SUMMARY:{_escape(event.summary)}",
        f"LOCATION:{_escape(event.location)}",
        f"DESCRIPTION:{_escape(event.description)}",
        f"STATUS:{'CANCELLED' if event.cancelled else 'CONFIRMED'}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "".join(_fold(line) + "\r\n" for line in lines)


def google_url(event: CalendarEvent) -> str:
    query = {
        "action": "TEMPLATE",
        "text": event.summary,
        "dates": f"{_stamp(event.start)}/{_stamp(event.end)}",
        "details": event.description,
        "location": event.location,
    }
    return "https://calendar.google.com/calendar/render?" + urlencode(query)


def outlook_url(event: CalendarEvent) -> str:
    iso = "%Y-%m-%dT%H:%M:%SZ"
    query = {
        "path": "/calendar/action/compose",
        "rru": "addevent",
        "subject": event.summary,
        "startdt": event.start.astimezone(UTC).strftime(iso),
        "enddt": event.end.astimezone(UTC).strftime(iso),
        "body": event.description,
        "location": event.location,
    }
    return "https://outlook.live.com/calendar/0/deeplink/compose?" + urlencode(query)

"""How messages write a time, a phone number and an address, per language. Pure: no I/O.

The table is small on purpose (English and Spanish, the widget's languages): the standard
library has no locale-independent month names, and a process-wide `setlocale` is not safe in
a server.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

WEEKDAYS: Final = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "es": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
}
MONTHS: Final = {
    "en": (
        "January", "February", "March", "April", "May", "June", "July", "August",
        "September", "October", "November", "December",
    ),
    "es": (
        "enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
        "septiembre", "octubre", "noviembre", "diciembre",
    ),
}  # fmt: skip


def zone_label(local: datetime) -> str:
    """'EST', 'PDT'; zones without a letter abbreviation ('-03') read 'UTC-03'."""
    name = local.tzname() or ""
    return name if name.isalpha() else f"UTC{name}" if name else "UTC"


def clock_time(local: datetime, lang: str) -> str:
    """'9:45 AM' (en) / '9:45 a. m.' (es): 12-hour, as US patients in either language read."""
    hour = local.hour % 12 or 12
    if lang == "es":
        return f"{hour}:{local.minute:02d} {'a. m.' if local.hour < 12 else 'p. m.'}"
    return f"{hour}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'}"


def long_date(local: datetime, lang: str) -> str:
    """'Wednesday, December 2, 2026' / 'miércoles, 2 de diciembre de 2026'."""
    weekday = WEEKDAYS[lang][local.weekday()]
    month = MONTHS[lang][local.month - 1]
    if lang == "es":
        return f"{weekday}, {local.day} de {month} de {local.year}"
    return f"{weekday}, {month} {local.day}, {local.year}"


def human_when(at: datetime, time_zone: str, lang: str) -> str:
    """'Wednesday, December 2, 2026 at 9:45 AM EST' in the location's zone (en), or
    'miércoles, 2 de diciembre de 2026 a las 9:45 a. m. EST' (es). `at` is timezone-aware."""
    lang = lang if lang in WEEKDAYS else "en"
    local = at.astimezone(ZoneInfo(time_zone))
    joiner = "a las" if lang == "es" else "at"
    return f"{long_date(local, lang)} {joiner} {clock_time(local, lang)} {zone_label(local)}"


_NANP = re.compile(r"^1?([2-9]\d{2})([2-9]\d{2})(\d{4})$")


def phone_display(raw: str | None) -> str | None:
    """'+12125550100', '212-555-0100' -> '(212) 555-0100'; other countries as given."""
    if not raw or not raw.strip():
        return None
    digits = re.sub(r"\D", "", raw)
    if (raw.strip().startswith("+") and not digits.startswith("1")) or not (
        match := _NANP.fullmatch(digits)
    ):
        return raw.strip()
    area, exchange, line = match.groups()
    return f"({area}) {exchange}-{line}"


def phone_uri(raw: str | None) -> str | None:
    """The `tel:` link for a phone: 'tel:+12125550100'; None when it has too few digits."""
    if not raw:
        return None
    digits = re.sub(r"\D", "", raw)
    if len(digits) < 7:
        return None
    if not raw.strip().startswith("+"):
        digits = f"1{digits}" if len(digits) == 10 else digits
    return f"tel:+{digits}"


def address_line(
    line1: str | None,
    line2: str | None,
    city: str | None,
    state: str | None,
    postal_code: str | None,
) -> str:
    """'100 Main Street, Brooklyn, NY 11201' (parts that are missing are left out)."""
    region = " ".join(p for p in (state, postal_code) if p)
    parts = [line1, line2, city, region]
    return ", ".join(p.strip() for p in parts if p and p.strip())

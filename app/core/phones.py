"""Phones on partner paths are digits, as Lobbie's examples are (stored as E.164)."""

from __future__ import annotations

import phonenumbers

_NANP = "+1"


def national_digits(e164: str | None) -> str | None:
    """`verifiedPhone`, `phone` echoes, a location's `phoneNumber`: 10 national digits for a
    North American number ("2025550123"), else country code + number."""
    if e164 is None:
        return None
    return e164[len(_NANP) :] if e164.startswith(_NANP) else e164.lstrip("+")


def mobile_digits(e164: str | None) -> str | None:
    """`mobilePhone`: the number with its country code ("12025550123")."""
    return e164.lstrip("+") if e164 is not None else None


def phone_digits(text: str | None) -> str | None:
    """A phone written any way (a location's `phone`) as `national_digits`; text that is no
    phone number keeps just its digits."""
    if not text:
        return None
    try:
        number = phonenumbers.parse(text, "US")
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_possible_number(number):
        return "".join(ch for ch in text if ch.isdigit()) or None
    national = str(number.national_number)
    return national if number.country_code == 1 else f"{number.country_code}{national}"

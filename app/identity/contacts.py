"""Parsing and normalising the contacts a code is sent to.

Phones (`phonenumbers`): a US 10-digit number (optionally formatted, optionally with a leading
1) or an E.164 number; the library must consider it a valid number of an allowed country
(US and CA by default; a self-scheduling setting may allow others), and a number the library
classifies as FIXED_LINE is refused because it cannot receive SMS. US and CA numbers are
FIXED_LINE_OR_MOBILE to the library (it cannot tell), so they pass. Stored and returned as
E.164.

Emails (`email-validator`, no DNS lookups): syntax checked, domain normalised to lowercase
(IDNA), local part kept as typed for delivery. Matching and rate limiting use the whole
address lowercased (`Contact.key`), so `Ann@X.org` and `ann@x.org` are one contact and case
games do not buy extra guesses or sends.

Error messages are fixed sentences: they never quote the input (no PHI in problem details).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import email_validator
import msgspec
import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from app.core.errors import invalid
from app.identity.policy import Channel

DEFAULT_REGION = "US"
DEFAULT_PHONE_COUNTRIES: tuple[str, ...] = ("US", "CA")
MAX_PHONE_LENGTH = 32
MAX_EMAIL_LENGTH = 254

# digits and the usual separators only: refuses vanity letters (1-800-FLOWERS) and extensions
_PHONE_CHARS = re.compile(r"^\+?[0-9 ().\-]+$")
_NOT_SMS_CAPABLE = {PhoneNumberType.FIXED_LINE}


class ContactError(ValueError):
    """The contact is not acceptable; `message` is safe to show (it never echoes the input)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class Contact(msgspec.Struct, frozen=True):
    channel: Channel
    value: str  # what messages are sent to and what responses show
    key: str  # what is hashed for limits and compared for matching


def normalize_phone(
    raw: str,
    *,
    allowed_countries: Iterable[str] = DEFAULT_PHONE_COUNTRIES,
    field: str = "phone",
) -> str:
    """E.164 form of an acceptable mobile-capable phone number, else ContactError."""
    text = raw.strip()
    if not text or len(text) > MAX_PHONE_LENGTH or not _PHONE_CHARS.match(text):
        raise ContactError(field, "must be a US 10-digit number or an E.164 number")
    try:
        number = phonenumbers.parse(text, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        raise ContactError(field, "must be a US 10-digit number or an E.164 number") from None
    if not phonenumbers.is_valid_number(number):
        raise ContactError(field, "is not a valid phone number")
    region = phonenumbers.region_code_for_number(number)
    if region not in {c.upper() for c in allowed_countries}:
        raise ContactError(field, "numbers from this country are not accepted")
    if phonenumbers.number_type(number) in _NOT_SMS_CAPABLE:
        raise ContactError(field, "must be a mobile number that can receive text messages")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def normalize_email(raw: str, *, field: str = "email") -> str:
    """The address with its domain normalised (lowercase, IDNA), else ContactError."""
    text = raw.strip()
    if not text or len(text) > MAX_EMAIL_LENGTH:
        raise ContactError(field, "must be an email address")
    try:
        result = email_validator.validate_email(text, check_deliverability=False)
    except email_validator.EmailNotValidError:
        raise ContactError(field, "must be an email address") from None
    return result.normalized


def email_key(email: str) -> str:
    return email.lower()


def phone_contact(
    raw: str, *, allowed_countries: Iterable[str] = DEFAULT_PHONE_COUNTRIES
) -> Contact:
    e164 = normalize_phone(raw, allowed_countries=allowed_countries)
    return Contact(Channel.SMS, e164, e164)


def email_contact(raw: str) -> Contact:
    email = normalize_email(raw)
    return Contact(Channel.EMAIL, email, email_key(email))


def contact_from(
    email: str | None,
    phone: str | None,
    allowed_countries: Iterable[str] = DEFAULT_PHONE_COUNTRIES,
) -> Contact:
    """The one contact of a send/verify body (exactly one of email / phone), else a 400."""
    if (email is None) == (phone is None):
        raise invalid("body", "exactly one of email or phone is required")
    try:
        if email is not None:
            return email_contact(email)
        return phone_contact(phone or "", allowed_countries=allowed_countries)
    except ContactError as error:
        raise invalid(error.field, error.message) from None

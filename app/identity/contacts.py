"""Parsing and normalising the contacts a code is sent to.

Phones (`phonenumbers`): a US 10-digit number (optionally formatted, optionally with a leading
1) or an E.164 number; the library must consider it a valid number (else 400
`validation_failed`) of an allowed country (US and CA by default; a self-scheduling setting may
allow others) that can receive a text at ordinary cost: only MOBILE numbers, and
FIXED_LINE_OR_MOBILE where the numbering plan cannot tell the two apart (the US, Canada and
other NANP countries). Premium-rate, toll-free, shared-cost, personal (follow-me), VoIP, UAN,
pager, voicemail and fixed-line numbers are refused, as are other countries: 400
`phone_not_allowed`. Those are what SMS pumping fraud texts to collect termination fees; a US
VoIP number the plan cannot tell from a mobile still passes. Stored and returned as E.164.

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

from app.core.errors import Problem, invalid
from app.identity.policy import Channel

DEFAULT_REGION = "US"
DEFAULT_PHONE_COUNTRIES: tuple[str, ...] = ("US", "CA")
MAX_PHONE_LENGTH = 32
MAX_EMAIL_LENGTH = 254

# digits and the usual separators only: refuses vanity letters (1-800-FLOWERS) and extensions
_PHONE_CHARS = re.compile(r"^\+?[0-9 ().\-]+$")
_SMS_CAPABLE = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}


class ContactError(ValueError):
    """The contact is not acceptable; `message` is safe to show (it never echoes the input)."""

    code = "validation_failed"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message

    def problem(self) -> Problem:
        """The 400 answer, naming the field."""
        if self.code == "validation_failed":
            return invalid(self.field, self.message)
        return Problem(
            400,
            self.code,
            "This phone number cannot receive verification texts.",
            errors=[{"field": self.field, "message": self.message}],
        )


class PhoneNotAllowed(ContactError):
    """A real number that may not receive our texts (its country or its type)."""

    code = "phone_not_allowed"


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
        raise PhoneNotAllowed(field, "numbers from this country are not accepted")
    if phonenumbers.number_type(number) not in _SMS_CAPABLE:
        raise PhoneNotAllowed(field, "must be a mobile number that can receive text messages")
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
        raise error.problem() from None

"""Request and response bodies of the identity-proof API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from app.core.schema import NO_NUL, Schema

Method = Annotated[str, msgspec.Meta(min_length=1, max_length=32, pattern=NO_NUL)]
Email = Annotated[str, msgspec.Meta(min_length=1, max_length=320, pattern=NO_NUL)]
Phone = Annotated[str, msgspec.Meta(min_length=1, max_length=40, pattern=NO_NUL)]
Code = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{6}$")]


class IdentityProofIn(Schema):
    verification_method: Method  # EMAIL | SMS | EMAIL_AND_SMS, any case


class Proof(Schema, omit_defaults=True):
    id: int
    verification_method: Literal["EMAIL", "SMS", "EMAIL_AND_SMS"]
    is_verified: bool
    missing_verifications: list[Literal["EMAIL", "SMS"]]
    created_at: datetime
    expires_at: datetime
    verified_email: str | None = None
    verified_phone: str | None = None


class CreatedProof(Proof, kw_only=True, omit_defaults=True):
    """The one response that carries the token."""

    token: str


class SendIn(Schema):
    """Exactly one of `email` / `phone`."""

    email: Email | None = None
    phone: Phone | None = None


class Sent(Schema):
    sent: bool


class VerifyIn(Schema):
    """`code` with exactly one of `email` / `phone` (the contact the code was sent to)."""

    code: Code
    email: Email | None = None
    phone: Phone | None = None


class Verified(Schema, omit_defaults=True):
    verified: bool
    verified_email: str | None = None
    verified_phone: str | None = None


class PatientMatch(Schema):
    patient_id: int

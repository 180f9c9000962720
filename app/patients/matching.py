"""Patient matching rules (pure): names compare case- and accent-insensitively."""

from __future__ import annotations

import unicodedata
from datetime import date

from app.core.errors import invalid

OLDEST_YEARS = 130


def fold_name(name: str) -> str:
    """'  José  DE la Cruz ' and 'jose de la cruz' fold to the same key."""
    decomposed = unicodedata.normalize("NFKD", name)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())


def same_person(first: str, last: str, candidate_first: str, candidate_last: str) -> bool:
    return fold_name(first) == fold_name(candidate_first) and fold_name(last) == fold_name(
        candidate_last
    )


def check_birth_date(dob: date, today: date) -> date:
    if dob >= today:
        raise invalid("dateOfBirth", "must be in the past")
    if today.year - dob.year > OLDEST_YEARS:
        raise invalid("dateOfBirth", f"is more than {OLDEST_YEARS} years ago")
    return dob


def check_name(value: str, field: str) -> str:
    cleaned = " ".join(value.split())
    if not cleaned:
        raise invalid(field, "must not be empty")
    return cleaned

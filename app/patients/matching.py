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


# Unicode categories a name never needs: controls, format characters (bidi overrides and
# isolates, zero-width spaces, invisible operators), surrogates, private use and unassigned.
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# ...except the zero-width (non-)joiner between two letters, which Persian, Indic and other
# scripts need to spell a name correctly
_JOINERS = frozenset({"\u200c", "\u200d"})


def _letter(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LM"


def check_name(value: str, field: str) -> str:
    """The name with its whitespace collapsed; 400 when empty or when it hides characters that
    could disguise it on a screen or in a record (bidi overrides, zero-width and control
    characters)."""
    cleaned = " ".join(value.split())
    if not cleaned:
        raise invalid(field, "must not be empty")
    for i, ch in enumerate(cleaned):
        if unicodedata.category(ch) not in _INVISIBLE:
            continue
        joining = (
            ch in _JOINERS
            and 0 < i < len(cleaned) - 1
            and _letter(cleaned[i - 1])
            and _letter(cleaned[i + 1])
        )
        if not joining:
            raise invalid(field, "must not contain control, bidirectional or invisible characters")
    return cleaned

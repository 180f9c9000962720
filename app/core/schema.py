"""Base Structs and shared field types for every request and response body."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any
from zoneinfo import available_timezones

import msgspec

from app.core.errors import invalid

UNSET = msgspec.UNSET
UnsetType = msgspec.UnsetType

# PostgreSQL text cannot hold NUL; refuse it here (400) rather than in the database (500).
NO_NUL = r"^[^\x00]*$"
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=NO_NUL)]
ShortText = Annotated[str, msgspec.Meta(max_length=200, pattern=NO_NUL)]
LongText = Annotated[str, msgspec.Meta(max_length=5000, pattern=NO_NUL)]
MAX_ID = 2**63 - 1  # bigint
Id = Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)]
IdList = Annotated[list[Id], msgspec.Meta(max_length=500)]


class Schema(msgspec.Struct, rename="camel", kw_only=True, omit_defaults=False):
    """Request/response body: camelCase on the wire."""


class Patch(msgspec.Struct, rename="camel", kw_only=True, omit_defaults=True):
    """Partial update: only the fields present in the body change."""

    def changes(self) -> dict[str, Any]:
        return {
            field: value
            for field in self.__struct_fields__
            if (value := getattr(self, field)) is not UNSET
        }


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def check_time_zone(name: str, field: str = "timeZone") -> str:
    if name not in _zones() or name.startswith(("posix/", "right/")):
        raise invalid(field, "must be an IANA time zone such as America/New_York")
    return name

"""Annotated parameter types shared by the controllers (Litestar 2.25+ explicit markers)."""

from __future__ import annotations

from typing import Annotated, TypeAlias

import asyncpg
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

DbPool: TypeAlias = NamedDependency[asyncpg.Pool]
PathId: TypeAlias = FromPath[int]
Cursor: TypeAlias = Annotated[str | None, QueryParameter(name="cursor", max_length=200)]
Limit: TypeAlias = Annotated[int, QueryParameter(name="limit", ge=1, le=100)]

__all__ = ["Cursor", "DbPool", "JSONBody", "Limit", "PathId"]

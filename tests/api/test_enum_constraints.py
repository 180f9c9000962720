"""A response enum that mirrors a database CHECK list is exactly that list, in the Struct and in
the served OpenAPI document, so the two cannot drift: a migration that lets a column hold a new
value (a new booking `source`, say) fails here until the declared enum has it too, and a value
declared but impossible to store fails as well. The CHECK is read back from `pg_constraint`,
as the migrated database has it, not from the migration files."""

from __future__ import annotations

import re
from typing import get_args

import pytest

from app.appointments.schemas import Source, Status
from app.attempts.schemas import AttemptSource, AttemptStatus, StepName
from app.patients.schemas import Gender
from app.selfscheduling.schemas import VerificationMethod
from app.waitlist.schemas import EntryKind, EntrySource, EntryStatus, OfferStatus

# (table, column) -> the Literal a response declares for it, and the OpenAPI schemas whose
# property (the column's camelCase name) carries that enum
MIRRORED = [
    ("appointments", "source", Source, ["LocationAppointment"]),
    ("appointments", "status", Status, ["LocationAppointment", "Appointment"]),
    ("self_scheduling_attempts", "source", AttemptSource, ["AnalyticsAttempt"]),
    ("self_scheduling_attempts", "status", AttemptStatus, ["Attempt", "AnalyticsAttempt"]),
    ("attempt_steps", "step", StepName, []),
    ("waitlist_entries", "source", EntrySource, ["Entry"]),
    ("waitlist_entries", "kind", EntryKind, ["Entry"]),
    ("waitlist_entries", "status", EntryStatus, ["Entry"]),
    ("waitlist_offers", "status", OfferStatus, []),
    ("patients", "gender", Gender, ["PatientRecord"]),
    ("identity_proofs", "verification_method", VerificationMethod, ["Proof"]),
]
_QUOTED = re.compile(r"'((?:[^']|'')*)'::text")


async def check_values(pool, table: str, column: str) -> set[str]:
    """The values the single-column CHECK constraint on `table.column` allows."""
    definitions = await pool.fetch(
        """
        SELECT pg_get_constraintdef(c.oid) AS definition
          FROM pg_constraint c
          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
         WHERE c.conrelid = $1::regclass AND c.contype = 'c'
           AND cardinality(c.conkey) = 1 AND a.attname = $2
        """,
        table,
        column,
    )
    assert len(definitions) == 1, (table, column, [d["definition"] for d in definitions])
    definition = definitions[0]["definition"]
    assert re.search(r"= ANY \(ARRAY\[", definition), f"not a list of values: {definition}"
    return {value.replace("''", "'") for value in _QUOTED.findall(definition)}


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def declared(document, schema: str, field: str) -> set[str]:
    prop = document["components"]["schemas"][schema]["properties"][field]
    options = [prop, *prop.get("oneOf", [])]
    return {v for option in options for v in option.get("enum", []) if v is not None}


@pytest.mark.parametrize(
    ("table", "column", "literal", "schemas"),
    MIRRORED,
    ids=[f"{table}.{column}" for table, column, _, _ in MIRRORED],
)
async def test_declared_enum_equals_the_check_constraint(
    pool, client, table, column, literal, schemas
):
    allowed = await check_values(pool, table, column)
    assert set(get_args(literal)) == allowed, f"{table}.{column}: Struct enum != CHECK"
    document = (await client.get("/schema/openapi.json")).json()
    for schema in schemas:
        assert declared(document, schema, camel(column)) == allowed, (schema, column)

"""The served OpenAPI document is the machine contract.

* It validates (openapi-spec-validator) and equals the committed snapshot
  `tests/contract/openapi.json`, so every contract change is deliberate. After changing a
  route or a body on purpose, regenerate the snapshot and commit it with the change:

      make openapi-snapshot

  (the same as `SLOTPROOF_UPDATE_OPENAPI_SNAPSHOT=1 .venv/bin/python -m pytest
  tests/contract/test_openapi_contract.py`), then read `git diff tests/contract/openapi.json`.
* Every operation has a unique operationId, a summary and a one-line description (give a new
  handler `description="…"`), Lobbie's operations carry Lobbie's ids, path parameters are
  camelCase, every partner/widget POST declares `Idempotency-Key`, schema names are unique and
  unmangled, and the enums partners switch on are declared, the problem `code` among them.
"""

from __future__ import annotations

import ast
import itertools
import json
import os
import re
from pathlib import Path
from typing import Any, get_args

import pytest
from openapi_spec_validator import validate

from app.appointments.schemas import Status
from app.attempts.schemas import AttemptStatus, StepName
from app.config import Settings
from app.core.contract import served_document
from app.core.errors import PROBLEM_CODES
from app.core.lobbie import LOBBIE_OPERATIONS
from app.main import create_app

SNAPSHOT = Path(__file__).with_name("openapi.json")
UPDATE = os.environ.get("SLOTPROOF_UPDATE_OPENAPI_SNAPSHOT") == "1"
APP_DIR = Path(__file__).resolve().parents[2] / "app"
METHODS = ("get", "put", "post", "delete", "patch")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    app = create_app(Settings(database_url="postgresql://unused/unused", secret_key="x" * 40))
    return json.loads(json.dumps(served_document(app)))


def operations(document):
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


def schema(document, name: str) -> dict[str, Any]:
    return document["components"]["schemas"][name]


async def test_the_served_document_is_the_one_checked(client, document):
    served = await client.get("/schema/openapi.json")
    assert served.status_code == 200 and served.json() == document


def test_the_document_validates(document):
    validate(document)  # raises on the first error


def test_the_document_matches_the_committed_snapshot(document):
    text = json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    if UPDATE:
        SNAPSHOT.write_text(text)
    assert SNAPSHOT.exists(), "no snapshot yet: run `make openapi-snapshot`"
    assert json.loads(SNAPSHOT.read_text()) == document, (
        "The served OpenAPI document changed. If the change is deliberate, run "
        "`make openapi-snapshot` and commit tests/contract/openapi.json with it."
    )


def test_every_operation_is_named_and_described(document):
    seen = []
    for method, path, operation in operations(document):
        where = f"{method.upper()} {path}"
        seen.append(operation.get("operationId"))
        assert operation.get("summary"), where
        description = operation.get("description", "")
        assert description.strip(), f"{where}: give its handler description='one line'"
    assert len(seen) == len(set(seen)), "operationIds must be unique"
    assert all(re.fullmatch(r"[a-z][A-Za-z0-9]*(_1)?", name) for name in seen), seen


# the conventional names of the health probes; every other id says what it does to what
PROBES = {"healthz", "readyz"}


def test_operation_ids_are_descriptive_and_distinct_in_every_sdk(document):
    """An SDK generated from the document names its methods after the operation ids: `add`,
    `remove` or `stats` say nothing next to sixty other methods. Every id has at least two
    words (a verb or area and its object: `createWaitlistEntry`, `reminderStats`), never the
    same word twice in a row (`widgetConfirmConfirmPage`), and stays distinct once a generator
    turns it into snake_case or drops its case."""
    seen = [op["operationId"] for _, _, op in operations(document)]
    for name in seen:
        words = re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", name.removesuffix("_1"))
        assert name in PROBES or len(words) >= 2, f"{name}: say what it acts on"
        assert all(a.lower() != b.lower() for a, b in itertools.pairwise(words)), name
    snake = [re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower() for name in seen]
    assert len(set(snake)) == len(seen), "operationIds collide in snake_case"
    assert len({name.lower() for name in seen}) == len(seen), "operationIds differ only in case"


def test_lobbie_operation_ids_and_camel_case_path_parameters(document):
    ids = {op["operationId"] for _, _, op in operations(document)}
    assert set(LOBBIE_OPERATIONS.values()) <= ids
    for method, path, operation in operations(document):
        assert "_" not in "".join(re.findall(r"\{([^}]+)\}", path)), path
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path":
                assert "_" not in parameter["name"], (method, path, parameter["name"])


def test_every_post_declares_idempotency_key(document):
    for method, path, operation in operations(document):
        # a link (manage, confirm, unsubscribe) has no caller to scope a key to
        authenticated = bool(operation.get("security"))
        if method == "post" and path.startswith(("/partner/v2/", "/widget/v1/")) and authenticated:
            names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "header"]
            assert "Idempotency-Key" in names, path


def test_schema_names_are_unique_and_unmangled(document):
    names = list(document["components"]["schemas"])
    assert all(re.fullmatch(r"[A-Z][A-Za-z0-9]*", name) for name in names), [
        n for n in names if not re.fullmatch(r"[A-Z][A-Za-z0-9]*", n)
    ]
    refs = re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(document))
    assert set(refs) <= set(names)


def test_response_enums_are_declared(document):
    def enum(name, field):
        prop = schema(document, name)["properties"][field]
        return set(prop.get("enum") or prop.get("items", {}).get("enum") or [])

    assert enum("Attempt", "status") == set(get_args(AttemptStatus))
    assert enum("AttemptStep", "step") == set(get_args(StepName))
    assert enum("WidgetAttempt", "status") == set(get_args(AttemptStatus))
    assert enum("Appointment", "status") == set(get_args(Status))
    assert enum("LocationAppointment", "status") == set(get_args(Status))
    assert enum("Proof", "verificationMethod") == {"EMAIL", "SMS", "EMAIL_AND_SMS"}
    assert enum("Proof", "missingVerifications") == {"EMAIL", "SMS"}
    assert enum("ProblemDetails", "code") == set(PROBLEM_CODES)


def test_the_funnel_range_is_required(document):
    for path in ("/self-scheduling/funnel", "/self-scheduling/funnel.svg"):
        (operation,) = [op for m, p, op in operations(document) if m == "get" and p.endswith(path)]
        required = {p["name"] for p in operation["parameters"] if p.get("required")}
        assert {"from", "to"} <= required, path


def _codes_in_app() -> dict[str, str]:
    """Codes passed to Problem(...)/problem_response(...)/Refusal(...) (2nd argument or
    `code=`), or as the `code` of a dict literal that also has a `detail` (a problem body)
    anywhere in app/."""
    found: dict[str, str] = {}
    for file in APP_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(file.read_text())):
            values = []
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name in ("Problem", "problem_response", "Refusal"):
                    values += node.args[1:2]
                    values += [kw.value for kw in node.keywords if kw.arg == "code"]
            elif isinstance(node, ast.Dict):
                entries = {k.value: v for k, v in zip(node.keys, node.values, strict=True)
                           if isinstance(k, ast.Constant)}  # fmt: skip
                if "code" in entries and "detail" in entries:
                    values.append(entries["code"])
            for value in values:
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    found.setdefault(value.value, str(file.relative_to(APP_DIR.parent)))
    return found


def test_every_problem_code_is_declared():
    missing = {c: f for c, f in _codes_in_app().items() if c not in PROBLEM_CODES}
    assert not missing, f"add these codes to app/core/errors.py PROBLEM_CODES: {missing}"


async def test_a_missing_query_parameter_is_named(partner):
    r = await partner.get("/self-scheduling/availability", params={"startUnix": 0})
    assert r.status_code == 400
    assert r.json()["errors"][0]["field"] in {
        "selfSchedulingSettingId", "endUnix", "locationId", "appointmentTypeId",
    }  # fmt: skip
    r = await partner.get("/self-scheduling/funnel", params={"from": "2026-03-01"})
    assert r.status_code == 400 and r.json()["errors"] == [
        {"field": "to", "message": "is required (query parameter)"}
    ]

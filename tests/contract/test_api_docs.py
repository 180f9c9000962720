"""docs/api.md (the human contract) lists exactly the operations of the served OpenAPI
document, each with its operationId; docs/lobbie.md covers every Lobbie operation. A route
added or removed without its row fails here: add or remove the row in docs/api.md's tables
(`| \\`METHOD /full/path\\` | \\`operationId\\` | one line |`)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from app.core.lobbie import LOBBIE_OPERATIONS

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = Path(__file__).with_name("openapi.json")
ROW = re.compile(r"^\| `(GET|POST|PUT|DELETE|PATCH) (/[^`]*)` \| `([A-Za-z0-9_]+)` \|", re.M)


def documented() -> dict[tuple[str, str], str]:
    """(METHOD, path) -> operationId of the served document (its committed snapshot, which
    test_openapi_contract.py keeps equal to what is served)."""
    document = json.loads(SNAPSHOT.read_text())
    return {
        (method.upper(), path): operation["operationId"]
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in ("get", "put", "post", "delete", "patch")
    }


def test_api_md_lists_every_operation_and_nothing_else():
    rows = ROW.findall((ROOT / "docs" / "api.md").read_text())
    listed = {(method, path): op for method, path, op in rows}
    assert len(listed) == len(rows), "an operation is listed twice in docs/api.md"
    served = documented()
    assert sorted(set(served) - set(listed)) == [], "operations missing from docs/api.md"
    assert sorted(set(listed) - set(served)) == [], "docs/api.md lists operations that do not exist"
    wrong = {key: (listed[key], served[key]) for key in served if listed[key] != served[key]}
    assert wrong == {}, "operationIds in docs/api.md differ from the document"


def test_lobbie_md_covers_every_lobbie_operation():
    text = (ROOT / "docs" / "lobbie.md").read_text()
    missing = [name for name in LOBBIE_OPERATIONS.values() if f"`{name}`" not in text]
    assert missing == []


def test_readme_and_docs_link_only_inside_the_repository():
    for file in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)\s]+)\)", file.read_text()):
            if target.startswith(("http://", "https://", "#", "mailto:")):
                continue
            resolved = (file.parent / target.split("#")[0]).resolve()
            assert resolved.is_relative_to(ROOT), (file.name, target)
            assert resolved.exists(), (file.name, target)

"""Helpers for the FHIR facade tests: an EHR's calls, and validation with fhir.resources."""

from __future__ import annotations

import json
from typing import Any

import httpx
from fhir.resources.R4B import get_fhir_model_class

from tests.support import Partner

FHIR_JSON = "application/fhir+json"


def fhir_url(p: Partner, path: str) -> str:
    return f"/fhir/r4/account/{p.account_id}{path}"


def valid(body: dict[str, Any]) -> dict[str, Any]:
    """The resource validates against FHIR R4 (fhir.resources' R4B models); returned as is."""
    get_fhir_model_class(body["resourceType"]).model_validate(body)
    return body


async def fhir_get(p: Partner, path: str, **kw: Any) -> httpx.Response:
    response = await p.http.get(fhir_url(p, path), headers=p.headers(**kw.pop("headers", {})), **kw)
    assert response.headers["content-type"].startswith(FHIR_JSON), response.text
    valid(response.json())
    return response


def parameters(*items: tuple[str, str, Any]) -> dict[str, Any]:
    """`("start", "valueDateTime", "2026-…")`, `("appointment-resource", "resource", {...})`."""
    return {
        "resourceType": "Parameters",
        "parameter": [{"name": name, kind: value} for name, kind, value in items],
    }


async def operation(
    p: Partner, name: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> httpx.Response:
    response = await p.http.post(
        fhir_url(p, f"/Appointment/${name}"),
        content=json.dumps(body),
        headers=p.headers(**{"Content-Type": FHIR_JSON, **(headers or {})}),
    )
    assert response.headers["content-type"].startswith(FHIR_JSON), response.text
    valid(response.json())
    return response


def issue_code(response: httpx.Response) -> str:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    return body["issue"][0]["details"]["coding"][0]["code"]


def entries(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    assert bundle["resourceType"] == "Bundle", bundle
    return [e["resource"] for e in bundle.get("entry", [])]

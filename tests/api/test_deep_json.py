"""Finding (LOW): 50,000-deep nested JSON answered 500 on `send-code` without credentials.
Every JSON-taking route answers such a body with a 4xx, authenticated or not."""

from __future__ import annotations

import pytest

from tests.support import Partner, problem_code

DEEP_ARRAY = b"[" * 50_000 + b"]" * 50_000
DEEP_OBJECT = b'{"a":' * 50_000 + b"1" + b"}" * 50_000


@pytest.mark.parametrize("body", [DEEP_ARRAY, DEEP_OBJECT], ids=["array", "object"])
async def test_deeply_nested_json_is_a_4xx_everywhere(client, partner: Partner, body: bytes):
    json = {"Content-Type": "application/json"}
    bearer = {**json, "Authorization": f"Bearer {partner.token}"}
    calls = [
        ("/widget/v1/attempt/send-code", json),
        ("/widget/v1/attempt/send-code", {**json, "X-Widget-Key": "pk_unknown"}),
        ("/widget/v1/attempt/send-code", {**json, "Idempotency-Key": "deep-1"}),
        ("/widget/v1/manage/mg_nothing/reschedule", json),
        (f"/partner/v2/account/{partner.account_id}/identity-proof", bearer),
        (
            f"/partner/v2/account/{partner.account_id}/identity-proof",
            {**bearer, "Idempotency-Key": "deep-2"},
        ),
        (f"/partner/v2/account/{partner.account_id}/location", bearer),
        (f"/partner/v2/account/{partner.account_id}/location", json),
        (f"/fhir/r4/account/{partner.account_id}/Appointment/$find", bearer),
        (f"/fhir/r4/account/{partner.account_id}/Appointment/$book", json),
    ]
    for path, headers in calls:
        r = await client.post(path, content=body, headers=headers)
        assert 400 <= r.status_code < 500, (path, r.status_code, r.text[:200])
        if path.startswith("/fhir/"):  # errors as OperationOutcomes there
            assert r.json()["resourceType"] == "OperationOutcome"
        else:
            assert problem_code(r)

"""app.webhooks.signing against the Standard Webhooks reference implementation, plus the
sealed storage of secrets and the body encoding."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.webhooks import signing, vault
from app.webhooks.dispatcher import encode_body

# the published Standard Webhooks / Svix example
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

SERVER_KEY = "unit-test-server-key-0123456789abcdef"


def test_the_published_example_signs_to_the_published_signature():
    assert signing.sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == (
        VECTOR_SIGNATURE
    )
    reference = Webhook(VECTOR_SECRET).sign(
        VECTOR_ID, datetime.fromtimestamp(VECTOR_TIMESTAMP, tz=UTC), VECTOR_BODY.decode()
    )
    assert reference == VECTOR_SIGNATURE


def test_generated_secrets_are_24_random_bytes_behind_whsec():
    secrets = {signing.generate_secret() for _ in range(50)}
    assert len(secrets) == 50
    for secret in secrets:
        assert secret.startswith("whsec_")
        assert len(signing.secret_key(secret)) == 24
        assert base64.b64encode(signing.secret_key(secret)).decode() == secret[6:]


def test_the_reference_library_verifies_our_headers():
    secret = signing.generate_secret()
    body = encode_body(
        "appointment.created",
        datetime(2026, 3, 9, 13, 0, tzinfo=UTC),
        {"appointmentId": 41, "locationId": 3},
    )
    now = int(time.time())
    headers = signing.headers(secret, signing.message_id(987), now, body)
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert headers["webhook-id"] == "msg_987"
    assert headers["webhook-timestamp"] == str(now)
    assert Webhook(secret).verify(body, headers) == {
        "type": "appointment.created",
        "timestamp": "2026-03-09T13:00:00Z",
        "data": {"appointmentId": 41, "locationId": 3},
    }
    # header names are case-insensitive for the receiver
    Webhook(secret).verify(body, {k.title(): v for k, v in headers.items()})

    for tampered_body, tampered_headers, secret_used in (
        (body + b" ", headers, secret),
        (body, {**headers, "webhook-id": "msg_988"}, secret),
        (body, {**headers, "webhook-timestamp": str(now + 1)}, secret),
        (body, headers, signing.generate_secret()),
    ):
        with pytest.raises(WebhookVerificationError):
            Webhook(secret_used).verify(tampered_body, tampered_headers)


def test_the_reference_library_refuses_a_stale_timestamp():
    secret = signing.generate_secret()
    stale = int(time.time()) - 600
    headers = signing.headers(secret, "msg_1", stale, b"{}")
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(b"{}", headers)
    assert signing.verify(secret, headers, b"{}", now=stale + 299)
    assert not signing.verify(secret, headers, b"{}", now=stale + 301)


def test_our_verify_matches_the_reference_on_the_example():
    headers = {
        "Webhook-Id": VECTOR_ID,
        "Webhook-Timestamp": str(VECTOR_TIMESTAMP),
        "Webhook-Signature": f"v2,abc {VECTOR_SIGNATURE}",  # several signatures, any matching
    }
    assert signing.verify(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_TIMESTAMP)
    assert not signing.verify(VECTOR_SECRET, headers, VECTOR_BODY + b"x", now=VECTOR_TIMESTAMP)
    assert not signing.verify(
        VECTOR_SECRET, {**headers, "Webhook-Signature": "v2,abc"}, VECTOR_BODY, now=VECTOR_TIMESTAMP
    )
    assert not signing.verify(
        VECTOR_SECRET, {**headers, "Webhook-Timestamp": "soon"}, VECTOR_BODY, now=VECTOR_TIMESTAMP
    )
    assert not signing.verify(VECTOR_SECRET, {}, VECTOR_BODY, now=VECTOR_TIMESTAMP)


@pytest.mark.parametrize("bad", ["", "whsec_", "sk_abc", "whsec_!!!!", "MfKQ9r8GKYqrTwjU"])
def test_malformed_secrets_are_refused(bad):
    with pytest.raises(signing.InvalidSecret):
        signing.secret_key(bad)


def test_body_is_type_timestamp_data_in_that_order_compact_utf8():
    at = datetime(2026, 3, 9, 9, 0, 0, 123456, tzinfo=UTC) + timedelta(0)
    body = encode_body("attempt.verified", at, {"attemptId": 5, "note": "café"})
    assert body == (
        b'{"type":"attempt.verified","timestamp":"2026-03-09T09:00:00.123456Z",'
        b'"data":{"attemptId":5,"note":"caf\xc3\xa9"}}'
    )


def test_sealed_secrets_open_only_with_the_same_key_and_account():
    secret = signing.generate_secret()
    sealed = vault.seal(SERVER_KEY, 7, secret)
    assert sealed.startswith("v1:")
    assert secret[6:] not in sealed and secret not in sealed
    assert vault.seal(SERVER_KEY, 7, secret) != sealed  # a fresh nonce each time
    assert vault.unseal(SERVER_KEY, 7, sealed) == secret
    for key, account, stored in (
        ("another-server-key-0123456789abcdef", 7, sealed),
        (SERVER_KEY, 8, sealed),
        (SERVER_KEY, 7, sealed[:-4] + "AAAA"),
        (SERVER_KEY, 7, "v2:" + sealed[3:]),
        (SERVER_KEY, 7, "v1:not base64!"),
    ):
        with pytest.raises(vault.SealError):
            vault.unseal(key, account, stored)

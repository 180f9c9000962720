"""Access tokens (app/partners/tokens.py): every call verifies its token afresh (no memo)."""

import pytest

from app.partners import tokens

SECRET, ISSUER = "s" * 40, "https://slotproof.example"


def test_a_token_verifies_to_its_client_and_scopes():
    token = tokens.mint(SECRET, ISSUER, "cli_a", ["scheduling"], ttl=60)
    claims = tokens.verify(SECRET, ISSUER, token)
    assert claims.client_id == "cli_a" and claims.scopes == {"scheduling"}


def test_an_expired_token_is_refused():
    token = tokens.mint(SECRET, ISSUER, "cli_a", ["scheduling"], ttl=-1)
    with pytest.raises(tokens.InvalidToken):
        tokens.verify(SECRET, ISSUER, token)


def test_another_key_issuer_or_a_tampered_token_is_refused():
    token = tokens.mint(SECRET, ISSUER, "cli_a", ["scheduling"], ttl=60)
    tokens.verify(SECRET, ISSUER, token)
    for secret, issuer, text in (
        ("t" * 40, ISSUER, token),
        (SECRET, "https://other.example", token),
        (SECRET, ISSUER, token[:-2] + ("AA" if not token.endswith("AA") else "BB")),
    ):
        with pytest.raises(tokens.InvalidToken):
            tokens.verify(secret, issuer, text)

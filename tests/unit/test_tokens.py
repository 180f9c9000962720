"""Access tokens (app/partners/tokens.py): verification, and the memo of verified tokens."""

import time

import pytest

from app.partners import tokens

SECRET, ISSUER = "s" * 40, "https://slotproof.example"


class Later:
    """Stands in for the `time` module inside tokens: the clock `seconds` from now."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def time(self) -> float:
        return time.time() + self.seconds


def test_a_verified_token_is_remembered_until_it_expires(monkeypatch):
    token = tokens.mint(SECRET, ISSUER, "cli_a", ["scheduling"], ttl=60)
    first = tokens.verify(SECRET, ISSUER, token)
    assert first.client_id == "cli_a" and first.scopes == {"scheduling"}
    assert tokens.verify(SECRET, ISSUER, token) is first  # from the memo
    monkeypatch.setattr(tokens, "time", Later(61))
    with pytest.raises(tokens.InvalidToken):
        tokens.verify(SECRET, ISSUER, token)
    assert (SECRET, ISSUER, token) not in tokens._VERIFIED


def test_the_memo_never_vouches_for_another_key_issuer_or_a_tampered_token():
    token = tokens.mint(SECRET, ISSUER, "cli_a", ["scheduling"], ttl=60)
    tokens.verify(SECRET, ISSUER, token)
    for secret, issuer, text in (
        ("t" * 40, ISSUER, token),
        (SECRET, "https://other.example", token),
        (SECRET, ISSUER, token[:-2] + ("AA" if not token.endswith("AA") else "BB")),
    ):
        with pytest.raises(tokens.InvalidToken):
            tokens.verify(secret, issuer, text)


def test_the_memo_is_bounded(monkeypatch):
    monkeypatch.setattr(tokens, "_VERIFIED_LIMIT", 3)
    monkeypatch.setattr(tokens, "_VERIFIED", {})
    for i in range(7):
        tokens.verify(SECRET, ISSUER, tokens.mint(SECRET, ISSUER, f"cli_{i}", [], ttl=60))
        assert len(tokens._VERIFIED) <= 3

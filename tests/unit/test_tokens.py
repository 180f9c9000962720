"""Access tokens (app/partners/tokens.py): every call verifies its token afresh (no memo)."""

import time

import jwt
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


# PyJWT is the outside judge: what we mint is a standard HS256 JWT, and what PyJWT refuses we
# refuse too (verification is our own strict check, for speed)

KEY = tokens._key(SECRET)


def _pyjwt_token(claims: dict, *, headers: dict | None = None, key: bytes = KEY, alg="HS256"):
    base = {"iss": ISSUER, "aud": "slotproof-partner-api", "sub": "cli_a", "scope": "scheduling"}
    now = int(time.time())
    return jwt.encode({**base, "iat": now, "exp": now + 60, **claims}, key, alg, headers=headers)


def test_pyjwt_verifies_what_we_mint():
    token = tokens.mint(SECRET, ISSUER, "cli_a", ["scheduling", "config"], ttl=60)
    claims = jwt.decode(token, KEY, ["HS256"], audience="slotproof-partner-api", issuer=ISSUER)
    assert claims["sub"] == "cli_a" and claims["scope"] == "scheduling config"


def test_we_verify_a_standard_token_pyjwt_signed():
    claims = tokens.verify(SECRET, ISSUER, _pyjwt_token({"scope": "a b"}))
    assert claims.client_id == "cli_a" and claims.scopes == {"a", "b"}


@pytest.mark.parametrize(
    "token",
    [
        _pyjwt_token({}, alg="HS512", key=KEY * 2),  # another algorithm (our key, repeated)
        _pyjwt_token({}, headers={"kid": "x"}),  # another header than the one we mint
        _pyjwt_token({"aud": "someone-else"}),
        _pyjwt_token({"iat": int(time.time()) + 3600}),  # issued in the future
        _pyjwt_token({"exp": int(time.time())}),  # expires now: expired (RFC 7519 4.1.4)
        _pyjwt_token({"exp": "tomorrow"}),  # claims of the wrong type
        _pyjwt_token({"sub": 7}),
        _pyjwt_token({"scope": ["scheduling"]}),
    ],
    ids=["hs512", "kid", "aud", "future-iat", "exp-now", "exp-text", "sub-int", "scope-list"],
)
def test_tokens_that_are_not_exactly_ours_are_refused(token):
    with pytest.raises(tokens.InvalidToken):
        tokens.verify(SECRET, ISSUER, token)


def test_alg_none_padding_extra_segments_and_respellings_are_refused():
    token = tokens.mint(SECRET, ISSUER, "cli_a", ["scheduling"], ttl=60)
    header, payload, signature = token.split(".")
    unsigned = jwt.encode({"sub": "cli_a"}, None, algorithm="none")
    # the signature's last character carries 4 bits: the next character decodes to the same
    # bytes in lenient decoders, and must still be refused
    respelled = signature[:-1] + chr(ord(signature[-1]) + 1)
    for bad in (
        unsigned,
        f"{header}.{payload}.",
        f"{header}.{payload}.{signature}=",
        f"{header}.{payload}=.{signature}",
        f"{header}.{payload}.{signature}.x",
        f"{header}.{payload}.{respelled}",
        "x" * 5000,
        "",
        "é.é.é",
    ):
        with pytest.raises(tokens.InvalidToken):
            tokens.verify(SECRET, ISSUER, bad)
    assert tokens.verify(SECRET, ISSUER, token).client_id == "cli_a"

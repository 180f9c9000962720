"""Pure helpers in app.core: cursors, the rate limiter, secret hashing, Patch."""

from __future__ import annotations

import base64

import msgspec
import pytest

from app.core.errors import Problem
from app.core.pagination import check_limit, decode_cursor, encode_cursor, page
from app.core.schema import Patch, check_time_zone
from app.core.secrets import hash_secret, keyed_hash, random_token, verify_secret
from app.practice.schemas import LocationPatch, PractitionerPatch

# --- cursors --------------------------------------------------------------------------------


@pytest.mark.parametrize("last_id", [0, 1, 42, 10**12, 2**63 - 1])
def test_cursor_round_trip(last_id: int):
    cursor = encode_cursor(last_id)
    assert "=" not in cursor
    assert decode_cursor(cursor) == last_id


def test_no_cursor_is_the_first_page():
    assert decode_cursor(None) == 0
    assert decode_cursor("") == 0


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "!!!",
        "a",
        _b64("id:"),
        _b64("id:-1"),
        _b64("id:abc"),
        _b64("xx:5"),
        _b64("5"),
        _b64(f"id:{2**63}"),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_cursor_rejection(cursor: str):
    with pytest.raises(Problem) as info:
        decode_cursor(cursor)
    assert info.value.status == 400
    assert info.value.code == "validation_failed"
    assert info.value.extra["errors"][0]["field"] == "cursor"


def test_check_limit():
    assert check_limit(1) == 1
    assert check_limit(100) == 100
    for bad in (0, -1, 101):
        with pytest.raises(Problem) as info:
            check_limit(bad)
        assert info.value.extra["errors"][0]["field"] == "limit"


def test_page_cuts_at_limit_and_points_at_last_row():
    rows = [{"id": i} for i in (3, 5, 8)]
    got, cursor = page(rows, 2)
    assert got == [{"id": 3}, {"id": 5}]
    assert decode_cursor(cursor) == 5
    got, cursor = page(rows, 3)
    assert got == rows
    assert cursor is None
    assert page([], 5) == ([], None)


# --- secrets --------------------------------------------------------------------------------


def test_hash_and_verify_secret():
    stored = hash_secret("correct horse")
    assert stored.startswith("scrypt$")
    assert "correct horse" not in stored
    assert verify_secret("correct horse", stored) is True
    assert verify_secret("correct horsE", stored) is False
    assert verify_secret("", stored) is False
    # salted: the same secret hashes differently each time
    assert hash_secret("correct horse") != stored


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "garbage",
        "scrypt$",
        "scrypt$abc",
        "scrypt$a$b$c",
        "bcrypt$c2FsdA==$ZGlnZXN0",
        "scrypt$YQ$Y",  # bad base64 padding
        "scrypt$!!!$###",
        "scrypt$é$é",
    ],
)
def test_verify_secret_malformed_stored_is_false(stored: str):
    assert verify_secret("anything", stored) is False


def test_random_token_and_keyed_hash():
    token = random_token("sec_", 32)
    assert token.startswith("sec_")
    assert len(token) > 40
    assert random_token() != random_token()
    a = keyed_hash("k", "manage", "v")
    assert a == keyed_hash("k", "manage", "v")
    assert a != keyed_hash("k", "identity", "v")
    assert a != keyed_hash("k2", "manage", "v")
    assert len(a) == 64


# --- Patch ----------------------------------------------------------------------------------


def test_patch_changes_only_sent_fields():
    patch = msgspec.json.decode(b'{"name": "New", "storeId": null}', type=LocationPatch)
    assert patch.changes() == {"name": "New", "store_id": None}


def test_empty_patch_has_no_changes():
    assert msgspec.json.decode(b"{}", type=LocationPatch).changes() == {}
    assert PractitionerPatch().changes() == {}


def test_patch_keeps_false_and_zero():
    class Thing(Patch):
        flag: bool | msgspec.UnsetType = msgspec.UNSET
        count: int | msgspec.UnsetType = msgspec.UNSET
        label: str | msgspec.UnsetType | None = msgspec.UNSET

    assert Thing(flag=False, count=0).changes() == {"flag": False, "count": 0}
    decoded = msgspec.json.decode(b'{"label": null, "count": 3}', type=Thing)
    assert decoded.changes() == {"count": 3, "label": None}


def test_check_time_zone():
    assert check_time_zone("America/New_York") == "America/New_York"
    assert check_time_zone("UTC") == "UTC"
    for bad in ("Mars/Olympus", "", "posix/Europe/Paris", "right/UTC", "america/new_york"):
        with pytest.raises(Problem) as info:
            check_time_zone(bad)
        assert info.value.extra["errors"] == [
            {"field": "timeZone", "message": "must be an IANA time zone such as America/New_York"}
        ]
    with pytest.raises(Problem) as info:
        check_time_zone("Nope/Nope", field="zone")
    assert info.value.extra["errors"][0]["field"] == "zone"

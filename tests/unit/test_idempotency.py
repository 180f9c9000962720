import pytest

from app.core.idempotency import (
    applies,
    caller,
    canonical_body,
    endpoint,
    fingerprint,
    normalise_path,
    valid_key,
)
from app.core.principal import STATE_KEY, Credential, PartnerClient, Principal

SECRET = "unit-secret-key-0123456789abcdef0123456789"
PATH = "/partner/v2/account/1/location"


# --- fingerprint canonicalisation ---------------------------------------------------------


def test_json_whitespace_and_key_order_do_not_matter():
    a = b'{"name": "Main", "timeZone": "UTC", "address": {"city": "X", "line1": "1 St"}}'
    b = b'{\n  "timeZone":"UTC",\n  "address":{"line1":"1 St","city":"X"},"name":"Main"\n}\n'
    assert canonical_body(a) == canonical_body(b)
    assert fingerprint("POST", PATH, a) == fingerprint("POST", PATH, b)


def test_unicode_escapes_equal_their_characters():
    assert fingerprint("POST", PATH, b'{"n":"\\u00e9"}') == fingerprint(
        "POST", PATH, '{"n": "é"}'.encode()
    )


def test_different_values_or_array_order_differ():
    base = fingerprint("POST", PATH, b'{"a": 1, "b": [1, 2]}')
    assert fingerprint("POST", PATH, b'{"a": 2, "b": [1, 2]}') != base
    assert fingerprint("POST", PATH, b'{"a": 1, "b": [2, 1]}') != base
    assert fingerprint("POST", PATH, b'{"a": "1", "b": [1, 2]}') != base
    assert fingerprint("POST", PATH, b'{"a": 1, "b": [1, 2], "c": null}') != base


def test_method_path_and_query_are_part_of_the_fingerprint():
    body = b'{"a": 1}'
    base = fingerprint("POST", PATH, body)
    assert fingerprint("PUT", PATH, body) != base
    assert fingerprint("POST", PATH + "x", body) != base
    assert fingerprint("POST", PATH, body, b"x=1") != base
    assert fingerprint("POST", PATH, body) == base


def test_parts_cannot_be_shifted_between_fields():
    assert fingerprint("POST", "/a", b"b") != fingerprint("POST", "/ab", b"")


@pytest.mark.parametrize("raw", [b"", b"name=Main&tz=UTC", b"{not json", b"\xff\xfe", b'{"a":1'])
def test_non_json_bodies_are_hashed_raw(raw):
    assert canonical_body(raw) == raw
    assert len(fingerprint("POST", PATH, raw)) == 64


def test_non_json_body_whitespace_matters():
    assert fingerprint("POST", PATH, b"a=1&b=2") != fingerprint("POST", PATH, b"a=1& b=2")


def test_deeply_nested_json_does_not_raise():
    deep = b"[" * 100_000 + b"]" * 100_000
    assert canonical_body(deep) == deep


# --- keys, paths, callers -----------------------------------------------------------------


@pytest.mark.parametrize("key", [b"a", b"x" * 255, b"order 42/retry:1", b"~!@#$%^&*()"])
def test_valid_keys(key):
    assert valid_key(key)


@pytest.mark.parametrize("key", [b"", b"x" * 256, b"tab\tkey", b"caf\xc3\xa9", b"nul\x00", b"\x7f"])
def test_invalid_keys(key):
    assert not valid_key(key)


def test_only_partner_and_widget_posts_apply():
    assert applies("POST", PATH)
    assert applies("POST", "/widget/v1/attempt")
    assert not applies("GET", PATH)
    assert not applies("PUT", PATH)
    assert not applies("POST", "/oauth2/token")
    assert not applies("POST", "/callbacks/twilio/status")


def test_trailing_slash_is_the_same_path():
    assert normalise_path(PATH + "/") == PATH
    assert normalise_path("/") == "/"


def _scope(path: str, principal: Principal, account_id: int | None = 1) -> dict:
    params = {} if account_id is None else {"account_id": account_id}
    return {"path": path, "path_params": params, "state": {STATE_KEY: principal}}


def _partner(client_id: str, accounts=(1,), scopes=("x",), active=True) -> Principal:
    client = PartnerClient(client_id, active, frozenset(scopes), frozenset(accounts))
    return Principal(ip="198.51.100.1", bearer=Credential.VALID, partner=client)


def test_partner_caller_is_the_client_id():
    p1 = caller(_scope(PATH, _partner("client-a")), SECRET)
    assert p1 is not None
    assert caller(_scope(PATH, _partner("client-a", scopes=("y",))), SECRET) == p1
    assert caller(_scope(PATH, _partner("client-b")), SECRET) != p1


def test_partner_callers_not_allowed_the_route_have_no_caller():
    assert caller(_scope(PATH, Principal(ip="1.2.3.4")), SECRET) is None
    invalid = Principal(ip="1.2.3.4", bearer=Credential.INVALID)
    assert caller(_scope(PATH, invalid), SECRET) is None
    assert caller(_scope(PATH, _partner("c", active=False)), SECRET) is None
    assert caller(_scope(PATH, _partner("c", accounts=(2,))), SECRET) is None  # grant revoked


class _Attempt:
    def __init__(self, id_: int) -> None:
        self.id, self.account_id, self.setting_id, self.identity_proof_id = id_, 1, 7, None


def test_widget_callers_are_their_attempt_or_the_visitor():
    setting = {"id": 7, "account_id": 1}
    path = "/widget/v1/attempt/hold"

    def attempt(id_: int) -> Principal:
        return Principal(
            ip="1.2.3.4", bearer=Credential.VALID, setting=setting, attempt=_Attempt(id_)
        )

    a = caller(_scope(path, attempt(1), None), SECRET)
    b = caller(_scope(path, attempt(2), None), SECRET)
    visitor = Principal(ip="1.2.3.4", widget_key="pk_one", setting=setting)
    start = caller(_scope("/widget/v1/attempt", visitor, None), SECRET)
    elsewhere = Principal(ip="5.6.7.8", widget_key="pk_one", setting=setting)
    other_visitor = caller(_scope("/widget/v1/attempt", elsewhere, None), SECRET)
    assert None not in (a, b, start, other_visitor)
    assert len({a, b, start, other_visitor}) == 4
    bad_token = Principal(
        ip="1.2.3.4", bearer=Credential.INVALID, widget_key="pk_one", setting=setting
    )
    assert caller(_scope(path, bad_token, None), SECRET) is None
    assert caller(_scope(path, Principal(ip="1.2.3.4", widget_key="pk_x"), None), SECRET) is None


def test_endpoint_hash_hides_the_path():
    manage = "/widget/v1/manage/secret-manage-token/cancel"
    assert "secret-manage-token" not in endpoint("POST", manage, SECRET)
    assert endpoint("POST", manage, SECRET) != endpoint("POST", PATH, SECRET)


# --- the response recorder (no database) ---------------------------------------------------


class FakeClaim:
    def __init__(self, log: list) -> None:
        self.log = log

    async def store(self, status, headers, body):
        self.log.append(("store", status, headers, body))

    async def release(self):
        self.log.append(("release",))


def _recorder(log: list):
    from app.core.idempotency import _Recorder

    async def send(message):
        log.append(("send", message["type"], message.get("body")))

    return _Recorder(FakeClaim(log), send)


def _start(status: int) -> dict:
    headers = [
        (b"content-type", b"application/json"),
        (b"x-request-id", b"abc"),
        (b"Location", b"/x/1"),
        (b"content-length", b"4"),
    ]
    return {"type": "http.response.start", "status": status, "headers": headers}


async def test_recorder_stores_before_sending_and_keeps_only_replayable_headers():
    log: list = []
    rec = _recorder(log)
    await rec(_start(201))
    await rec({"type": "http.response.body", "body": b"ab", "more_body": True})
    assert log == []  # nothing leaves before the response is stored
    await rec({"type": "http.response.body", "body": b"cd", "more_body": False})
    assert log[0] == (
        "store",
        201,
        [(b"content-type", b"application/json"), (b"location", b"/x/1")],
        b"abcd",
    )
    assert log[1:] == [
        ("send", "http.response.start", None),
        ("send", "http.response.body", b"abcd"),
    ]
    assert rec.settled


@pytest.mark.parametrize("status", [500, 503, 401, 403, 429])
async def test_recorder_releases_what_it_does_not_store(status):
    log: list = []
    rec = _recorder(log)
    await rec(_start(status))
    await rec({"type": "http.response.body", "body": b"x", "more_body": False})
    assert log[0] == ("release",)
    assert [entry[0] for entry in log[1:]] == ["send", "send"]


async def test_recorder_streams_an_oversized_response_unstored(monkeypatch):
    from app.core import idempotency

    monkeypatch.setattr(idempotency, "MAX_STORED_RESPONSE", 4)
    log: list = []
    rec = _recorder(log)
    await rec(_start(200))
    await rec({"type": "http.response.body", "body": b"abc", "more_body": True})
    await rec({"type": "http.response.body", "body": b"def", "more_body": True})
    await rec({"type": "http.response.body", "body": b"g", "more_body": False})
    assert log == [
        ("release",),
        ("send", "http.response.start", None),
        ("send", "http.response.body", b"abcdef"),
        ("send", "http.response.body", b"g"),
    ]

"""Widget callers: the setting behind `X-Widget-Key`, and the attempt behind its bearer token,
as the request's principal has them (resolved once by app/authentication.py).

The publishable key is public (it sits in the practice's page); it only selects a setting.
The attempt token is secret, minted at POST /attempt, stored as a keyed hash, and binds every
later call to that one attempt of that setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from litestar.connection import ASGIConnection

from app.attempts import store as attempt_store
from app.core.crud import Row
from app.core.errors import Problem
from app.core.principal import Credential, principal_of
from app.core.secrets import keyed_hash

KEY_PREFIX = "pk_"
MAX_KEY_LENGTH = 100


def looks_like_widget_key(key: str) -> bool:
    return key.startswith(KEY_PREFIX) and len(key) <= MAX_KEY_LENGTH


def attempt_token_hash(secret_key: str, token: str) -> str:
    return keyed_hash(secret_key, "attempt-token", token)


def widget_setting(connection: ASGIConnection) -> Row:
    setting = principal_of(connection.scope).setting
    if setting is None:
        raise Problem(401, "invalid_widget_key", "A valid X-Widget-Key header is required.")
    if not setting["active"]:
        raise Problem(422, "setting_inactive", "Online booking is not available right now.")
    return cast(Row, setting)


def widget_attempt(
    connection: ASGIConnection, *, required: bool = True
) -> attempt_store.Attempt | None:
    """The attempt of the bearer token (None when none was sent and it is optional)."""
    principal = principal_of(connection.scope)
    if principal.bearer is Credential.ABSENT:
        if required:
            raise Problem(401, "invalid_attempt_token", "Start an attempt first.")
        return None
    if principal.attempt is None:
        raise Problem(401, "invalid_attempt_token", "This booking session is not valid.")
    return cast(attempt_store.Attempt, principal.attempt)


@dataclass(frozen=True)
class WidgetSession:
    """The setting behind the key and the attempt behind the bearer token of one call."""

    setting: Row
    attempt: attempt_store.Attempt

    @property
    def account_id(self) -> int:
        return self.setting["account_id"]


def widget_session(connection: ASGIConnection) -> WidgetSession:
    setting = widget_setting(connection)
    attempt = widget_attempt(connection)
    assert attempt is not None  # required=True raises instead
    return WidgetSession(setting, attempt)

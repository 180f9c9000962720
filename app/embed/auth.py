"""Widget callers: the setting behind `X-Widget-Key`, and the attempt behind its bearer token.

The publishable key is public (it sits in the practice's page); it only selects a setting.
The attempt token is secret, minted at POST /attempt, stored as a keyed hash, and binds every
later call to that one attempt of that setting.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from litestar.connection import ASGIConnection

from app.attempts import store as attempt_store
from app.core.crud import Row
from app.core.errors import Problem
from app.core.secrets import keyed_hash

KEY_HEADER = "x-widget-key"


def attempt_token_hash(secret_key: str, token: str) -> str:
    return keyed_hash(secret_key, "attempt-token", token)


async def widget_setting(connection: ASGIConnection) -> Row:
    key = connection.headers.get(KEY_HEADER, "")
    if not key.startswith("pk_") or len(key) > 100:
        raise Problem(401, "invalid_widget_key", "A valid X-Widget-Key header is required.")
    pool: asyncpg.Pool = connection.app.state.pool
    setting = await pool.fetchrow(
        "SELECT s.*, a.name AS practice_name FROM self_scheduling_settings s"
        " JOIN accounts a ON a.id = s.account_id WHERE s.publishable_key = $1",
        key,
    )
    if setting is None:
        raise Problem(401, "invalid_widget_key", "A valid X-Widget-Key header is required.")
    if not setting["active"]:
        raise Problem(422, "setting_inactive", "Online booking is not available right now.")
    return setting


async def widget_attempt(
    connection: ASGIConnection, setting: Row, *, required: bool = True
) -> attempt_store.Attempt | None:
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        if required:
            raise Problem(401, "invalid_attempt_token", "Start an attempt first.")
        return None
    pool: asyncpg.Pool = connection.app.state.pool
    secret = connection.app.state.settings.secret_key
    attempt = await attempt_store.by_token_hash(pool, attempt_token_hash(secret, token.strip()))
    if attempt is None or attempt.setting_id != setting["id"]:
        raise Problem(401, "invalid_attempt_token", "This booking session is not valid.")
    return attempt


@dataclass(frozen=True)
class WidgetSession:
    """The setting behind the key and the attempt behind the bearer token of one call."""

    setting: Row
    attempt: attempt_store.Attempt

    @property
    def account_id(self) -> int:
        return self.setting["account_id"]


async def widget_session(connection: ASGIConnection) -> WidgetSession:
    setting = await widget_setting(connection)
    attempt = await widget_attempt(connection, setting)
    assert attempt is not None  # required=True raises instead
    return WidgetSession(setting, attempt)

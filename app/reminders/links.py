"""The confirm and unsubscribe links of a reminder email. Pure: no I/O.

A token is `cf_<reminder id>_<mac>` (or `un_…`): the reminder id with an HMAC under the
server key, so nothing is stored, a token cannot be forged or moved to another reminder, and
it grants only its one action (confirm that appointment; stop that address's reminder emails
from that account). Neither page ever changes anything on GET: mail scanners follow links.
"""

from __future__ import annotations

import hmac
import re
from typing import Final, Literal

from app.core.secrets import keyed_hash

Kind = Literal["cf", "un"]
CONFIRM: Final = "cf"
UNSUBSCRIBE: Final = "un"
_PURPOSE = {CONFIRM: "reminder-confirm", UNSUBSCRIBE: "reminder-unsubscribe"}
_TOKEN = re.compile(r"^(cf|un)_([1-9][0-9]{0,17})_([0-9a-f]{32})$")
CONFIRM_PATH: Final = "/widget/v1/confirm"
UNSUBSCRIBE_PATH: Final = "/widget/v1/unsubscribe"


def token(secret_key: str, kind: Kind, reminder_id: int) -> str:
    mac = keyed_hash(secret_key, _PURPOSE[kind], str(reminder_id))[:32]
    return f"{kind}_{reminder_id}_{mac}"


def reminder_id(secret_key: str, kind: Kind, value: str) -> int | None:
    """The reminder a genuine token of this kind names, else None."""
    match = _TOKEN.fullmatch(value or "")
    if match is None or match.group(1) != kind:
        return None
    expected = token(secret_key, kind, int(match.group(2)))
    return int(match.group(2)) if hmac.compare_digest(expected, value) else None


def confirm_url(public_url: str, secret_key: str, reminder: int) -> str:
    return f"{public_url}{CONFIRM_PATH}/{token(secret_key, CONFIRM, reminder)}"


def unsubscribe_url(public_url: str, secret_key: str, reminder: int) -> str:
    return f"{public_url}{UNSUBSCRIBE_PATH}/{token(secret_key, UNSUBSCRIBE, reminder)}"

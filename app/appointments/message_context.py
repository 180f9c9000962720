"""What every patient message about one appointment says, in the patient's language.

Confirmations, moves, cancellations — and reminders and waitlist offers — take the same
parameters (`app.notifications.messages.APPOINTMENT_PARAMS`): the practice, the service, the
practitioner, a human local date and time, the address or "video visit", the practice's phone
(formatted, and as a `tel:` link) and a *working* manage link. A message that is not answering
the patient's own use of a link gets a new link of its own (`issue_manage_link`): the
appointment keeps every link it ever sent valid, so an older email still opens it.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg
import msgspec

from app.appointments import store
from app.core.secrets import keyed_hash, random_token
from app.notifications.formats import address_line, human_when, phone_display, phone_uri
from app.notifications.messages import event_uid, normalize_locale, video_place


class AppointmentMessage(msgspec.Struct, frozen=True, kw_only=True):
    locale: str
    params: dict[str, str]


def manage_token_hash(secret_key: str, token: str) -> str:
    return keyed_hash(secret_key, "manage-link", token)


def new_manage_token(secret_key: str) -> tuple[str, str]:
    """(token for the patient's link, its keyed hash to store)."""
    token = random_token("mg_", 24)
    return token, manage_token_hash(secret_key, token)


def manage_url(public_url: str, token: str | None, locale: str = "en") -> str:
    """The manage page, in the patient's language. The token rides in the fragment: it never
    reaches server logs or Referer headers."""
    base = f"{public_url}/widget/v1/frame" + ("" if locale == "en" else f"?lang={locale}")
    return f"{base}#manage={token}" if token else base


async def issue_manage_link(conn: asyncpg.Connection, secret_key: str, appointment_id: int) -> str:
    """A new manage token for the appointment (stored as a keyed hash); earlier ones stay valid."""
    token, token_hash = new_manage_token(secret_key)
    await store.add_manage_link(conn, appointment_id, token_hash)
    return token


def place_text(facts: asyncpg.Record | dict, locale: str) -> str:
    """'Riverside Family Health - Brooklyn, 100 Main Street, Brooklyn, NY 11201', or the
    localized 'Video visit' for telehealth."""
    if facts["telehealth"]:
        return video_place(locale)
    address = address_line(
        facts["address_line1"],
        facts["address_line2"],
        facts["city"],
        facts["state"],
        facts["postal_code"],
    )
    return ", ".join(p for p in (facts["location_name"], address) if p)


def message_params(
    facts: asyncpg.Record | dict, locale: str, manage: str, *, public_url: str, now: datetime
) -> dict[str, str]:
    """The parameters of a message about the appointment `facts` describes (pure)."""
    params = {
        "practice": facts["practice"],
        "service": facts["service"],
        "practitioner": facts["practitioner"],
        "when": human_when(facts["start_at"], facts["time_zone"], locale),
        "place": place_text(facts, locale),
        "manage_url": manage,
        "starts_at": facts["start_at"].isoformat(),
        "ends_at": facts["end_at"].isoformat(),
        "event_uid": event_uid(facts["id"], public_url),
        "sequence": str(int(now.timestamp())),
    }
    shown, uri = phone_display(facts["phone"]), phone_uri(facts["phone"])
    if shown:
        params["phone"] = shown
        if uri:
            params["phone_uri"] = uri
    return params


async def appointment_message(
    conn: asyncpg.Connection,
    appointment_id: int,
    *,
    public_url: str,
    secret_key: str,
    now: datetime,
    manage_token: str | None = None,
) -> AppointmentMessage:
    """Locale and params for a message about the appointment. `manage_token`: the patient's
    own link when the patient just used it (or was just given it); otherwise a new link is
    issued, in the caller's transaction."""
    facts = await store.message_facts(conn, appointment_id)
    locale = normalize_locale(facts["locale"])
    token = manage_token or await issue_manage_link(conn, secret_key, appointment_id)
    manage = manage_url(public_url, token, locale)
    return AppointmentMessage(
        locale=locale, params=message_params(facts, locale, manage, public_url=public_url, now=now)
    )


async def appointment_messages(
    conn: asyncpg.Connection,
    appointment_ids: list[int],
    *,
    public_url: str,
    secret_key: str,
    now: datetime,
) -> dict[int, AppointmentMessage]:
    """`appointment_message` for many appointments in a few statements (the reminder
    release's batches), each with a new manage link."""
    facts = await store.messages_facts(conn, appointment_ids)
    tokens = {id_: new_manage_token(secret_key) for id_ in facts}
    await store.add_manage_links(conn, [(id_, hashed) for id_, (_, hashed) in tokens.items()])
    found = {}
    for id_, row in facts.items():
        locale = normalize_locale(row["locale"])
        manage = manage_url(public_url, tokens[id_][0], locale)
        found[id_] = AppointmentMessage(
            locale=locale,
            params=message_params(row, locale, manage, public_url=public_url, now=now),
        )
    return found

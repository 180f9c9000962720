"""Answering a patient's SMS reply (the two-way part of reminders).

A reply is about the accounts that texted that number (one Twilio sender may serve several
practices, and the patient cannot tell them apart): STOP opts the number out of every one of
them, START back in; C confirms, and R links, the number's next upcoming appointment in them
(the next one not yet confirmed, else the next one) and the answer says which; HELP names the
practice that texted last and its phone. The language is that of the last text we sent.

Each reply is acted on once: its Twilio `MessageSid` is recorded (provider_callbacks) in the
transaction that acts on it, and a reply seen before is answered with nothing. Twilio signs no
timestamp, so a captured signed request verifies forever; without this, replaying it would opt
a number out again after START, confirm whichever appointment is next by then, or hand a fresh
manage link to whoever sent the request (the TwiML answer goes to the sender).
"""

from __future__ import annotations

from datetime import datetime

import asyncpg
import msgspec

from app.appointments import changes
from app.appointments.message_context import issue_manage_link, manage_url
from app.config import Settings
from app.core.db import transaction
from app.core.errors import Problem
from app.notifications import optouts
from app.notifications.formats import human_when
from app.notifications.store import remember_callback
from app.reminders import keywords, store
from app.reminders.keywords import Keyword

SMS_ACTOR = "patient-sms"


class Reply(msgspec.Struct, frozen=True):
    """One SMS a patient sent us, as Twilio's signed request says it."""

    message_sid: str  # Twilio's id of the message: one reply, however often it is posted
    phone: str  # From, E.164
    body: str


class Context(msgspec.Struct, frozen=True):
    account_ids: list[int]  # every account that texted the number
    latest_account_id: int | None
    locale: str


async def _context(conn: asyncpg.Connection, phone: str) -> Context:
    rows = await store.conversations(conn, phone)
    if not rows:
        return Context([], None, "en")
    latest = rows[0]
    return Context(
        account_ids=sorted({r["account_id"] for r in rows}),
        latest_account_id=latest["account_id"],
        locale=latest["locale"],
    )


async def answer(pool: asyncpg.Pool, settings: Settings, reply: Reply, now: datetime) -> str | None:
    """What to text back to the reply's phone, after doing what it asks; None for a reply
    already answered (a replay, or Twilio posting it again)."""
    phone = reply.phone
    keyword = keywords.parse(reply.body)
    async with transaction(pool) as conn:
        if not await remember_callback(conn, "twilio", f"{reply.message_sid}:reply"):
            return None
        context = await _context(conn, phone)
        lang = context.locale
        practice = (
            await store.account_name(conn, context.latest_account_id)
            if context.latest_account_id
            else keywords.PRACTICE_UNKNOWN.get(lang, keywords.PRACTICE_UNKNOWN["en"])
        )
        if keyword is Keyword.STOP:
            await optouts.opt_out(conn, context.account_ids, "SMS", phone)
            return keywords.reply(lang, "stopped", practice=practice)
        if keyword is Keyword.START:
            await optouts.opt_in(conn, context.account_ids, "SMS", phone)
            return keywords.reply(lang, "started", practice=practice)
        if keyword is Keyword.HELP:
            shown = await store.practice_phone(conn, context.latest_account_id)
            if shown:
                return keywords.reply(lang, "help", practice=practice, phone=shown)
            return keywords.reply(lang, "help_no_phone", practice=practice)
        if keyword is Keyword.OTHER:
            return keywords.reply(lang, "menu", practice=practice)
        upcoming = await store.upcoming_for_phone(conn, phone, context.account_ids, now)
        if not upcoming:
            return keywords.reply(lang, "no_appointment")
        target = next((a for a in upcoming if a["status"] == "SCHEDULED"), upcoming[0])
        values = {
            "practice": target["practice"],
            "practitioner": target["practitioner"],
            "when": human_when(target["start_at"], target["time_zone"], lang),
        }
        if keyword is Keyword.RESCHEDULE:
            token = await issue_manage_link(conn, settings.secret_key, target["id"])
            url = manage_url(settings.public_url, token, lang)
            return keywords.reply(lang, "reschedule", manage_url=url, **values)
    if target["status"] == "CONFIRMED":
        return keywords.reply(lang, "already_confirmed", **values)
    try:
        await changes.confirm(
            pool, settings, target["account_id"], target["id"], actor=SMS_ACTOR, now=now
        )
    except Problem:  # cancelled or started in the meantime
        return keywords.reply(lang, "no_appointment")
    return keywords.reply(lang, "confirmed", **values)

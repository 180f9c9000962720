"""Every message text, in one table keyed by (purpose, locale), and pure rendering.

Messages are short and carry the practice name and what the recipient needs to act (a code, a
time, a place, a link), nothing else about the patient. Add a locale by adding its rows;
`normalize_locale` falls back to English for any locale without a full set.
"""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Final, NamedTuple

import msgspec

VERIFICATION_CODE: Final = "verification_code"
APPOINTMENT_CONFIRMATION: Final = "appointment_confirmation"
APPOINTMENT_RESCHEDULED: Final = "appointment_rescheduled"
APPOINTMENT_CANCELLED: Final = "appointment_cancelled"
APPOINTMENT_REMINDER: Final = "appointment_reminder"
WAITLIST_OFFER: Final = "waitlist_offer"

_APPOINTMENT_PARAMS = ("practice", "when", "place", "manage_url")

# purpose -> the exact parameter names it takes (all required)
PURPOSES: Final[dict[str, tuple[str, ...]]] = {
    VERIFICATION_CODE: ("practice", "code"),
    APPOINTMENT_CONFIRMATION: _APPOINTMENT_PARAMS,
    APPOINTMENT_RESCHEDULED: _APPOINTMENT_PARAMS,
    APPOINTMENT_CANCELLED: _APPOINTMENT_PARAMS,
    APPOINTMENT_REMINDER: (*_APPOINTMENT_PARAMS, "practitioner"),
    WAITLIST_OFFER: ("practice", "when", "place", "offer_url", "minutes"),
}
# purpose -> parameter names it may take besides the required ones
OPTIONAL: Final[dict[str, tuple[str, ...]]] = {
    APPOINTMENT_REMINDER: ("confirm_url", "unsubscribe_url"),  # email only
}
URL_PARAMS: Final = ("manage_url", "confirm_url", "unsubscribe_url", "offer_url")

# a message not sent within this long after it was queued is pointless; the worker fails it
VALID_FOR: Final[dict[str, timedelta]] = {VERIFICATION_CODE: timedelta(minutes=10)}

LOCALES: Final = ("en", "es")
DEFAULT_LOCALE: Final = "en"
MAX_PARAM_LENGTH: Final = 500


class Template(NamedTuple):
    sms: str
    subject: str
    text: str  # email plain text; the HTML part is derived from it


class Rendered(msgspec.Struct, frozen=True, kw_only=True):
    sms: str
    subject: str
    text: str
    html: str


TEMPLATES: Final[dict[tuple[str, str], Template]] = {
    (VERIFICATION_CODE, "en"): Template(
        sms="Your {practice} code is {code}. It expires in 10 minutes.",
        subject="Your {practice} verification code",
        text=(
            "Your {practice} verification code is {code}\n\n"
            "It expires in 10 minutes. If you did not ask for it, you can ignore this message."
        ),
    ),
    (VERIFICATION_CODE, "es"): Template(
        sms="Su código de {practice} es {code}. Vence en 10 minutos.",
        subject="Su código de verificación de {practice}",
        text=(
            "Su código de verificación de {practice} es {code}\n\n"
            "Vence en 10 minutos. Si no lo solicitó, puede ignorar este mensaje."
        ),
    ),
    (APPOINTMENT_CONFIRMATION, "en"): Template(
        sms="{practice}: your appointment is confirmed for {when} at {place}. Manage: {manage_url}",
        subject="{practice}: appointment confirmed",
        text=(
            "Your appointment with {practice} is confirmed.\n\n"
            "When: {when}\nWhere: {place}\n\n"
            "To reschedule or cancel: {manage_url}"
        ),
    ),
    (APPOINTMENT_CONFIRMATION, "es"): Template(
        sms="{practice}: su cita está confirmada para {when} en {place}. Gestionar: {manage_url}",
        subject="{practice}: cita confirmada",
        text=(
            "Su cita con {practice} está confirmada.\n\n"
            "Cuándo: {when}\nDónde: {place}\n\n"
            "Para cambiarla o cancelarla: {manage_url}"
        ),
    ),
    (APPOINTMENT_RESCHEDULED, "en"): Template(
        sms="{practice}: your appointment moved to {when} at {place}. Manage: {manage_url}",
        subject="{practice}: appointment rescheduled",
        text=(
            "Your appointment with {practice} has been rescheduled.\n\n"
            "New time: {when}\nWhere: {place}\n\n"
            "To reschedule or cancel: {manage_url}"
        ),
    ),
    (APPOINTMENT_RESCHEDULED, "es"): Template(
        sms="{practice}: su cita se cambió a {when} en {place}. Gestionar: {manage_url}",
        subject="{practice}: cita reprogramada",
        text=(
            "Su cita con {practice} se ha reprogramado.\n\n"
            "Nueva fecha: {when}\nDónde: {place}\n\n"
            "Para cambiarla o cancelarla: {manage_url}"
        ),
    ),
    (APPOINTMENT_CANCELLED, "en"): Template(
        sms="{practice}: your appointment ({when}, {place}) is cancelled. Details: {manage_url}",
        subject="{practice}: appointment cancelled",
        text=(
            "Your appointment with {practice} has been cancelled.\n\n"
            "When: {when}\nWhere: {place}\n\n"
            "Details: {manage_url}"
        ),
    ),
    (APPOINTMENT_CANCELLED, "es"): Template(
        sms="{practice}: su cita ({when}, {place}) se canceló. Detalles: {manage_url}",
        subject="{practice}: cita cancelada",
        text=(
            "Su cita con {practice} se ha cancelado.\n\n"
            "Cuándo: {when}\nDónde: {place}\n\n"
            "Detalles: {manage_url}"
        ),
    ),
    (WAITLIST_OFFER, "en"): Template(
        sms="{practice}: a time opened, {when} at {place}. Claim within {minutes} min: {offer_url}",
        subject="{practice}: an earlier appointment time is free",
        text=(
            "A time you were waiting for has opened at {practice}.\n\n"
            "When: {when}\nWhere: {place}\n\n"
            "It goes to the first person who claims it, and this offer ends in {minutes} "
            "minutes: {offer_url}\n\n"
            "If you do nothing, you stay on the waiting list."
        ),
    ),
    (WAITLIST_OFFER, "es"): Template(
        sms=(
            "{practice}: hay un horario libre, {when} en {place}. "
            "Resérvelo en {minutes} min: {offer_url}"
        ),
        subject="{practice}: hay un horario más pronto disponible",
        text=(
            "Se liberó un horario que usted esperaba en {practice}.\n\n"
            "Cuándo: {when}\nDónde: {place}\n\n"
            "Es para la primera persona que lo reserve, y esta oferta vence en {minutes} "
            "minutos: {offer_url}\n\n"
            "Si no hace nada, sigue en la lista de espera."
        ),
    ),
}

_REMINDER_TEXT_EN = (
    "This is a reminder of your appointment with {practice}.\n\n"
    "With: {practitioner}\nWhen: {when}\nWhere: {place}\n\n"
    "Please confirm that you are coming: {confirm_url}\n"
    "To reschedule or cancel: {manage_url}\n\n"
    "No more reminder emails from {practice}: {unsubscribe_url}"
)
_REMINDER_TEXT_ES = (
    "Le recordamos su cita con {practice}.\n\n"
    "Con: {practitioner}\nCuándo: {when}\nDónde: {place}\n\n"
    "Por favor confirme su asistencia: {confirm_url}\n"
    "Para cambiarla o cancelarla: {manage_url}\n\n"
    "No recibir más recordatorios por correo de {practice}: {unsubscribe_url}"
)
TEMPLATES[(APPOINTMENT_REMINDER, "en")] = Template(
    sms=(
        "{practice}: reminder, {when} with {practitioner}, {place}. "
        "Reply C to confirm, R to reschedule, STOP to stop texts. {manage_url}"
    ),
    subject="{practice}: reminder of your appointment on {when}",
    text=_REMINDER_TEXT_EN,
)
TEMPLATES[(APPOINTMENT_REMINDER, "es")] = Template(
    sms=(
        "{practice}: recordatorio, {when} con {practitioner}, {place}. "
        "Responda C para confirmar, R para cambiarla, STOP para no recibir textos. {manage_url}"
    ),
    subject="{practice}: recordatorio de su cita el {when}",
    text=_REMINDER_TEXT_ES,
)

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_LOCALE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")


def normalize_locale(locale: str | None) -> str:
    """'es-MX' -> 'es'; anything unknown or malformed -> 'en'."""
    if not locale or not _LOCALE.fullmatch(locale.strip()):
        return DEFAULT_LOCALE
    language = re.split(r"[-_]", locale.strip(), maxsplit=1)[0].lower()
    return language if language in LOCALES else DEFAULT_LOCALE


def check_params(purpose: str, params: dict[str, str]) -> dict[str, str]:
    """The params, cleaned (control characters become spaces), or ValueError."""
    expected = PURPOSES.get(purpose)
    if expected is None:
        raise ValueError(f"unknown notification purpose {purpose!r}")
    optional = OPTIONAL.get(purpose, ())
    if not set(expected) <= set(params) <= {*expected, *optional}:
        raise ValueError(f"{purpose} takes exactly the params {', '.join(expected)}")
    cleaned: dict[str, str] = {}
    for name in [*expected, *(o for o in optional if o in params)]:
        value = params[name]
        if not isinstance(value, str):
            raise ValueError(f"param {name} must be a string")
        value = _CONTROL.sub(" ", value).strip()
        if not 1 <= len(value) <= MAX_PARAM_LENGTH:
            raise ValueError(f"param {name} must be 1 to {MAX_PARAM_LENGTH} characters")
        cleaned[name] = value
    for name in URL_PARAMS:
        if name in cleaned and not cleaned[name].startswith(("https://", "http://")):
            raise ValueError(f"param {name} must be an http(s) URL")
    if "minutes" in cleaned and not cleaned["minutes"].isdigit():
        raise ValueError("param minutes must be digits")
    if "code" in cleaned and not cleaned["code"].isalnum():
        raise ValueError("param code must be letters and digits")
    return cleaned


def render_sms(purpose: str, locale: str, params: dict[str, str]) -> str:
    """The SMS text alone (the worker's hot path: no email parts to build for a text)."""
    values = {name: "" for name in OPTIONAL.get(purpose, ())} | check_params(purpose, params)
    return TEMPLATES[(purpose, normalize_locale(locale))].sms.format(**values)


def render(purpose: str, locale: str, params: dict[str, str]) -> Rendered:
    """SMS text, email subject, text and HTML for one message (ValueError on bad input)."""
    # an absent optional param reads empty (an SMS reminder has no confirm link)
    values = {name: "" for name in OPTIONAL.get(purpose, ())} | check_params(purpose, params)
    lang = normalize_locale(locale)
    template = TEMPLATES[(purpose, lang)]
    return Rendered(
        sms=template.sms.format(**values),
        subject=template.subject.format(**values),
        text=template.text.format(**values),
        html=_html(template.text, values, lang),
    )


def _html(text_template: str, values: dict[str, str], lang: str) -> str:
    escaped = {name: html.escape(value, quote=True) for name, value in values.items()}
    for name in URL_PARAMS:
        if name in escaped:
            url = escaped[name]
            escaped[name] = f'<a href="{url}">{url}</a>'
    if "code" in escaped:
        escaped["code"] = (
            f'<strong style="font-size:1.4em;letter-spacing:0.15em">{escaped["code"]}</strong>'
        )
    body = html.escape(text_template, quote=False).format(**escaped)
    paragraphs = "".join(
        "<p>" + "<br>".join(part.split("\n")) + "</p>" for part in body.split("\n\n")
    )
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"></head>'
        '<body style="font-family:Arial,Helvetica,sans-serif;font-size:16px;line-height:1.5">'
        f"{paragraphs}</body></html>"
    )

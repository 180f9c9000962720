"""Every message text, in one table keyed by (purpose, locale), and pure rendering.

Messages carry the practice name and what the recipient needs to act (a code; or the visit:
what, with whom, when, where, the practice's phone and the manage link), nothing about the
patient. Add a locale by adding its rows; `normalize_locale` falls back to English for any
locale without a full set. Appointment parameters are built by
`app.appointments.message_context` (reminders and offers reuse it).
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Final, NamedTuple
from urllib.parse import urlsplit

import msgspec

from app.notifications.calendar import CalendarEvent, google_url, ics, outlook_url

VERIFICATION_CODE: Final = "verification_code"
APPOINTMENT_CONFIRMATION: Final = "appointment_confirmation"
APPOINTMENT_RESCHEDULED: Final = "appointment_rescheduled"
APPOINTMENT_CANCELLED: Final = "appointment_cancelled"
APPOINTMENT_REMINDER: Final = "appointment_reminder"
WAITLIST_OFFER: Final = "waitlist_offer"

# what every message about one appointment takes (see app.appointments.message_context):
# `when` is already written in the message's language and the location's zone, `starts_at` /
# `ends_at` are ISO instants for the calendar, `sequence` orders calendar updates
APPOINTMENT_PARAMS: Final = (
    "practice", "service", "practitioner", "when", "place", "manage_url",
    "starts_at", "ends_at", "event_uid", "sequence",
)  # fmt: skip
APPOINTMENT_OPTIONAL: Final = ("phone", "phone_uri")

# purpose -> the parameter names it requires, and those it may take
PURPOSES: Final[dict[str, tuple[str, ...]]] = {
    VERIFICATION_CODE: ("practice", "code"),
    APPOINTMENT_CONFIRMATION: APPOINTMENT_PARAMS,
    APPOINTMENT_RESCHEDULED: APPOINTMENT_PARAMS,
    APPOINTMENT_CANCELLED: APPOINTMENT_PARAMS,
    APPOINTMENT_REMINDER: APPOINTMENT_PARAMS,
    WAITLIST_OFFER: ("practice", "when", "place", "offer_url", "minutes"),
}
# purpose -> parameter names it may take besides the required ones
OPTIONAL: Final[dict[str, tuple[str, ...]]] = {
    APPOINTMENT_CONFIRMATION: APPOINTMENT_OPTIONAL,
    APPOINTMENT_RESCHEDULED: APPOINTMENT_OPTIONAL,
    APPOINTMENT_CANCELLED: APPOINTMENT_OPTIONAL,
    APPOINTMENT_REMINDER: (*APPOINTMENT_OPTIONAL, "confirm_url", "unsubscribe_url"),  # email
}
# emails of these purposes carry the visit as an .ics (a cancellation removes it)
CALENDAR: Final = {
    APPOINTMENT_CONFIRMATION: False,
    APPOINTMENT_RESCHEDULED: False,
    APPOINTMENT_CANCELLED: True,  # cancelled
}
URL_PARAMS: Final = frozenset({"manage_url", "confirm_url", "unsubscribe_url", "offer_url"})

# a message not sent within this long after it was queued is pointless; the worker fails it
VALID_FOR: Final[dict[str, timedelta]] = {VERIFICATION_CODE: timedelta(minutes=10)}

LOCALES: Final = ("en", "es")
DEFAULT_LOCALE: Final = "en"
MAX_PARAM_LENGTH: Final = 500


class Template(NamedTuple):
    sms: str
    subject: str
    text: str  # email plain text; the HTML part is derived from it


class Attachment(msgspec.Struct, frozen=True, kw_only=True):
    filename: str
    content_type: str
    content: str


class Rendered(msgspec.Struct, frozen=True, kw_only=True):
    sms: str
    subject: str
    text: str
    html: str
    attachments: tuple[Attachment, ...] = ()


# phrases that appear only when the value behind them exists, per locale
PHRASES: Final[dict[str, dict[str, str]]] = {
    "en": {
        "call_sms": " Questions: {phone}.",
        "call_line": "\nQuestions? Call {phone}",
        "video": "Video visit",
    },
    "es": {
        "call_sms": " Preguntas: {phone}.",
        "call_line": "\n¿Preguntas? Llame al {phone}",
        "video": "Visita por video",
    },
}

_CALENDAR_EN = (
    "Add it to your calendar with the attached appointment.ics, or:\n"
    "Add to Google Calendar: {google_url}\n"
    "Add to Outlook: {outlook_url}"
)
_CALENDAR_ES = (
    "Agréguela a su calendario con el archivo adjunto appointment.ics, o:\n"
    "Agregar a Google Calendar: {google_url}\n"
    "Agregar a Outlook: {outlook_url}"
)

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
        sms=(
            "{practice}: your {service} with {practitioner} is booked for {when}. {place}."
            "{call_sms} Reschedule or cancel: {manage_url}"
        ),
        subject="{practice}: appointment confirmed for {when}",
        text=(
            "Your appointment with {practice} is confirmed.\n\n"
            "What: {service} with {practitioner}\nWhen: {when}\nWhere: {place}{call_line}\n\n"
            f"{_CALENDAR_EN}\n\n"
            "Reschedule or cancel: {manage_url}"
        ),
    ),
    (APPOINTMENT_CONFIRMATION, "es"): Template(
        sms=(
            "{practice}: su cita ({service} con {practitioner}) es el {when}. {place}."
            "{call_sms} Cambiar o cancelar: {manage_url}"
        ),
        subject="{practice}: cita confirmada para el {when}",
        text=(
            "Su cita con {practice} está confirmada.\n\n"
            "Qué: {service} con {practitioner}\nCuándo: {when}\nDónde: {place}{call_line}\n\n"
            f"{_CALENDAR_ES}\n\n"
            "Cambiar o cancelar la cita: {manage_url}"
        ),
    ),
    (APPOINTMENT_RESCHEDULED, "en"): Template(
        sms=(
            "{practice}: your {service} with {practitioner} moved to {when}. {place}."
            "{call_sms} Reschedule or cancel: {manage_url}"
        ),
        subject="{practice}: appointment moved to {when}",
        text=(
            "Your appointment with {practice} has a new time.\n\n"
            "What: {service} with {practitioner}\nNew time: {when}\nWhere: {place}{call_line}\n\n"
            f"{_CALENDAR_EN}\n\n"
            "Reschedule or cancel: {manage_url}"
        ),
    ),
    (APPOINTMENT_RESCHEDULED, "es"): Template(
        sms=(
            "{practice}: su cita ({service} con {practitioner}) se cambió al {when}. {place}."
            "{call_sms} Cambiar o cancelar: {manage_url}"
        ),
        subject="{practice}: su cita se cambió al {when}",
        text=(
            "Su cita con {practice} tiene una nueva fecha.\n\n"
            "Qué: {service} con {practitioner}\nNueva fecha: {when}\nDónde: {place}{call_line}\n\n"
            f"{_CALENDAR_ES}\n\n"
            "Cambiar o cancelar la cita: {manage_url}"
        ),
    ),
    (APPOINTMENT_CANCELLED, "en"): Template(
        sms=(
            "{practice}: your {service} with {practitioner} on {when} is cancelled."
            "{call_sms} Book another time: {manage_url}"
        ),
        subject="{practice}: appointment on {when} cancelled",
        text=(
            "Your appointment with {practice} has been cancelled.\n\n"
            "What: {service} with {practitioner}\nWas: {when}\nWhere: {place}{call_line}\n\n"
            "Book another time: {manage_url}"
        ),
    ),
    (APPOINTMENT_CANCELLED, "es"): Template(
        sms=(
            "{practice}: su cita ({service} con {practitioner}) del {when} se canceló."
            "{call_sms} Reservar otra hora: {manage_url}"
        ),
        subject="{practice}: cita del {when} cancelada",
        text=(
            "Su cita con {practice} se ha cancelado.\n\n"
            "Qué: {service} con {practitioner}\nEra: {when}\nDónde: {place}{call_line}\n\n"
            "Reservar otra hora: {manage_url}"
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
    "What: {service} with {practitioner}\nWhen: {when}\nWhere: {place}{call_line}\n\n"
    "Please confirm that you are coming: {confirm_url}\n"
    "Reschedule or cancel: {manage_url}\n\n"
    "No more reminder emails from {practice}: {unsubscribe_url}"
)
_REMINDER_TEXT_ES = (
    "Le recordamos su cita con {practice}.\n\n"
    "Qué: {service} con {practitioner}\nCuándo: {when}\nDónde: {place}{call_line}\n\n"
    "Por favor confirme su asistencia: {confirm_url}\n"
    "Cambiar o cancelar: {manage_url}\n\n"
    "No recibir más recordatorios por correo de {practice}: {unsubscribe_url}"
)
TEMPLATES[(APPOINTMENT_REMINDER, "en")] = Template(
    sms=(
        "{practice} reminder: {service} with {practitioner}, {when}. {place}.{call_sms}"
        " Reply C to confirm, R to reschedule, STOP to opt out. {manage_url}"
    ),
    subject="{practice}: reminder of your appointment on {when}",
    text=_REMINDER_TEXT_EN,
)
TEMPLATES[(APPOINTMENT_REMINDER, "es")] = Template(
    sms=(
        "{practice}: cita de {service} con {practitioner}, {when}. {place}.{call_sms}"
        " Responda C para confirmar, R para cambiar, STOP para salir. {manage_url}"
    ),
    subject="{practice}: recordatorio de su cita el {when}",
    text=_REMINDER_TEXT_ES,
)

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_LOCALE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")
# a template line that is only "Label: {x_url}" becomes a link labelled "Label" in HTML
_LINK_LINE = re.compile(r"^(?P<label>[^{}:]+): \{(?P<name>\w+_url)\}$")


def normalize_locale(locale: str | None) -> str:
    """'es-MX' -> 'es'; anything unknown or malformed -> 'en'."""
    if not locale or not _LOCALE.fullmatch(locale.strip()):
        return DEFAULT_LOCALE
    language = re.split(r"[-_]", locale.strip(), maxsplit=1)[0].lower()
    return language if language in LOCALES else DEFAULT_LOCALE


def video_place(locale: str | None) -> str:
    """What 'where' says for a telehealth visit."""
    return PHRASES[normalize_locale(locale)]["video"]


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
    for name in URL_PARAMS & set(cleaned):
        if not cleaned[name].startswith(("https://", "http://")):
            raise ValueError(f"param {name} must be an http(s) URL")
    if "phone_uri" in cleaned and not re.fullmatch(r"tel:\+\d{7,15}", cleaned["phone_uri"]):
        raise ValueError("param phone_uri must be a tel:+digits URI")
    if "minutes" in cleaned and not cleaned["minutes"].isdigit():
        raise ValueError("param minutes must be digits")
    if "code" in cleaned and not cleaned["code"].isalnum():
        raise ValueError("param code must be letters and digits")
    for name in ("starts_at", "ends_at"):
        if name in cleaned:
            _instant(cleaned[name])
    return cleaned


def _instant(value: str) -> datetime:
    at = datetime.fromisoformat(value)
    if at.utcoffset() is None:
        raise ValueError("starts_at / ends_at need a UTC offset")
    return at


def _event(purpose: str, values: dict[str, str]) -> CalendarEvent:
    return CalendarEvent(
        uid=values["event_uid"],
        start=_instant(values["starts_at"]),
        end=_instant(values["ends_at"]),
        summary=f"{values['service']} — {values['practice']}",
        location=values["place"],
        description=" · ".join(
            v for v in (values["practitioner"], values.get("phone"), values["manage_url"]) if v
        ),
        sequence=int(values["sequence"]) if values["sequence"].isdigit() else 0,
        cancelled=CALENDAR[purpose],
    )


def render_sms(purpose: str, locale: str, params: dict[str, str]) -> str:
    """The SMS text alone: the worker's hot path, so no email parts, and no second full check
    of params `enqueue` already checked and cleaned (only that the required ones are there)."""
    expected = PURPOSES.get(purpose)
    if expected is None or any(not isinstance(params.get(name), str) for name in expected):
        raise ValueError(f"{purpose} lacks its params")
    values = {name: "" for name in OPTIONAL.get(purpose, ())} | params
    lang = normalize_locale(locale)
    return TEMPLATES[(purpose, lang)].sms.format(**values, **_phrases(lang, values.get("phone")))


def render(purpose: str, locale: str, params: dict[str, str]) -> Rendered:
    """SMS text, email subject, text, HTML and attachments for one message (ValueError on bad
    input)."""
    # an absent optional param reads empty (an SMS reminder has no confirm link)
    values = {name: "" for name in OPTIONAL.get(purpose, ())} | check_params(purpose, params)
    lang = normalize_locale(locale)
    template = TEMPLATES[(purpose, lang)]
    links: dict[str, str] = {}
    attachments: tuple[Attachment, ...] = ()
    if purpose in CALENDAR:
        event = _event(purpose, values)
        links = {"google_url": google_url(event), "outlook_url": outlook_url(event)}
        method = "CANCEL" if event.cancelled else "PUBLISH"
        attachments = (
            Attachment(
                filename="appointment.ics",
                content_type=f"text/calendar; charset=utf-8; method={method}",
                content=ics(event, now=datetime.fromtimestamp(event.sequence, UTC)),
            ),
        )
    plain = {**values, **links, **_phrases(lang, values.get("phone"))}
    subject = _CONTROL.sub(" ", template.subject.format(**plain))
    return Rendered(
        sms=template.sms.format(**plain),
        subject=subject,
        text=template.text.format(**plain),
        html=_html(template.text, {**values, **links}, lang),
        attachments=attachments,
    )


def _phrases(lang: str, phone: str | None) -> dict[str, str]:
    """The optional phrases, filled (empty without the value they need)."""
    if not phone:
        return {"call_sms": "", "call_line": ""}
    phrases = PHRASES[lang]
    return {
        "call_sms": phrases["call_sms"].format(phone=phone),
        "call_line": phrases["call_line"].format(phone=phone),
    }


def _anchor(url: str, label: str) -> str:
    return f'<a href="{html.escape(url, quote=True)}">{html.escape(label, quote=False)}</a>'


def _html(text_template: str, values: dict[str, str], lang: str) -> str:
    escaped = {name: html.escape(value, quote=True) for name, value in values.items()}
    for name in URL_PARAMS & set(values):
        if values[name]:
            escaped[name] = _anchor(values[name], values[name])
    if "code" in escaped:
        escaped["code"] = (
            f'<strong style="font-size:1.4em;letter-spacing:0.15em">{escaped["code"]}</strong>'
        )
    phone = values.get("phone")
    if phone:  # tappable on a phone
        shown = _anchor(values["phone_uri"], phone) if values.get("phone_uri") else escaped["phone"]
        escaped.update(_phrases(lang, shown))
    else:
        escaped.update(_phrases(lang, None))
    lines = []
    for line in text_template.split("\n"):
        link = _LINK_LINE.fullmatch(line)
        if link and values.get(link["name"]):
            lines.append(_anchor(values[link["name"]], link["label"]))
        else:
            lines.append(html.escape(line, quote=False).format(**escaped))
    body = "\n".join(lines)
    paragraphs = "".join(
        "<p>" + "<br>".join(part.split("\n")) + "</p>" for part in body.split("\n\n") if part
    )
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"></head>'
        '<body style="font-family:Arial,Helvetica,sans-serif;font-size:16px;line-height:1.5">'
        f"{paragraphs}</body></html>"
    )


def event_uid(appointment_id: int, public_url: str) -> str:
    """The calendar UID of an appointment: the same in every message and in the widget's
    own .ics, so a calendar updates one event instead of adding another."""
    host = urlsplit(public_url).hostname or "slotproof"
    return f"appointment-{appointment_id}@{host}"

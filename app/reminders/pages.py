"""The two small pages a reminder email links to: confirm the appointment, stop reminder
emails. Server-rendered, no script, one hashed inline style, English or Spanish. Pure.

Every value is escaped; the CSP allows nothing but that style and posting the form back here.
"""

from __future__ import annotations

import base64
import hashlib
import html
from typing import Final

_STYLE: Final = (
    "body{font-family:Arial,Helvetica,sans-serif;font-size:16px;line-height:1.5;"
    "color:#1a1a1a;background:#fff;margin:0}"
    "main{max-width:32rem;margin:2rem auto;padding:0 1rem}"
    "h1{font-size:1.5rem}dt{font-weight:bold}dd{margin:0 0 .75rem}"
    "button{font-size:1rem;padding:.75rem 1.25rem;border:0;border-radius:.375rem;"
    "background:#0b5cad;color:#fff;cursor:pointer}"
    "button:focus-visible{outline:3px solid #1a1a1a;outline-offset:2px}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
CSP: Final = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)

TEXT: Final[dict[str, dict[str, str]]] = {
    "en": {
        "confirm_title": "Confirm your appointment",
        "confirm_button": "Confirm appointment",
        "confirmed_title": "Your appointment is confirmed",
        "confirmed_body": "Thank you. {practice} has your confirmation.",
        "not_confirmable": "This appointment can no longer be confirmed online. Please call "
        "the practice.",
        "when": "When",
        "with": "With",
        "where": "Where",
        "unsubscribe_title": "Stop reminder emails",
        "unsubscribe_body": "Stop reminder emails from {practice} to this address? You will "
        "still get messages about bookings you make.",
        "unsubscribe_button": "Stop reminder emails",
        "unsubscribed_title": "You are unsubscribed",
        "unsubscribed_body": "You will get no more reminder emails from {practice}.",
        "not_found_title": "This link does not work",
        "not_found_body": "The link is not valid. Please use the latest email, or call the "
        "practice.",
    },
    "es": {
        "confirm_title": "Confirme su cita",
        "confirm_button": "Confirmar la cita",
        "confirmed_title": "Su cita está confirmada",
        "confirmed_body": "Gracias. {practice} recibió su confirmación.",
        "not_confirmable": "Esta cita ya no se puede confirmar en línea. Por favor llame al "
        "consultorio.",
        "when": "Cuándo",
        "with": "Con",
        "where": "Dónde",
        "unsubscribe_title": "Dejar de recibir recordatorios",
        "unsubscribe_body": "¿Dejar de recibir recordatorios por correo de {practice} en esta "
        "dirección? Seguirá recibiendo los mensajes sobre las citas que reserve.",
        "unsubscribe_button": "Dejar de recibir recordatorios",
        "unsubscribed_title": "Se canceló su suscripción",
        "unsubscribed_body": "No recibirá más recordatorios por correo de {practice}.",
        "not_found_title": "Este enlace no funciona",
        "not_found_body": "El enlace no es válido. Use el correo más reciente o llame al "
        "consultorio.",
    },
}


def _t(lang: str) -> dict[str, str]:
    return TEXT.get(lang, TEXT["en"])


def _page(lang: str, title: str, body: str) -> str:
    lang = lang if lang in TEXT else "en"
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>"
    )


def _p(text: str) -> str:
    return f"<p>{html.escape(text)}</p>"


def _button(label: str) -> str:
    # no action: the form posts back to this very URL (the token stays out of the markup)
    return f'<form method="post"><button type="submit">{html.escape(label)}</button></form>'


def appointment_details(lang: str, *, when: str, practitioner: str, place: str) -> str:
    t = _t(lang)
    rows = ((t["when"], when), (t["with"], practitioner), (t["where"], place))
    items = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in rows)
    return f"<dl>{items}</dl>"


def confirm_page(lang: str, practice: str, details: str) -> str:
    t = _t(lang)
    return _page(lang, t["confirm_title"], _p(practice) + details + _button(t["confirm_button"]))


def confirmed_page(lang: str, practice: str, details: str) -> str:
    t = _t(lang)
    body = _p(t["confirmed_body"].format(practice=practice)) + details
    return _page(lang, t["confirmed_title"], body)


def not_confirmable_page(lang: str, practice: str, details: str) -> str:
    t = _t(lang)
    return _page(lang, t["confirm_title"], _p(t["not_confirmable"]) + _p(practice) + details)


def unsubscribe_page(lang: str, practice: str) -> str:
    t = _t(lang)
    body = _p(t["unsubscribe_body"].format(practice=practice)) + _button(t["unsubscribe_button"])
    return _page(lang, t["unsubscribe_title"], body)


def unsubscribed_page(lang: str, practice: str) -> str:
    t = _t(lang)
    return _page(
        lang, t["unsubscribed_title"], _p(t["unsubscribed_body"].format(practice=practice))
    )


def not_found_page(lang: str) -> str:
    t = _t(lang)
    return _page(lang, t["not_found_title"], _p(t["not_found_body"]))

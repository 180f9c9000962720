"""Patients' SMS replies: which keyword a text is, and what we answer, in English and Spanish.
Pure: no I/O.

The opt-out keywords are the CTIA/carrier set (STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT;
START and UNSTOP opt back in; HELP answers who we are and how to reach the practice). A
keyword is the whole message, case- and accent-insensitive, surrounding punctuation ignored:
"Stop." stops, "please stop texting me" is not a keyword (it gets the menu, which says how).
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum
from typing import Final


class Keyword(StrEnum):
    CONFIRM = "CONFIRM"
    RESCHEDULE = "RESCHEDULE"
    STOP = "STOP"
    START = "START"
    HELP = "HELP"
    OTHER = "OTHER"


WORDS: Final[dict[Keyword, frozenset[str]]] = {
    Keyword.CONFIRM: frozenset({"C", "CONFIRM", "YES", "SI", "CONFIRMAR"}),
    Keyword.RESCHEDULE: frozenset({"R"}),
    Keyword.STOP: frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}),
    Keyword.START: frozenset({"START", "UNSTOP"}),
    Keyword.HELP: frozenset({"HELP", "AYUDA", "INFO"}),
}
_EDGES = re.compile(r"^[\W_]+|[\W_]+$")


def normalize(body: str) -> str:
    """'  Sí! ' -> 'SI'."""
    decomposed = unicodedata.normalize("NFKD", body or "")
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _EDGES.sub("", plain.strip()).upper()


def parse(body: str) -> Keyword:
    word = normalize(body)
    return next((keyword for keyword, words in WORDS.items() if word in words), Keyword.OTHER)


# what we answer; `{when}` is already written in the patient's language
REPLIES: Final[dict[str, dict[str, str]]] = {
    "en": {
        "confirmed": "{practice}: thank you, your appointment on {when} with {practitioner} is "
        "confirmed.",
        "already_confirmed": "{practice}: your appointment on {when} with {practitioner} is "
        "already confirmed.",
        "no_appointment": "We found no upcoming appointment for this number. Please call your "
        "practice.",
        "reschedule": "{practice}: to reschedule or cancel your appointment on {when}, open "
        "{manage_url}",
        "stopped": "You will get no more text messages from {practice}, codes included. Reply "
        "START to get them again. To cancel an appointment, use the link in your email or call "
        "the practice.",
        "started": "{practice}: you will get text messages again. Reply STOP to stop, HELP for "
        "help.",
        "help": "{practice}: for help call {phone}. Reply C to confirm an appointment, R to "
        "reschedule, STOP to stop texts. Msg & data rates may apply.",
        "help_no_phone": "{practice}: for help call the practice. Reply C to confirm an "
        "appointment, R to reschedule, STOP to stop texts. Msg & data rates may apply.",
        "menu": "{practice}: reply C to confirm your appointment, R to reschedule, HELP for "
        "help, STOP to stop texts.",
    },
    "es": {
        "confirmed": "{practice}: gracias, su cita del {when} con {practitioner} está confirmada.",
        "already_confirmed": "{practice}: su cita del {when} con {practitioner} ya estaba "
        "confirmada.",
        "no_appointment": "No encontramos ninguna cita próxima para este número. Por favor "
        "llame a su consultorio.",
        "reschedule": "{practice}: para cambiar o cancelar su cita del {when}, abra {manage_url}",
        "stopped": "No recibirá más mensajes de texto de {practice}, ni siquiera códigos. "
        "Responda START para volver a recibirlos. Para cancelar una cita, use el enlace de su "
        "correo o llame al consultorio.",
        "started": "{practice}: volverá a recibir mensajes de texto. Responda STOP para "
        "dejar de recibirlos, HELP para ayuda.",
        "help": "{practice}: para ayuda llame al {phone}. Responda C para confirmar una cita, "
        "R para cambiarla, STOP para no recibir textos. Pueden aplicarse tarifas.",
        "help_no_phone": "{practice}: para ayuda llame al consultorio. Responda C para "
        "confirmar una cita, R para cambiarla, STOP para no recibir textos. Pueden aplicarse "
        "tarifas.",
        "menu": "{practice}: responda C para confirmar su cita, R para cambiarla, HELP para "
        "ayuda, STOP para no recibir textos.",
    },
}
PRACTICE_UNKNOWN: Final = {"en": "Appointment reminders", "es": "Recordatorios de citas"}


def reply(locale: str, name: str, **values: str) -> str:
    table = REPLIES.get(locale, REPLIES["en"])
    return table[name].format(**values)

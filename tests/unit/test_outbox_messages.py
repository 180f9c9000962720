"""Message texts: every purpose in every locale, escaping, and parameter rules."""

import html

import pytest

from app.notifications.base import OutgoingMessage, Permanent, Retryable, for_status
from app.notifications.messages import (
    LOCALES,
    PURPOSES,
    TEMPLATES,
    normalize_locale,
    render,
)
from app.notifications.outbox import mask_recipient
from tests.support import VISIT_PARAMS

APPOINTMENT = VISIT_PARAMS
CODE = {"practice": "Riverside Family Health", "code": "123456"}
OFFER = {
    "practice": "Riverside Family Health",
    "when": "2026-03-09 09:00 EDT",
    "place": "Brooklyn",
    "offer_url": "https://slotproof.test/o/abc",
    "minutes": "30",
}


def _params(purpose: str) -> dict[str, str]:
    return {"verification_code": CODE, "waitlist_offer": OFFER}.get(purpose, APPOINTMENT)


def test_every_purpose_has_every_locale():
    assert set(TEMPLATES) == {(p, lang) for p in PURPOSES for lang in LOCALES}


@pytest.mark.parametrize("purpose", sorted(PURPOSES))
@pytest.mark.parametrize("locale", LOCALES)
def test_every_message_renders_with_all_its_params(purpose, locale):
    params = _params(purpose)
    out = render(purpose, locale, params)
    shown = ("practice", "code", "service", "practitioner", "when", "manage_url", "phone")
    for name in shown:
        if name in params:
            assert params[name] in out.sms
            assert params[name] in out.text
            assert html.escape(params[name], quote=False) in out.html
    assert params["practice"] in out.subject
    assert "{" not in out.sms + out.subject + out.text
    assert len(out.sms) <= 320  # at most two GSM-7 segments with a typical practice
    assert f'<html lang="{locale}">' in out.html


def test_verification_code_text():
    assert render("verification_code", "en", CODE).sms == (
        "Your Riverside Family Health code is 123456. It expires in 10 minutes."
    )
    assert render("verification_code", "es", CODE).sms == (
        "Su código de Riverside Family Health es 123456. Vence en 10 minutos."
    )
    assert "123456" not in render("verification_code", "en", CODE).subject


def test_html_escapes_params():
    params = {**APPOINTMENT, "practice": 'Dr <b>"Smith"</b> & Co', "place": "<script>x</script>"}
    out = render("appointment_confirmation", "en", params)
    assert "<script>" not in out.html
    assert "&lt;script&gt;x&lt;/script&gt;" in out.html
    assert "Dr &lt;b&gt;&quot;Smith&quot;&lt;/b&gt; &amp; Co" in out.html
    assert f'<a href="{APPOINTMENT["manage_url"]}">Reschedule or cancel</a>' in out.html
    assert out.text.startswith('Your appointment with Dr <b>"Smith"</b> & Co is confirmed.')


def test_control_characters_cannot_inject_lines():
    out = render("verification_code", "en", {**CODE, "practice": "Evil\r\nBcc: x@y.z"})
    assert "\r" not in out.subject and "\n" not in out.subject


@pytest.mark.parametrize(
    ("purpose", "params"),
    [
        ("no_such_purpose", CODE),
        ("verification_code", {"practice": "P"}),  # missing code
        ("verification_code", {**CODE, "patient_name": "Jane"}),  # nothing extra (no PHI)
        ("verification_code", {**CODE, "code": ""}),
        ("verification_code", {**CODE, "code": "12 34"}),
        ("verification_code", {**CODE, "code": 123456}),
        ("appointment_cancelled", {**APPOINTMENT, "manage_url": "javascript:alert(1)"}),
        ("appointment_cancelled", {**APPOINTMENT, "place": "x" * 501}),
    ],
)
def test_bad_params_are_refused(purpose, params):
    with pytest.raises(ValueError):
        render(purpose, "en", params)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("en", "en"),
        ("es", "es"),
        ("es-MX", "es"),
        ("ES_us", "es"),
        ("fr", "en"),
        ("", "en"),
        (None, "en"),
        ("e s", "en"),
        ("../../etc", "en"),
    ],
)
def test_locale_normalisation(given, expected):
    assert normalize_locale(given) == expected


def test_unknown_locale_falls_back_to_english():
    assert render("verification_code", "de-DE", CODE).sms.startswith("Your ")


def test_masking():
    assert mask_recipient("SMS", "+15551234567") == "+1******4567"
    assert mask_recipient("EMAIL", "jane.doe@example.com") == "j***@example.com"
    assert mask_recipient("EMAIL", "nonsense") == "***"
    assert "12" not in mask_recipient("SMS", "+12")


def test_a_message_never_prints_its_recipient_or_code():
    message = OutgoingMessage(
        notification_id=7,
        channel="SMS",
        to="+15551234567",
        purpose="verification_code",
        locale="en",
        body="Your code is 123456",
        code="123456",
    )
    assert "5551234567" not in repr(message) and "123456" not in repr(message)
    assert "123456" not in str([message])


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (500, Retryable),
        (503, Retryable),
        (429, Retryable),
        (408, Retryable),
        (400, Permanent),
        (401, Permanent),
        (404, Permanent),
        (422, Permanent),
    ],
)
def test_status_classes(status, kind):
    error = for_status("twilio", status, "code 21211")
    assert isinstance(error, kind)
    assert error.reason == f"twilio {status} code 21211"

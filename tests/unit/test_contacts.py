"""Contact parsing and normalisation (app.identity.contacts)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.identity.contacts import (
    ContactError,
    email_contact,
    normalize_email,
    normalize_phone,
    phone_contact,
)
from app.identity.policy import Channel


@pytest.mark.parametrize(
    "raw",
    [
        "2025550123",
        "202-555-0123",
        "(202) 555-0123",
        "202.555.0123",
        "1 202 555 0123",
        "+12025550123",
        "+1 (202) 555-0123",
        "  2025550123  ",
    ],
)
def test_us_numbers_become_e164(raw):
    assert normalize_phone(raw) == "+12025550123"


def test_canadian_numbers_are_allowed_by_default():
    assert normalize_phone("+1 613 555 0123") == "+16135550123"
    assert normalize_phone("6135550123") == "+16135550123"


def test_other_countries_are_refused_unless_allowed():
    with pytest.raises(ContactError) as caught:
        normalize_phone("+44 7400 123456")
    assert caught.value.field == "phone"
    assert "7400" not in caught.value.message
    assert normalize_phone("+44 7400 123456", allowed_countries=["gb"]) == "+447400123456"


def test_landlines_are_refused_where_the_library_can_tell():
    # a London fixed line: phonenumbers says FIXED_LINE, which cannot receive SMS
    with pytest.raises(ContactError, match="mobile"):
        normalize_phone("+44 20 7946 0018", allowed_countries=["GB"])
    # US numbers are FIXED_LINE_OR_MOBILE to the library: accepted
    assert normalize_phone("+1 415 555 2671") == "+14155552671"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "12345",
        "555-1234",
        "+15551234567",  # area code 555 does not exist
        "1-800-FLOWERS",
        "2025550123 ext 4",
        "+1202555012345678901234567890123",
        "not a phone",
        "++12025550123",
    ],
)
def test_invalid_phones_are_refused_without_echoing_them(raw):
    with pytest.raises(ContactError) as caught:
        normalize_phone(raw)
    assert raw.strip() == "" or raw.strip() not in caught.value.message


@given(st.text(max_size=40))
def test_phone_parsing_never_crashes(raw):
    try:
        result = normalize_phone(raw)
    except ContactError:
        return
    assert result.startswith("+1") and result[1:].isdigit()


def test_phone_contact():
    contact = phone_contact("(202) 555-0123")
    assert contact.channel is Channel.SMS
    assert contact.value == contact.key == "+12025550123"


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("ann@example.com", "ann@example.com"),
        ("Ann.Lee@EXAMPLE.COM", "Ann.Lee@example.com"),
        ("  ann+tag@Example.Org ", "ann+tag@example.org"),
        ("ann@bücher.de", "ann@bücher.de"),
        ("ann@BÜCHER.de", "ann@bücher.de"),
    ],
)
def test_emails_get_a_lowercase_domain(raw, normalised):
    assert normalize_email(raw) == normalised


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "ann",
        "ann@",
        "@example.com",
        "ann@@example.com",
        "ann@localhost",
        "ann@example.test",
        "ann example@example.com",
        "a" * 250 + "@example.com",
    ],
)
def test_invalid_emails_are_refused_without_echoing_them(raw):
    with pytest.raises(ContactError) as caught:
        normalize_email(raw)
    assert caught.value.field == "email"
    assert caught.value.message == "must be an email address"


def test_email_contact_matches_case_insensitively():
    a, b = email_contact("Ann.Lee@Example.com"), email_contact("ann.lee@EXAMPLE.COM")
    assert a.channel is Channel.EMAIL
    assert a.value == "Ann.Lee@example.com"  # what the message is sent to
    assert a.key == b.key == "ann.lee@example.com"  # what limits and matching use


@given(st.emails())
def test_generated_emails_normalise_idempotently(raw):
    try:
        once = normalize_email(raw)
    except ContactError:
        return  # hypothesis also generates special-use domains
    assert normalize_email(once) == once
    assert once.split("@")[1] == once.split("@")[1].lower()

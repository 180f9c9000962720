"""The widget follows its setting: email + SMS verification, a theme whose colours would fail
contrast (the widget keeps WCAG AA anyway), and fixed / hidden choices that skip step one."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.flows import heading_focused, to_contact_step, widget_frame
from tests.browser.harness import Server, Shots, needs_browser, unique_email

pytestmark = needs_browser

CONTRAST_JS = """
(el) => {
  const rgb = (c) => c.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number);
  const lum = (c) => {
    const [r, g, b] = rgb(c).map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const s = getComputedStyle(el);
  let bg = s.backgroundColor;
  for (let p = el; bg === 'rgba(0, 0, 0, 0)' && p; p = p.parentElement) {
    bg = getComputedStyle(p).backgroundColor;
  }
  if (bg === 'rgba(0, 0, 0, 0)') bg = 'rgb(255, 255, 255)';
  const [hi, lo] = [lum(s.color), lum(bg)].sort((a, b) => b - a);
  return (hi + 0.05) / (lo + 0.05);
}
"""


@pytest.fixture
def setting(server: Server) -> Iterator[Any]:
    """Change the demo setting for one test (SQL assignments), restored afterwards."""
    columns = (
        "verification_method, theme, location_selectable, fixed_location_id,"
        " appointment_type_selectable, appointment_type_visible, fixed_appointment_type_id,"
        " are_practitioners_selectable"
    )
    before = server.db(
        f"SELECT {columns} FROM self_scheduling_settings WHERE publishable_key = $1",  # noqa: S608
        server.key,
    )[0]

    def change(assignments: str, *args: Any) -> None:
        server.db(
            f"UPDATE self_scheduling_settings SET {assignments} WHERE publishable_key = $1",  # noqa: S608
            server.key,
            *args,
        )

    yield change
    values = dict(before)
    change(
        ", ".join(f"{name} = ${i}" for i, name in enumerate(values, start=2)),
        # (a raw asyncpg connection reads jsonb as its JSON text)
        *[
            json.dumps(v) if name == "theme" and not isinstance(v, str) else v
            for name, v in values.items()
        ],
    )


def test_email_and_sms_verification(
    server: Server, page: Any, shots: Shots, setting: Any, problems: list
) -> None:
    setting("verification_method = 'EMAIL_AND_SMS'")
    frame = to_contact_step(page, server)
    assert frame.get_by_text("Step 3 of 5").is_visible()
    email = unique_email()
    frame.get_by_label("Email address").fill(email)
    sent = time.time() - 1
    frame.get_by_role("button", name="Send code").click()
    frame.get_by_label("6-digit code").fill(server.code_for(email, newer_than=sent))
    frame.get_by_role("button", name="Verify").click()

    heading_focused(frame, "Confirm your mobile number")
    assert "US or Canadian mobile number" in frame.locator(".sp-hint").first.inner_text()
    shots(page, "phone")
    digits = f"{secrets.randbelow(10_000):04d}"
    frame.get_by_role("textbox", name="Mobile number").fill(f"(201) 555-{digits}")
    sent = time.time() - 1
    frame.get_by_role("button", name="Send code").click()
    frame.get_by_text("(201) 555-").first.wait_for()
    frame.get_by_label("6-digit code").fill(server.code_for(f"+1201555{digits}", newer_than=sent))
    frame.get_by_role("button", name="Verify").click()
    heading_focused(frame, "About you")
    assert not problems, problems


def test_theme_colours_keep_aa_contrast(
    server: Server, page: Any, shots: Shots, setting: Any
) -> None:
    # gold: white text on it would be 1.4:1, as link colour on white the same
    setting(
        "theme = $2::jsonb",
        json.dumps({"primaryColor": "#ffd700", "cornerRadius": 0, "fontFamily": "Georgia"}),
    )
    page.goto(f"{server.url}/demo")
    frame = widget_frame(page)
    frame.get_by_role("heading", name="What do you need?").wait_for()
    frame.get_by_label("New patient visit").check()
    frame.get_by_label("Riverside Family Health - Brooklyn").check()
    primary = frame.get_by_role("button", name="Continue")
    assert primary.evaluate(CONTRAST_JS) >= 4.5
    assert primary.evaluate("el => getComputedStyle(el).borderRadius") == "0px"
    assert "Georgia" in primary.evaluate("el => getComputedStyle(el).fontFamily")
    primary.click()
    frame.locator(".sp-time").first.wait_for()
    for element in (
        frame.locator(".sp-time").first,  # accent text on white
        frame.locator(".sp-day[aria-pressed='true']"),  # text on the primary colour
        frame.get_by_role("button", name="Change visit details"),
    ):
        assert element.evaluate(CONTRAST_JS) >= 4.5
    for muted in (frame.locator(".sp-progress"), frame.locator(".sp-zone")):
        assert muted.evaluate(CONTRAST_JS) >= 4.5
    shots(page, "gold theme")


def test_fixed_choices_skip_the_first_step(
    server: Server, page: Any, shots: Shots, setting: Any
) -> None:
    location, kind = server.demo["locationIds"][1], server.demo["appointmentTypeIds"][2]
    setting(
        "location_selectable = false, fixed_location_id = $2, appointment_type_selectable ="
        " false, appointment_type_visible = false, fixed_appointment_type_id = $3,"
        " are_practitioners_selectable = false",
        location,
        kind,
    )
    page.goto(f"{server.url}/demo")
    frame = widget_frame(page)
    frame.get_by_role("heading", name="Choose a date and time").wait_for()
    assert frame.get_by_text("Step 1 of 4").is_visible()
    summary = frame.locator(".sp-summary").inner_text()
    assert "Telehealth" not in summary  # the visit type is hidden
    assert frame.get_by_role("button", name="Change visit details").count() == 0
    assert "Pacific" in frame.locator(".sp-zone").inner_text()  # the Oakland location's zone
    shots(page, "fixed choices")

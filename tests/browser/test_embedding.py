"""The loader on host pages in headless Chromium: the allow-list decides who may frame the widget,
the floating button opens an accessible modal, Spanish, and failures that never dead-end."""

from __future__ import annotations

import functools
import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.flows import READY_JS, heading_focused, to_contact_step, widget_frame
from tests.browser.harness import Server, Shots, free_port, needs_browser, unique_email

pytestmark = needs_browser


@pytest.fixture
def other_site(server: Server, tmp_path: Path) -> Iterator[str]:
    """A host page on another origin (a second local port), embedding the demo key."""
    (tmp_path / "index.html").write_text(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Another site</title>"
        f'<script src="{server.url}/widget/v1/static/demo.js" defer></script>'
        f'<script src="{server.url}/widget/v1/loader.js" data-key="{server.key}" async></script>'
        "</head><body><h1>Another site</h1><div data-slotproof></div></body></html>"
    )
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    port = free_port()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def frame_ancestors(server: Server, key: str) -> str:
    csp = httpx.get(f"{server.url}/widget/v1/frame", params={"key": key}).headers[
        "content-security-policy"
    ]
    return next(d for d in csp.split(";") if d.strip().startswith("frame-ancestors")).strip()


def test_origin_not_on_the_allow_list_cannot_frame_the_widget(
    server: Server, page: Any, shots: Shots, problems: list, other_site: str
) -> None:
    assert frame_ancestors(server, server.key) == (
        "frame-ancestors 'self' http://127.0.0.1:8000 http://localhost:8000"
    )
    assert frame_ancestors(server, "pk_unknown") == "frame-ancestors 'none'"
    assert other_site not in frame_ancestors(server, server.key)

    page.goto(other_site)
    fallback = page.get_by_role("link", name="Book online")
    fallback.wait_for(timeout=12_000)  # the loader's 8 s fallback
    assert fallback.get_attribute("href") == (
        f"{server.url}/widget/v1/frame?key={server.key}&lang=en"
    )
    assert page.locator("iframe").is_hidden()
    framed = page.locator("iframe").element_handle().content_frame()
    assert framed is not None and framed.url.startswith("chrome-error://"), framed.url
    assert page.evaluate("window.__slotproofEvents") == []
    assert any("frame-ancestors" in p for p in problems), problems
    shots(page, "blocked with fallback link")

    # the same page works once its origin is on the setting's allow-list
    server.db(
        "UPDATE self_scheduling_settings SET allowed_origins = allowed_origins || $2::text"
        " WHERE publishable_key = $1",
        server.key,
        other_site,
    )
    try:
        assert other_site in frame_ancestors(server, server.key)
        page.reload()
        page.wait_for_function(READY_JS)
        widget_frame(page).get_by_role("heading", name="What do you need?").wait_for()
        assert page.get_by_role("link", name="Book online").count() == 0
        shots(page, "allowed")
    finally:
        server.db(
            "UPDATE self_scheduling_settings SET allowed_origins = array_remove("
            "allowed_origins, $2::text) WHERE publishable_key = $1",
            server.key,
            other_site,
        )


def test_floating_button_opens_an_accessible_modal(
    server: Server, page: Any, shots: Shots, problems: list
) -> None:
    page.goto(f"{server.url}/demo?mode=button")
    launcher = page.get_by_role("button", name="Book online")
    shots(page, "launcher")
    for _ in range(20):  # reach it by keyboard
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.className") == "slotproof-launcher":
            break
    else:
        raise AssertionError("the launcher is not reachable by Tab")
    assert launcher.get_attribute("aria-expanded") == "false"
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Book online")
    dialog.wait_for()
    assert dialog.get_attribute("aria-modal") == "true"
    assert launcher.get_attribute("aria-expanded") == "true"
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "Close"
    page.wait_for_function(READY_JS)
    frame = widget_frame(page)
    frame.get_by_role("heading", name="What do you need?").wait_for()
    shots(page, "modal open")

    inside = "document.querySelector('[role=dialog]').contains(document.activeElement)"
    for key in ["Tab"] * 30 + ["Shift+Tab"] * 30:  # focus never leaves the dialog
        page.keyboard.press(key)
        assert page.evaluate(inside), key
    # let the keys and focus messages still in flight land first (both documents)
    settle = "new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"
    for _ in range(3):
        page.evaluate(settle)
        frame.evaluate(settle)
    # Shift+Tab from the close button wraps to the frame's last control
    page.evaluate("document.querySelector('[role=dialog] button').focus()")
    page.keyboard.press("Shift+Tab")
    where = "() => [document.hasFocus(), document.activeElement.textContent]"
    for _ in range(50):
        if frame.evaluate(where) == [True, "Continue"]:
            break
        time.sleep(0.1)
    else:
        host = page.evaluate("document.activeElement.outerHTML.slice(0, 80)")
        raise AssertionError(f"frame focus {frame.evaluate(where)}, host focus {host}")
    # Esc inside the frame closes, and focus returns to the launcher
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    assert page.evaluate("document.activeElement.className") == "slotproof-launcher"
    assert launcher.get_attribute("aria-expanded") == "false"
    shots(page, "modal closed")

    page.keyboard.press("Enter")  # reopened, state kept; Esc from the host side closes too
    dialog.wait_for()
    frame.get_by_role("heading", name="What do you need?").wait_for()
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    assert page.evaluate("document.activeElement.className") == "slotproof-launcher"
    assert not problems, problems


def test_spanish_from_the_host_page_language(server: Server, page: Any, shots: Shots) -> None:
    page.goto(f"{server.url}/demo?lang=es")
    assert page.locator("iframe").get_attribute("title") == "Reservar cita"
    frame = widget_frame(page)
    frame.get_by_role("heading", name="¿Qué necesita?").wait_for()
    frame.get_by_label("New patient visit").check()
    frame.get_by_label("Riverside Family Health - Brooklyn").check()
    frame.get_by_role("button", name="Continuar").click()
    frame.get_by_role("heading", name="Elija fecha y hora").wait_for()
    frame.locator(".sp-day.sp-open").first.click()
    assert "Las horas están en" in frame.locator(".sp-zone").inner_text()
    assert frame.locator("th").first.inner_text().lower().startswith("lun")  # week from Monday
    shots(page, "spanish calendar")


def test_network_failure_offers_a_retry(server: Server, page: Any, shots: Shots) -> None:
    calls = {"n": 0}

    def flaky(route: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            route.abort()
        else:
            route.continue_()

    page.context.route("**/widget/v1/availability?*", flaky)
    page.goto(f"{server.url}/demo")
    frame = widget_frame(page)
    frame.get_by_label("Telehealth check-in").check()
    frame.get_by_label("Riverside Family Health - Oakland").check()
    frame.get_by_role("button", name="Continue").click()
    alert = frame.get_by_role("alert")
    alert.get_by_text("We couldn't reach the booking service").wait_for()
    shots(page, "network error")
    alert.get_by_role("button", name="Try again").click()
    frame.locator(".sp-day.sp-open").first.wait_for()
    assert frame.get_by_role("alert").count() == 0
    shots(page, "recovered")


def test_code_messages_rate_limit_expiry_and_lockout(
    server: Server, page: Any, shots: Shots
) -> None:
    page.clock.install()  # the browser's clock only: the server keeps real time
    frame = to_contact_step(page, server)
    email = unique_email()
    frame.get_by_label("Email address").fill(email)
    sent = time.time() - 1
    frame.get_by_role("button", name="Send code").click()
    code = server.code_for(email, newer_than=sent)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    code_input = frame.get_by_label("6-digit code")

    page.clock.fast_forward("11:00")  # in the browser, the code is now older than 10 minutes
    assert frame.locator("#sp-countdown").inner_text() == ""
    code_input.fill(wrong)
    frame.get_by_role("button", name="Verify").click()
    frame.get_by_text("That code has expired. Request a new code.").wait_for()
    frame.get_by_role("button", name="Resend code").click()  # the server says: too soon
    frame.get_by_text("We sent you a code a moment ago").wait_for()
    shots(page, "expired and rate limited")

    for _ in range(8):
        code_input.fill(wrong)
        frame.get_by_role("button", name="Verify").click()
        locked = frame.get_by_text("Too many incorrect codes")
        try:
            locked.wait_for(timeout=2_000)
            break
        except Exception:  # noqa: S112 - still counting wrong codes
            continue
    assert locked.is_visible()
    assert code_input.is_disabled()
    shots(page, "locked")
    frame.get_by_role("button", name="Start over").click()
    heading_focused(frame, "Choose a date and time")

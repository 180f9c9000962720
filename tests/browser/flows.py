"""Steps through the widget that several browser tests share."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.browser.harness import ROOT, Server
from tests.support import normalise

READY_JS = "() => (window.__slotproofEvents || []).some(e => e.type === 'slotproof:ready')"


def widget_frame(page: Any) -> Any:
    """The widget's Frame (inside the loader's iframe)."""
    handle = page.wait_for_selector("iframe[title]", state="attached")
    frame = handle.content_frame()
    assert frame is not None
    return frame


def heading_focused(frame: Any, name: str) -> None:
    frame.wait_for_function(
        "name => document.activeElement && document.activeElement.id === 'sp-title'"
        " && document.activeElement.textContent === name",
        arg=name,
    )


MANNY = {"firstName": "Manny", "lastName": "Ager", "dateOfBirth": "1970-01-02"}


def book_via_api(
    server: Server, email: str, *, day_index: int = 1, patient: dict[str, str] | None = None
) -> dict[str, Any]:
    """Book the demo practice through the widget API (no browser): the manage tests start here."""
    api = httpx.Client(
        base_url=f"{server.url}/widget/v1", headers={"X-Widget-Key": server.key}, timeout=15
    )
    with api:
        config = api.get("/config").raise_for_status().json()
        started = api.post("/attempt", json={}).raise_for_status().json()
        api.headers["Authorization"] = f"Bearer {started['attemptToken']}"
        location = config["locations"][0]["id"]
        kind = config["appointmentTypes"][0]["id"]
        now = int(time.time() * 1000)
        found = api.get(
            "/availability",
            params={
                "startUnix": now,
                "endUnix": now + 40 * 86_400_000,
                "locationId": location,
                "appointmentTypeId": kind,
            },
        ).raise_for_status()
        days = [slots for slots in found.json()["slotsByDate"].values() if slots]
        slot = days[min(day_index, len(days) - 1)][0]
        practitioner, config_id = next(iter(slot["practitionerToConfig"].items()))
        body = {
            "appointmentTypeId": kind,
            "locationId": location,
            "practitionerId": int(practitioner),
            "schedulerConfigId": config_id,
            "startDateTime": slot["startDateTime"],
        }
        sent = time.time() - 1
        api.post("/attempt/send-code", json={"email": email}).raise_for_status()
        api.post("/attempt/hold", json=body).raise_for_status()  # held once a code was sent
        code = server.code_for(email, newer_than=sent)
        checked = api.post("/attempt/verify-code", json={"code": code, "email": email})
        assert checked.json()["verified"] is True, checked.text
        api.post("/attempt/patient", json=patient or MANNY).raise_for_status()
        booked = api.post("/attempt/appointment", json=body)
        assert booked.status_code == 201, booked.text
        return booked.json()


def to_contact_step(page: Any, server: Server) -> Any:
    """Open /demo and take the mouse to the code step; returns the widget frame."""
    page.goto(f"{server.url}/demo")
    frame = widget_frame(page)
    frame.get_by_label("Follow-up").check()
    frame.get_by_label("Riverside Family Health - Oakland").check()
    frame.get_by_role("button", name="Continue").click()
    frame.locator(".sp-day.sp-open").first.click()
    frame.locator(".sp-time").first.click()
    frame.get_by_role("heading", name="Confirm your email").wait_for()
    return frame


SIZES = {1280: {"width": 1280, "height": 900}, 320: {"width": 320, "height": 640}}


def step(frame: Any, name: str) -> Any:
    section = frame.locator(f'section[data-step="{name}"]')
    section.wait_for()
    return section


def no_axe_violations(target: Any, where: str) -> None:
    found = axe_violations(target)
    assert not found, f"{where}: {json.dumps(found, indent=1)}"


def no_overflow(frame: Any) -> None:
    width = frame.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert width <= 0, f"horizontal overflow of {width}px"


def no_clipped_buttons(frame: Any) -> None:
    """No button's label runs out of it (times never wrap, so they must fit)."""
    clipped = frame.evaluate(
        "() => [...document.querySelectorAll('button')]"
        ".filter(b => b.offsetParent && b.scrollWidth > b.clientWidth + 1).map(b => b.textContent)"
    )
    assert not clipped, f"labels wider than their buttons: {clipped}"


def open_widget(page: Any, server: Server, lang: str) -> Any:
    page.goto(f"{server.url}/demo" + ("?lang=es" if lang == "es" else ""))
    frame = widget_frame(page)
    page.wait_for_function(READY_JS)
    return frame


def to_times(frame: Any, *, location_index: int = 0) -> None:
    step(frame, "service")
    frame.locator("#sp-type input").first.check()
    frame.locator("#sp-loc input").nth(location_index).check()
    frame.locator('section[data-step="service"] button[type="submit"]').click()
    step(frame, "time")
    frame.locator(".sp-time").first.wait_for()


def pick_time(frame: Any, index: int) -> str:
    """Each test its own time (holds of other tests' attempts last 10 minutes); its label."""
    times = frame.locator(".sp-time")
    chosen = times.nth(index % times.count())
    label = chosen.inner_text()
    chosen.click()
    return label


def send_code(frame: Any, server: Server, email: str) -> str:
    frame.locator("#sp-contact").fill(email)
    sent = time.time() - 0.05  # not a code written just before (the same address may have one)
    frame.locator('#sp-contact ~ * , form button[type="submit"]').last.click()
    frame.locator("#sp-code").wait_for()
    return server.code_for(email, newer_than=sent)


def enter_code(frame: Any, code: str) -> None:
    frame.locator("#sp-code").fill(code)
    frame.locator('#sp-code-area button[type="submit"]').click()


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def fill_patient(frame: Any, first="Pat", last="Quintero", dob=("7", "31", "1985")) -> None:
    frame.locator("#sp-first").fill(first)
    frame.locator("#sp-last").fill(last)
    for part, value in zip(("m", "d", "y"), dob, strict=True):
        frame.locator(f"#sp-dob-{part}").fill(value)
    frame.locator('section[data-step="patient"] button[type="submit"]').click()


def to_review(page: Any, server: Server, lang: str, email: str, *, time_index: int) -> Any:
    """Take the demo's first type and location in the widget with the mouse to the review
    step, the `time_index`-th time of the first open day held; returns the frame."""
    frame = open_widget(page, server, lang)
    to_times(frame)
    pick_time(frame, time_index)
    enter_code(frame, send_code(frame, server, email))
    step(frame, "patient")
    fill_patient(frame)
    step(frame, "review")
    return frame


def book_in_widget(page: Any, server: Server, lang: str, email: str, *, time_index: int) -> Any:
    """Book the demo's first type and location in the widget with the mouse, the
    `time_index`-th time of the first open day; returns the frame on the confirmation step."""
    frame = to_review(page, server, lang, email, time_index=time_index)
    frame.locator('section[data-step="review"] .sp-actions .sp-btn').first.click()
    step(frame, "confirmation")
    return frame


FAIL = "fail"


def shorten_holds(page: Any, seconds: Callable[[int], int | str | None]) -> list[int]:
    """The server's holds last 10 minutes; shortened on their way to the browser, a hold's
    whole life plays out in seconds. The n-th answer to POST /attempt/hold (from 1) expires
    `seconds(n)` seconds from now; FAIL answers 503 instead (a renewal that does not get
    through), None passes the server's answer on as it is. Returns the numbers of the
    answers so far (a list that grows). Undo with `page.unroute_all(behavior="ignoreErrors")`."""
    answers: list[int] = []

    def shortened(route: Any) -> None:
        answers.append(len(answers) + 1)
        wanted = seconds(len(answers))
        if wanted == FAIL:
            route.fulfill(status=503, json={"code": "database_unavailable", "status": 503})
            return
        try:
            response = route.fetch()
            body = response.json()
        except Exception:
            return
        if wanted is not None:
            expires = datetime.now(UTC) + timedelta(seconds=float(wanted))
            body["expiresAt"] = expires.isoformat()
        route.fulfill(response=response, json=body)

    page.route("**/widget/v1/attempt/hold", shortened)
    return answers


def hold_seconds(frame: Any) -> int:
    """The seconds the hold's countdown shows ('… for 9:58.' -> 598)."""
    found = re.search(r"(\d+):(\d\d)\.?$", normalise(frame.locator("#sp-hold").inner_text()))
    assert found, frame.locator("#sp-hold").inner_text()
    return int(found[1]) * 60 + int(found[2])


FOCUSED_JS = """() => { const a = document.activeElement;
  return { inFrame: document.hasFocus(), id: a.id, name: a.getAttribute('name'),
    tag: a.tagName.toLowerCase(), text: (a.textContent || '').trim(), cls: a.className || '',
    day: a.dataset.day, tabindex: a.getAttribute('tabindex') }; }"""


def focused(frame: Any) -> dict[str, Any]:
    """What has the keyboard's focus in `frame` (and whether the frame has it at all)."""
    return frame.evaluate(FOCUSED_JS)


def tab_to(page: Any, frame: Any, wanted: Callable[[dict[str, Any]], bool], limit: int = 80):
    """Press Tab until the focused element of `frame` is `wanted` (tested on `focused`)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        now = focused(frame)
        if now["inFrame"] and wanted(now):
            return now
    raise AssertionError("never reached by Tab")


AXE = ROOT / "widget" / "node_modules" / "axe-core" / "axe.min.js"


def axe_violations(frame: Any) -> list[dict[str, Any]]:
    """axe-core (widget/package.json, installed by `make browser-deps`) run in a page or frame:
    WCAG 2.1 A/AA and best-practice rules. Evaluated through DevTools, so the frame's strict
    CSP (no inline script) does not stop it."""
    if not AXE.exists():
        message = "axe-core is not installed: run `make browser-deps` (npm ci in widget/)"
        if os.environ.get("SLOTPROOF_REQUIRE_BROWSER") == "1":
            raise AssertionError(message)
        pytest.skip(message)
    if not frame.evaluate("() => typeof window.axe === 'object'"):
        frame.evaluate(AXE.read_text())
    found = frame.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations'],
            runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa',
                                            'best-practice']}})).violations
            .map(v => ({id: v.id, impact: v.impact,
                        nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))"""
    )
    return found

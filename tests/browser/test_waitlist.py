"""The waitlist as a patient sees it, in English and Spanish, axe-clean: the "earlier time"
request on the widget's confirmation step (by keyboard, at 1280 and 320 px) and on the manage
page, then — after another patient cancels an earlier time, matched by the server's own
background loop — the offer link from the message, claimed with one button."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.embed.assets import FILES
from tests.browser.flows import (
    SIZES,
    book_in_widget,
    book_via_api,
    focused,
    no_axe_violations,
    no_overflow,
    tab_to,
)
from tests.browser.harness import Server, Shots, needs_browser, unique_email

pytestmark = needs_browser

TITLES = {
    "en": ("Ask for an earlier time", "A time opened up for you", "Move my appointment here",
           "Your appointment has moved"),
    "es": ("Pedir una hora más temprana", "Se liberó un horario para usted",
           "Cambiar mi cita a esta hora", "Su cita ha cambiado"),
}  # fmt: skip


def partner(server: Server) -> httpx.Client:
    demo = server.demo
    token = httpx.post(
        f"{server.url}/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": demo["clientId"],
            "client_secret": demo["clientSecret"],
        },
    ).json()["access_token"]
    return httpx.Client(
        base_url=f"{server.url}/partner/v2/account/{demo['accountId']}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=15,
    )


@pytest.fixture
def waitlist_on(server: Server) -> Iterator[None]:
    """The demo setting keeps a waitlist (one offer per freed slot) for one test."""
    with partner(server) as p:
        path = f"/self-scheduling/setting/{server.demo['settingId']}"
        before = p.get(path).raise_for_status().json()["waitlist"]
        r = p.put(path, json={"waitlist": {"enabled": True, "offersPerSlot": 1}})
        assert r.status_code == 200, r.text
        yield
        p.put(path, json={"waitlist": before}).raise_for_status()


def book(server: Server, email: str, *, practitioner: int | None, before: str | None) -> dict:
    """Book the demo's first location and type through the widget API: the first open slot
    (of `practitioner`, before `before` when given), or the last one in 40 days."""
    api = httpx.Client(
        base_url=f"{server.url}/widget/v1", headers={"X-Widget-Key": server.key}, timeout=15
    )
    with api:
        config = api.get("/config").raise_for_status().json()
        started = api.post("/attempt", json={}).raise_for_status().json()
        api.headers["Authorization"] = f"Bearer {started['attemptToken']}"
        location, kind = config["locations"][0]["id"], config["appointmentTypes"][0]["id"]
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
        slots = [
            (slot, int(pid), cid)
            for day in found.json()["slotsByDate"].values()
            for slot in day
            for pid, cid in slot["practitionerToConfig"].items()
            if practitioner is None or int(pid) == practitioner
        ]
        if before is not None:
            slots = [s for s in slots if s[0]["startUnix"] < before]
        slot, pid, config_id = slots[0] if before is not None else slots[-1]
        sent = time.time() - 1
        api.post("/attempt/send-code", json={"email": email}).raise_for_status()
        code = server.code_for(email, newer_than=sent)
        assert api.post("/attempt/verify-code", json={"code": code, "email": email}).json()[
            "verified"
        ]
        api.post(
            "/attempt/patient",
            json={"firstName": "Wendy", "lastName": "Waits", "dateOfBirth": "1970-01-02"},
        ).raise_for_status()
        body = {
            "appointmentTypeId": kind,
            "locationId": location,
            "practitionerId": pid,
            "schedulerConfigId": config_id,
            "startDateTime": slot["startDateTime"],
        }
        api.post("/attempt/hold", json=body).raise_for_status()
        booked = api.post("/attempt/appointment", json=body)
        assert booked.status_code == 201, booked.text
        return {**booked.json(), "startUnix": slot["startUnix"]}


def offer_link(server: Server, to: str, timeout: float = 60.0) -> str:
    """The link of the waitlist offer written to the file outbox for `to`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in Path(server.outbox).glob("*.json"):
            try:
                message = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if message.get("to") == to and message.get("purpose") == "waitlist_offer":
                return re.search(r"https?://\S+#offer=of_[\w-]+", message["body"]).group(0)
        time.sleep(0.2)
    raise AssertionError(f"no waitlist offer for {to} within {timeout}s")


@pytest.mark.parametrize("lang", ["en", "es"])
def test_earlier_request_then_the_offer_link_moves_the_appointment(
    server: Server, new_page: Any, lang: str, problems: list, waitlist_on: None
) -> None:
    ask, offered, take, moved = TITLES[lang]
    my_email = unique_email()
    mine = book(server, my_email, practitioner=None, before=None)
    doctor = mine["appointment"]["practitionerId"]
    earlier = book(server, unique_email(), practitioner=doctor, before=mine["startUnix"])

    page = new_page(locale="es-US" if lang == "es" else "en-US")
    page.goto(mine["manageUrl"].replace("#manage", f"?lang={lang}#manage"))
    page.get_by_role("button", name=ask).click()
    page.locator(".sp-earlier .sp-note").wait_for()
    no_axe_violations(page, f"{lang} manage: earlier asked")
    entry = server.db(
        "SELECT kind, locale FROM waitlist_entries WHERE appointment_id = $1 AND status = 'ACTIVE'",
        mine["appointment"]["id"],
    )
    assert [tuple(r) for r in entry] == [("EARLIER", lang)]

    # another patient cancels the earlier time: the server's own matcher offers it
    cancelled = httpx.post(f"{server.url}/widget/v1/manage/{earlier['manageToken']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    link = offer_link(server, my_email)
    assert f"?lang={lang}#offer=" in link

    page.goto("about:blank")  # as from the message: a fresh page, not a fragment change
    page.goto(link)
    page.get_by_role("heading", name=offered).wait_for()
    no_axe_violations(page, f"{lang} offer")
    page.get_by_role("button", name=take).click()
    page.get_by_role("heading", name=moved).wait_for()
    no_axe_violations(page, f"{lang} offer claimed")
    row = server.db("SELECT start_at FROM appointments WHERE id = $1", mine["appointment"]["id"])
    assert int(row[0]["start_at"].timestamp() * 1000) == earlier["startUnix"]

    page.reload()  # the link now says the offer was taken up
    page.locator('section[data-step="offer-ended"]').wait_for()
    no_axe_violations(page, f"{lang} offer after the claim")
    assert not problems, problems


def test_a_guessed_offer_link_says_so(server: Server, page: Any) -> None:
    page.goto(f"{server.url}/widget/v1/frame#offer=of_not-a-real-token")
    page.get_by_role("heading", name="Offer not found").wait_for()
    no_axe_violations(page, "unknown offer")


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_confirmation_step_asks_for_an_earlier_time_by_keyboard(
    server: Server, new_page: Any, lang: str, shots: Shots, problems: list, waitlist_on: None
) -> None:
    ask = TITLES[lang][0]
    asked = FILES.strings()[lang]["earlierOn"]
    page = new_page(viewport=SIZES[1280], locale="es-US" if lang == "es" else "en-US")
    frame = book_in_widget(page, server, lang, unique_email(), time_index=11 + (lang == "es"))
    booked = page.evaluate(
        "() => window.__slotproofEvents.find(e => e.type === 'slotproof:booked').appointmentId"
    )
    manage_url = frame.locator("#sp-manage-link").get_attribute("href")
    token = manage_url.split("#manage=")[1]
    frame.wait_for_function("() => document.activeElement.id === 'sp-title'")

    def looks_right(width: int, label: str) -> None:
        page.set_viewport_size(SIZES[width])
        frame.wait_for_function(f"() => window.innerWidth <= {width}")
        no_overflow(frame)
        no_axe_violations(frame, f"{lang} {width} confirmation: {label}")
        shots(page, f"{label} {width}")

    looks_right(1280, "confirmation")
    looks_right(320, "confirmation")
    # the keyboard alone, from the heading that has the focus: Tab to the button, Enter
    button = tab_to(page, frame, lambda a: a["tag"] == "button", limit=10)
    assert button["text"] == ask
    page.keyboard.press("Enter")
    frame.locator(".sp-earlier .sp-note").wait_for()
    assert frame.get_by_role("button", name=ask).count() == 0
    assert (focused(frame)["cls"], focused(frame)["text"]) == ("sp-note", asked)
    looks_right(320, "earlier asked")
    looks_right(1280, "earlier asked")

    entries = server.db(
        "SELECT id, kind, locale, status FROM waitlist_entries WHERE appointment_id = $1", booked
    )
    assert [tuple(e)[1:] for e in entries] == [("EARLIER", lang, "ACTIVE")]
    # asking again (the manage link, another tab) is the same request, not a second entry
    again = httpx.post(f"{server.url}/widget/v1/manage/{token}/earlier", json={"lang": lang})
    assert again.status_code == 200 and again.json()["waitlistEntryId"] == entries[0]["id"]
    page.goto(manage_url)
    page.locator(".sp-earlier .sp-note").wait_for()
    assert page.get_by_role("button", name=ask).count() == 0
    count = "SELECT count(*) FROM waitlist_entries WHERE appointment_id = $1"
    assert server.db(count, booked)[0][0] == 1

    # cancelled, its request ends: no offer of a later test goes to this one
    cancelled = httpx.post(f"{server.url}/widget/v1/manage/{token}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert not problems, problems


def test_an_earlier_request_the_practice_no_longer_takes_says_so(
    server: Server, page: Any, problems: list, waitlist_on: None
) -> None:
    """The practice turns its waitlist off while the page is open: the button gives way to a
    note (focused, as after asking), not to an error with a "start over"."""
    booked = book_via_api(server, unique_email(), day_index=3)
    page.goto(booked["manageUrl"])
    ask = page.get_by_role("button", name=TITLES["en"][0])
    ask.wait_for()
    with partner(server) as p:
        r = p.put(
            f"/self-scheduling/setting/{server.demo['settingId']}",
            json={"waitlist": {"enabled": False}},
        )
        assert r.status_code == 200, r.text
    ask.click()
    note = page.locator(".sp-earlier .sp-note")
    note.wait_for()
    assert note.inner_text() == FILES.strings()["en"]["earlierClosed"]
    assert focused(page.main_frame)["cls"] == "sp-note"
    assert page.locator(".sp-alert").count() == 0
    no_axe_violations(page, "manage: earlier closed")
    entries = "SELECT count(*) FROM waitlist_entries WHERE appointment_id = $1"
    assert server.db(entries, booked["appointment"]["id"])[0][0] == 0
    # Chromium logs every 4xx answer to fetch() as a console error: the 422 and nothing else
    assert [p for p in problems if "status of 422" not in p] == [], problems
    assert len(problems) == 1, problems

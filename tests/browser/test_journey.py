"""The patient's journey through every step, as a patient sees it: in English and Spanish, at
1280 and 320 px, with axe-core on every step (0 violations), a screenshot of each into
artifacts/screens/<lang>-<width>/ (`make screenshots`), and the issue-13 bugs a patient hit:
tries left and a locked code (3), a code sent from another tab (4), a named alternative (5),
practitioners per location and the booking horizon (6), the hold's countdown, renewal and
lapse on every step after the time, review included (7), a red, announced date-of-birth error
(8), an existing visit (9), a reload (10)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

import pytest

from app.embed.assets import FILES
from app.notifications.formats import human_when
from tests.browser.flows import (
    FAIL,
    MANNY,
    SIZES,
    book_via_api,
    enter_code,
    fill_patient,
    focused,
    hold_seconds,
    no_axe_violations,
    no_clipped_buttons,
    no_overflow,
    normalise,
    open_widget,
    pick_time,
    send_code,
    shorten_holds,
    step,
    tab_to,
    to_review,
    to_times,
    widget_frame,
    wrong,
)
from tests.browser.harness import ARTIFACTS, Server, Shots, needs_browser, unique_email

pytestmark = needs_browser

SCREENS = ARTIFACTS.parent / "screens"


@pytest.mark.parametrize("width", [1280, 320])
@pytest.mark.parametrize("lang", ["en", "es"])
def test_every_step_in_both_languages_passes_axe(
    server: Server, new_page: Any, lang: str, width: int, problems: list
) -> None:
    page = new_page(viewport=SIZES[width], locale="es-US" if lang == "es" else "en-US")
    shots = Shots(SCREENS / f"{lang}-{width}")
    frame = open_widget(page, server, lang)
    no_axe_violations(page, "demo page")  # scrollable-region-focusable among them
    email = unique_email()

    def check(name: str) -> None:
        no_axe_violations(frame, f"{lang} {width} {name}")
        no_clipped_buttons(frame)
        if width == 320:
            no_overflow(frame)
        shots(page, name)

    step(frame, "service")
    check("service")
    to_times(frame)
    assert frame.locator("#sp-next-available").is_visible()
    check("time")
    frame.locator(".sp-time").first.click()
    step(frame, "contact")
    check("contact")
    code = send_code(frame, server, email)
    check("code")
    enter_code(frame, wrong(code))
    frame.locator("#sp-code-err:not([hidden])").wait_for()
    check("code wrong")
    enter_code(frame, code)
    step(frame, "patient")
    # the hold counts down on every later step
    assert re.search(r" (9|10):\d\d\.$", frame.locator("#sp-hold").inner_text())
    check("patient")
    fill_patient(frame, dob=("2", "30", "1985"))
    frame.locator("#sp-dob-err:not([hidden])").wait_for()
    check("patient error")
    fill_patient(frame)
    step(frame, "review")
    check("review")
    frame.locator('section[data-step="review"] .sp-actions .sp-btn').first.click()
    step(frame, "confirmation")
    check("confirmation")
    manage = frame.locator("#sp-manage-link").get_attribute("href")
    page.goto(manage.replace("#manage", f"?lang={lang}#manage"))
    page.locator('section[data-step="manage"]').wait_for()
    no_axe_violations(page, f"{lang} {width} manage")
    shots(page, "manage")
    assert not problems, problems


def test_tries_left_then_locked_says_what_to_do(server: Server, page: Any, shots: Shots) -> None:
    frame = open_widget(page, server, "en")
    to_times(frame)
    pick_time(frame, 3)
    code = send_code(frame, server, unique_email())
    error = frame.locator("#sp-code-err")
    for left in (4, 3, 2):
        enter_code(frame, wrong(code))
        frame.get_by_text(f"You have {left} tries left.").wait_for()
    enter_code(frame, wrong(code))
    frame.get_by_text("You have 1 try left.").wait_for()
    assert error.get_attribute("role") is None and "try" in error.inner_text()
    enter_code(frame, wrong(code))
    frame.get_by_text("this booking can no longer verify").wait_for()
    assert frame.locator("#sp-code").is_disabled()
    assert frame.get_by_role("button", name="Verify").is_disabled()
    assert frame.get_by_role("button", name="Resend code").is_disabled()
    assert frame.get_by_role("button", name="Start over").is_enabled()
    assert "(212) 555-0100" in frame.locator(".sp-alert").inner_text()
    shots(page, "locked")


def test_a_code_sent_from_another_tab_is_not_offered_as_ours(
    server: Server, new_page: Any, shots: Shots
) -> None:
    email = unique_email()
    first, second = new_page(), new_page()
    one = open_widget(first, server, "en")
    to_times(one)
    pick_time(one, 9)
    send_code(one, server, email)
    two = open_widget(second, server, "en")
    to_times(two)
    pick_time(two, 10)
    two.locator("#sp-contact").fill(email)
    two.get_by_role("button", name="Send code").click()
    two.get_by_text("from another booking window").wait_for()
    assert two.locator("#sp-code").count() == 0  # no code field for a code that would fail
    shots(second, "other tab")


def test_an_alternative_with_someone_else_is_named(server: Server, page: Any) -> None:
    frame = open_widget(page, server, "en")
    to_times(frame)
    pick_time(frame, 5)
    email = unique_email()

    def taken(route: Any) -> None:
        body = json.loads(route.request.post_data)
        start = body["startDateTime"]
        route.fulfill(
            status=409,
            content_type="application/problem+json",
            body=json.dumps({
                "type": "about:blank", "title": "Conflict", "status": 409,
                "code": "slot_unavailable", "detail": "That time is no longer available.",
                "alternatives": [{
                    "startDateTime": start,
                    "startUnix": int(datetime.fromisoformat(start).timestamp() * 1000),
                    "practitionerId": 999, "practitionerName": "Ben Okafor, NP",
                    "schedulerConfigId": body["schedulerConfigId"],
                    "locationId": body["locationId"],
                }],
            }),
        )  # fmt: skip

    page.route("**/widget/v1/attempt/hold", taken)
    send_code(frame, server, email)
    frame.get_by_role("button", name=re.compile(r"with Ben Okafor, NP$")).wait_for()


def test_practitioners_follow_the_location_and_months_stop_at_the_horizon(
    server: Server, page: Any, shots: Shots
) -> None:
    frame = open_widget(page, server, "en")
    step(frame, "service")
    frame.get_by_label("Follow-up").check()
    frame.get_by_label("Riverside Family Health - Oakland").check()
    names = frame.locator("#sp-prac option").all_inner_texts()
    assert "Ben Okafor, NP" not in names  # Brooklyn only
    assert {"Ana Ruiz, MD", "Chloe Park, DO"} <= set(names), names
    frame.get_by_label("Riverside Family Health - Brooklyn").check()
    assert "Ben Okafor, NP" in frame.locator("#sp-prac option").all_inner_texts()
    shots(page, "brooklyn practitioners")
    frame.get_by_role("button", name="Continue").click()
    step(frame, "time")
    frame.locator(".sp-time").first.wait_for()
    nxt = frame.locator('[data-nav="next"]')
    pages = 0
    while nxt.is_enabled():
        nxt.click()
        frame.locator('.sp-calendar-area:not([aria-busy="true"]) .sp-grid').wait_for()
        pages += 1
        assert pages <= 3, "paged past a 60-day horizon"
    shots(page, "last month")


def test_the_hold_counts_down_is_renewed_and_says_when_it_lapsed(
    server: Server, page: Any, shots: Shots, problems: list
) -> None:
    """The hold's answers are shortened (100 s, then 3 s, then the renewal fails), so the
    whole life of a hold plays out in seconds."""
    answers = shorten_holds(page, lambda n: 100 if n == 1 else 3 if n == 2 else FAIL)
    frame = open_widget(page, server, "en")
    to_times(frame)
    pick_time(frame, 6)
    hold = frame.locator("#sp-hold")
    send_code(frame, server, unique_email())  # held once the code went out
    # 100 s left and the patient active: renewed at once (to 3 s), then the renewal fails
    frame.get_by_text("the hold has ended").wait_for()
    assert len(answers) >= 3, answers
    assert frame.get_by_role("button", name="Hold it again").is_visible()
    assert hold.inner_text() == ""
    shots(page, "lapsed")
    page.unroute_all(behavior="ignoreErrors")


@pytest.mark.parametrize("width", [1280, 320])
@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_review_step_counts_the_hold_down(
    server: Server, new_page: Any, shots: Shots, lang: str, width: int, problems: list
) -> None:
    """Review is the last moment before Book: the hold's countdown ticks there too, quietly
    (not a live region: only its lapse is announced), and the time reads as the patient's
    messages write it (es: '2:30 p. m.', not '14:30')."""
    page = new_page(viewport=SIZES[width], locale="es-US" if lang == "es" else "en-US")
    with page.expect_request("**/widget/v1/attempt/hold") as held:
        frame = to_review(
            page, server, lang, unique_email(), time_index=12 + 2 * (lang == "es") + (width == 320)
        )
    first = hold_seconds(frame)
    assert 500 < first <= 600, first
    for _ in range(20):
        page.wait_for_timeout(250)
        if hold_seconds(frame) < first:
            break
    assert hold_seconds(frame) < first, "the countdown on the review step does not count"
    assert frame.locator("#sp-hold").evaluate(
        "e => !e.closest('[aria-live], [role=status], [role=alert], [role=log], [role=timer]')"
    )
    chosen = json.loads(held.value.post_data)
    [location] = server.db("SELECT time_zone FROM locations WHERE id = $1", chosen["locationId"])
    message = human_when(
        datetime.fromisoformat(chosen["startDateTime"]), location["time_zone"], lang
    )  # '… a las 2:30 p. m. EST'
    shown = normalise(frame.locator('section[data-step="review"] .sp-details').inner_text())
    assert message.rsplit(" ", 1)[0] in shown, (message, shown)
    no_axe_violations(frame, f"{lang} {width} review")
    if width == 320:
        no_overflow(frame)
    shots(page, "review")
    assert not problems, problems


@pytest.mark.parametrize("width", [1280, 320])
@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_review_step_renews_the_hold_and_says_when_it_lapsed(
    server: Server, new_page: Any, shots: Shots, lang: str, width: int, problems: list
) -> None:
    """Holds shortened to 130 s are renewed every few seconds while the patient is active.
    Once on the review step the next renewal answers 3 s and those after it fail, so the hold
    lapses there: an alert says so, its actions are reached by keyboard, and holding the time
    again brings the countdown back."""
    text = FILES.strings()[lang]
    page = new_page(viewport=SIZES[width], locale="es-US" if lang == "es" else "en-US")
    plan: dict[str, Any] = {"armed": None, "done": False}

    def seconds(n: int) -> int | str | None:
        if plan["done"]:
            return None
        if plan["armed"] is None:
            return 130
        return 3 if n == plan["armed"] + 1 else FAIL

    answers = shorten_holds(page, seconds)
    frame = to_review(
        page, server, lang, unique_email(), time_index=16 + 2 * (lang == "es") + (width == 320)
    )
    plan["armed"] = len(answers)
    review = step(frame, "review")
    lapse = review.locator('.sp-alert[role="alert"]', has_text=text["holdLapsed"])
    lapse.wait_for(timeout=30_000)
    assert len(answers) > plan["armed"], "not renewed on the review step"
    assert frame.locator("#sp-hold").inner_text() == ""
    no_axe_violations(frame, f"{lang} {width} review, hold lapsed")
    if width == 320:
        no_overflow(frame)
    shots(page, "lapsed")
    plan["done"] = True  # the server's own answers again
    tab_to(page, frame, lambda a: a["text"] == text["holdAgain"])
    page.keyboard.press("Tab")
    assert focused(frame)["text"] == text["pickAnother"]
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    lapse.wait_for(state="detached")
    frame.locator("#sp-hold:not(:empty)").wait_for()
    assert hold_seconds(frame) > 500
    assert focused(frame)["id"] == "sp-hold"  # not lost with the alert's button
    shots(page, "held again")
    page.unroute_all(behavior="ignoreErrors")
    assert not [p for p in problems if "status of 503" not in p], problems  # but ours


def test_a_hold_that_lapsed_before_the_review_is_said_there_too(
    server: Server, page: Any, problems: list
) -> None:
    """A hold of 3 s whose renewals fail, and so does holding it again once the code is
    verified: the hold placed first stays shown and lapses, and every later step says so,
    the review step too (not only the step where it lapsed) — and the notice of the
    patient's existing visit there does not remove it."""
    email = unique_email()
    book_via_api(server, email, patient=MANNY, day_index=4)
    # as if a minute had passed: the contact's send cooldown (the server's clock is real)
    server.db("UPDATE identity_codes SET created_at = created_at - interval '2 minutes'")
    shorten_holds(page, lambda n: 3 if n == 1 else FAIL)
    frame = open_widget(page, server, "en")
    to_times(frame)  # the type and location book_via_api books
    pick_time(frame, 20)
    enter_code(frame, send_code(frame, server, email))
    lapsed = "We held this time for you, but the hold has ended"
    step(frame, "patient").get_by_text(lapsed).wait_for()
    fill_patient(frame, "Manny", "Ager", ("1", "2", "1970"))
    review = step(frame, "review")
    review.get_by_text("You already have a").wait_for()
    assert review.get_by_text(lapsed).is_visible()
    assert frame.get_by_role("button", name="Hold it again").is_visible()
    page.unroute_all(behavior="ignoreErrors")
    assert not [p for p in problems if "status of 503" not in p], problems  # but ours


def test_a_bad_date_of_birth_is_red_and_announced(server: Server, page: Any) -> None:
    frame = open_widget(page, server, "en")
    to_times(frame)
    pick_time(frame, 7)
    code = send_code(frame, server, unique_email())
    enter_code(frame, code)
    step(frame, "patient")
    fill_patient(frame, dob=("2", "30", "1985"))
    error = frame.locator("#sp-dob-err")
    error.wait_for()
    for part in ("m", "d", "y"):
        field = frame.locator(f"#sp-dob-{part}")
        assert field.get_attribute("aria-invalid") == "true"  # not the empty string
        assert "sp-dob-err" in field.get_attribute("aria-describedby")
    assert error.evaluate("e => getComputedStyle(e).color") == "rgb(179, 38, 30)"
    assert frame.evaluate("() => document.activeElement.id") == "sp-dob-m"
    frame.wait_for_function(
        "() => document.getElementById('sp-status').textContent.includes('fix the highlighted')"
    )


def test_an_existing_visit_is_offered_to_manage_instead(server: Server, page: Any) -> None:
    email = unique_email()
    patient = {"firstName": "Ida", "lastName": "Twice", "dateOfBirth": "1980-04-05"}
    booked = book_via_api(server, email, patient=patient, day_index=2)
    # as if a minute had passed: the contact's send cooldown (the server's clock is real)
    server.db("UPDATE identity_codes SET created_at = created_at - interval '2 minutes'")
    frame = open_widget(page, server, "en")
    step(frame, "service")
    frame.get_by_label("New patient visit").check()  # the type book_via_api books
    frame.locator("#sp-loc input").first.check()
    frame.get_by_role("button", name="Continue").click()
    frame.locator(".sp-time").nth(2).click()
    enter_code(frame, send_code(frame, server, email))
    step(frame, "patient")
    fill_patient(frame, "Ida", "Twice", ("4", "5", "1980"))
    step(frame, "review")
    notice = frame.get_by_text("You already have a New patient visit")
    notice.wait_for()
    link = frame.locator("#sp-manage-existing").get_attribute("href")
    assert "#manage=mg_" in link
    with page.expect_popup() as popup:
        frame.locator("#sp-manage-existing").click()
    shown = popup.value
    shown.locator('section[data-step="manage"]').wait_for()
    start = datetime.fromisoformat(booked["appointment"]["startDateTime"])
    # the same appointment opens: its time (in the location's offset, as booked)
    assert start.strftime("%I:%M %p").lstrip("0") in normalise(
        shown.locator(".sp-details").inner_text()
    )


def test_a_reload_resumes_with_the_time_still_held(server: Server, page: Any, shots: Shots) -> None:
    frame = open_widget(page, server, "en")
    to_times(frame)
    chosen = pick_time(frame, 8)
    send_code(frame, server, unique_email())
    frame.locator("#sp-hold").wait_for()  # held (right after the code went out)
    page.reload()
    frame = widget_frame(page)
    box = frame.locator("#sp-chosen")
    box.wait_for()
    assert chosen.split("\n")[0] in box.inner_text()
    assert frame.locator("#sp-hold").inner_text().startswith("We're holding this time")
    step(frame, "contact")
    shots(page, "resumed")
    # only the attempt token is kept, in the frame's own storage: never what was typed
    stored = frame.evaluate("() => JSON.stringify(sessionStorage)")
    assert "@example.com" not in stored and "at_" in stored

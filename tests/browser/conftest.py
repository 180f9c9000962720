"""Fixtures of the browser tests: one real server for the session, one Chromium for the session,
a fresh browser context (no cookies, no storage) per test. See harness.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.harness import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_FLAGS,
    Server,
    Shots,
    browser_missing,
    start_server,
    stop_server,
)


@pytest.fixture(scope="session")
def server(admin_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if reason := browser_missing():
        pytest.skip(reason)
    srv, proc, name = start_server(admin_database_url, tmp_path_factory.mktemp("browser-server"))
    try:
        yield srv
    finally:
        stop_server(proc, admin_database_url, name)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Per module, not per session: while Playwright's sync API is started, its event loop
    counts as running in this thread, and pytest-asyncio's async tests elsewhere cannot run."""
    if reason := browser_missing():
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    chromium = playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True
    )
    try:
        yield chromium
    finally:
        chromium.close()
        playwright.stop()


class PageProblems(list):
    """JavaScript errors and console errors (CSP violations among them) seen by a page."""


@pytest.fixture
def problems() -> PageProblems:
    return PageProblems()


def _context(browser: Any, problems: PageProblems, **options: Any) -> Any:
    context = browser.new_context(
        **{
            "viewport": {"width": 1000, "height": 900},
            # not the practice's zone: times must still show in the location's zone
            "timezone_id": "Europe/Berlin",
            "locale": "en-US",
            "accept_downloads": True,
            **options,
        }
    )
    context.set_default_timeout(15_000)

    def watch(page: Any) -> None:
        page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
        page.on(
            "console",
            lambda msg: (
                problems.append(f"console.{msg.type}: {msg.text}") if msg.type == "error" else None
            ),
        )

    context.on("page", watch)
    return context


@pytest.fixture
def new_page(browser: Any, problems: PageProblems) -> Iterator[Any]:
    """new_page(**context_options) -> a page in a fresh context, closed after the test."""
    contexts: list[Any] = []

    def make(**options: Any) -> Any:
        context = _context(browser, problems, **options)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page: Any) -> Any:
    return new_page()


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Shots:
    return Shots(ARTIFACTS / request.node.name)

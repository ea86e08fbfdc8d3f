"""Playwright on the system Chromium (Debian's ``chromium`` package), headless.

No browser download: Playwright drives ``/usr/bin/chromium`` (or ``$PORTAL_CHROMIUM``).
Without Chromium the tests skip — unless ``PORTAL_REQUIRE_BROWSER=1`` (set in CI), where a
missing browser is a failure.
"""

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connections

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str | None:
    for candidate in (
        os.environ.get("PORTAL_CHROMIUM"),
        "/usr/bin/chromium",
        shutil.which("chromium"),
    ):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


@pytest.fixture
def chromium_browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    executable = _chromium()
    if executable is None:
        if os.environ.get("PORTAL_REQUIRE_BROWSER") == "1":
            pytest.fail(
                "Chromium not found: apt-get install -y chromium (PORTAL_REQUIRE_BROWSER=1)"
            )
        pytest.skip("Chromium not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls
    # (fixtures, assertions) are synchronous and safe here. Only for this test.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium_browser: Any, request: Any) -> Iterator[Any]:
    mobile = request.node.get_closest_marker("mobile") is not None
    context = chromium_browser.new_context(
        viewport={"width": 390, "height": 844} if mobile else {"width": 1280, "height": 900},
        locale="zh-CN",
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()
    # With Playwright's event loop running, Django keeps this test's database connection
    # apart from the thread's usual one; close it, or it outlives the test database.
    connections.close_all()

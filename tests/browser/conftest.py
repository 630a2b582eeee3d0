"""Real headless Chromium (Debian's, /usr/bin/chromium) driven by Playwright, and a real server.

Playwright's own browser downloads are never used: CI installs Debian's `chromium` (.ci/run).
"""
from __future__ import annotations

import os

import pytest
from playwright.sync_api import sync_playwright

from tests.api.conftest import live  # noqa: F401 - the same real server as the API tests

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage"]


@pytest.fixture
def page():
    """A page in a fresh headless Chromium, closed after the test.

    Function-scoped on purpose: while the sync API is open it keeps an event loop marked as
    running in this thread, and pytest-asyncio cannot run the async tests that follow."""
    assert os.access(CHROMIUM, os.X_OK), f"no Chromium at {CHROMIUM}: apt-get install -y chromium (see .ci/run)"
    with sync_playwright() as pw:
        # launch() gives the browser a fresh temporary profile and deletes it on close.
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, timeout=60_000)
        try:
            page = browser.new_page()
            page.set_default_timeout(30_000)
            yield page
        finally:
            browser.close()

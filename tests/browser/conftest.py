"""Browser tests: Playwright driving Debian's Chromium (never a downloaded browser build).

Without /usr/bin/chromium (or LEADOPS_CHROMIUM) they are skipped with the reason, except when
CI=true, where a missing browser fails the run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("LEADOPS_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# Flags for a closed network and a root user (see the machine notes in README).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        reason = f"no Chromium at {CHROMIUM}: apt-get install chromium to run browser tests"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread, so Django would refuse ORM calls
    # from test bodies and fixtures. Browser tests run last (tests/conftest.py), so the flag
    # reaches no other test.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    yield page
    context.close()


def screenshot(page, name: str) -> Path:
    """Save a screenshot under test-artifacts/ for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def log_in(page, username: str) -> None:
    """Log in through the admin's own form, as a person would."""
    from tests.factories import TEST_PASSWORD

    page.goto("/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", TEST_PASSWORD)
    page.click("input[type=submit]")


@pytest.fixture
def worker_in_process():
    """The worker's part runs in the web process (Celery eager); the broker path has its own
    tests (tests/core/test_celery_broker.py)."""
    from leadops.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False

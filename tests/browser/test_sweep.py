"""Every admin page each role can reach from the index: no 500, nothing wider than a 1,400-pixel
window, and no raw model label (`app.model #id`, `some_kind #3`) in a heading."""

import re

import pytest
from django.core.management import call_command

from leadops.demo import DEMO_PASSWORD
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTH = 1400
RAW_LABEL = re.compile(r"\b[a-z]+(?:_[a-z]+)*[._][a-z_]+ #\d+")


def reachable_from_index(page) -> list[str]:
    """The pages the index links to: the work pages and every changelist (not "Add" forms)."""
    page.goto("/admin/")
    hrefs = page.eval_on_selector_all(
        "#content-main a[href^='/admin/']", "links => links.map(a => a.getAttribute('href'))"
    )
    return sorted({h for h in hrefs if not h.endswith("/add/")})


def first_change_page(page) -> str | None:
    link = page.query_selector("#result_list tbody tr th a, #result_list tbody tr td a")
    return link.get_attribute("href") if link else None


def check(page, url: str, problems: list[str]) -> None:
    response = page.goto(url)
    status = response.status if response else 0
    if status >= 500 or status == 0:
        problems.append(f"{url}: HTTP {status}")
        return
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > WIDTH:
        problems.append(f"{url}: {width}px wide")
        screenshot(page, "sweep-too-wide-" + re.sub(r"\W+", "-", url).strip("-"))
    # The document's title, not the <title> tooltips inside inline SVG charts.
    headings = " | ".join(page.locator("h1, h2, h3").all_inner_texts())
    headings += " | " + page.title()
    raw = RAW_LABEL.search(headings)
    if raw:
        problems.append(f"{url}: raw label in a heading: {raw.group(0)}")


@pytest.mark.parametrize("username", ["admin", "revops", "manager"])
def test_every_page_a_role_reaches_from_the_index_holds_up(page, username):
    call_command("seed_demo", "--quiet-logins", verbosity=0)
    page.set_viewport_size({"width": WIDTH, "height": 900})
    page.goto("/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(lambda url: "/admin/" in url and "/login/" not in url)

    problems: list[str] = []
    visited = 0
    for url in reachable_from_index(page):
        check(page, url, problems)
        visited += 1
        change = first_change_page(page)
        if change:
            check(page, change, problems)
            visited += 1
    screenshot(page, f"sweep-{username}-last")

    assert visited >= 10, f"{username} reached only {visited} pages from the index"
    assert problems == []

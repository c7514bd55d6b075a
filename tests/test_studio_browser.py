"""The studio in a real browser: the system's headless Chromium, driven by Playwright, against gunicorn
and a Celery worker. A CX manager logs in, edits a policy with completions and live lint, publishes it,
tries another policy to a simulated write, and reads the timeline of a ticket the worker ran on the
published version. Screenshots of each screen go to .policydesk/screenshots (or POLICYDESK_SCREENSHOTS)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import conversations
import pytest
from studio_client import PASSWORD

pytestmark = pytest.mark.browser

POLICY = "wismo-kustomer-shipengine"
SHOTS_VAR = "POLICYDESK_SCREENSHOTS"


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "Debian's chromium package is needed (apt-get install -y chromium; .ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture
def browser_page(stack):
    from playwright.sync_api import sync_playwright

    executable = chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(30_000)
        yield page
        browser.close()


@pytest.fixture
def shots():
    folder = Path(
        os.environ.get(SHOTS_VAR) or Path(__file__).resolve().parents[1] / ".policydesk" / "screenshots"
    )
    folder.mkdir(parents=True, exist_ok=True)
    taken: list[Path] = []

    def take(page, name: str, full_page: bool = False) -> None:
        path = folder / f"{len(taken) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        taken.append(path)

    yield take
    print(f"\nstudio screenshots: {folder}")


def test_a_policy_is_edited_published_tried_and_its_ticket_read_in_a_browser(
    stack, customers, browser_page, shots
) -> None:
    page = browser_page
    # localhost, not 127.0.0.1: a browser keeps a Secure cookie on http only for localhost
    base = stack.url.replace("127.0.0.1", "localhost")

    page.goto(f"{base}/studio/library")
    assert "/studio/login" in page.url
    page.fill("input[name=name]", "Ana")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/studio/library")
    shots(page, "library")

    page.click(f"a[href='/studio/policy/{POLICY}']")
    page.wait_for_selector("article.document a.ref.tool")
    shots(page, "policy")
    page.click("a.button:has-text('Edit')")
    editor = page.locator("#editor")
    editor.wait_for()

    # the caret goes to the end of the Logic section, where a person would click
    page.evaluate(
        """() => { const a = document.getElementById('editor');
                  const i = a.value.indexOf('\\n## Macros') - 1; a.focus(); a.setSelectionRange(i, i); }"""
    )
    page.keyboard.type(" Not sure which parcel? Check @nosuch_tool")  # a sentence more in the last step
    error = page.locator("#lint .lint.error", has_text="unknown tool @nosuch_tool")
    error.wait_for()
    shots(page, "lint-error")
    for _ in "@nosuch_tool":
        page.keyboard.press("Backspace")
    error.wait_for(state="detached")
    assert page.locator("#lint .lint.error").count() == 0

    page.keyboard.type("@get_")
    option = page.locator("#completions li", has_text="@get_shipengine_orders")
    option.wait_for()
    shots(page, "completions")
    option.click()
    assert "Check @get_shipengine_orders(" in editor.input_value()
    page.locator("#diff .add", has_text="@get_shipengine_orders(").wait_for()
    page.locator("#lint-status", has_text="clean").wait_for()

    page.fill("#publish-message", "Say which tool finds a parcel")
    page.click("#publish")
    page.wait_for_url(f"**/studio/policy/{POLICY}")
    assert "v1 by Ana" in page.content()
    page.locator("a.ref.tool", has_text="@get_shipengine_orders").first.wait_for()

    page.goto(f"{base}/studio/test?policy=send-replacement-bigcommerce-kustomer")
    page.select_option("#trial-helpdesk", "kustomer")
    page.select_option("#trial-customer", label="Aisha Khan <aisha.khan@example.com>")
    page.fill(
        "#trial-message",
        "Hi, order 10520 arrived and one of the two mugs is cracked. Can you send a new one?",
    )
    page.click("#trial-send")
    page.locator("#chat .bubble.bot", has_text="Shall I send it there?").wait_for()
    page.fill("#trial-message", "yes same address")
    page.click("#trial-send")
    write = page.locator("#trace li.would_write", has_text="@create_bigcommerce_order")
    write.wait_for()
    assert "not sent" in write.inner_text()
    shots(page, "test-screen", full_page=True)

    ticket, view = conversations.open_and_wait(
        stack,
        customers,
        "kustomer",
        "shipped@shipengine.example",
        "Hi, where is my order?",
        "Where is my order?",
        "Sam Rivera",
    )
    assert view["replies"], view
    page.goto(f"{base}/studio/tickets")
    page.fill("#ticket-search", ticket.ticket_id)
    page.click("button:has-text('Search')")
    page.click(f"#tickets a:has-text('{ticket.ticket_id}')")
    facts = page.locator("#ticket-facts")
    facts.wait_for()
    assert "wismo" in facts.inner_text()
    assert "v1, published in the studio" in facts.inner_text()
    assert page.locator("#timeline li", has_text="@get_shipengine_orders").count() >= 1
    shots(page, "ticket-timeline", full_page=True)

    page.goto(f"{base}/studio/outcomes")
    page.locator("#outcomes").wait_for()
    shots(page, "outcomes")

"""Settings → Source control in a real browser: Debian's Chromium driven by Playwright against a
real `mirel serve` on loopback. An admin fills a provider's form and sees the stored state; the
token typed appears nowhere on the page, nor in the server's output."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from e2e.browser_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    Console,
    chromium_missing,
    create_user,
    screenshot,
    sign_in,
)
from e2e.e2e_support import start_server, stop
from mirel.hub.demo import build_demo

pytestmark = pytest.mark.slow

PASSWORD = "ada-the-admin"
TOKEN = "glpat-NeverShowThisToken-91c2"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Return a headless Chromium; skip (fail when MIREL_REQUIRE_BROWSER is set) without it."""
    reason = chromium_missing()
    if reason is not None:
        if os.environ.get("MIREL_REQUIRE_BROWSER"):
            pytest.fail(reason)
        pytest.skip(reason)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


def test_an_admin_stores_a_gitlab_configuration_and_sees_it_stored(
    chromium: Browser, tmp_path: Path
) -> None:
    hub = build_demo(tmp_path / "demo")
    database_url = f"sqlite:///{tmp_path / 'prod.db'}"
    create_user(database_url, "ada", "admin", PASSWORD)
    process, output, url = start_server(
        hub.repo.path,
        database_url,
        extra=("--poll-interval", "0"),
        env={"MIREL_SECRET_KEY": "a long random key for the browser test of the page"},
    )
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    try:
        console = Console()
        page = console.watch(context.new_page())
        sign_in(page, url, "ada", PASSWORD)
        page.goto(f"{url}/settings")
        page.get_by_role("navigation", name="Source control settings").get_by_role(
            "link", name="Source control"
        ).click()
        expect(page.locator("#nothing-stored")).to_be_visible()
        expect(page.locator("#in-use-repository")).to_have_text(str(hub.repo.path))
        page.get_by_role("navigation", name="Provider").get_by_role("link", name="GitLab").click()
        page.locator("#field-org").fill("acme")
        page.locator("#field-repo").fill("billing")
        page.locator("#field-url").fill("https://gitlab.acme.example")
        page.locator("#field-project_access_token").fill(TOKEN)
        page.get_by_role("button", name="Save GitLab configuration").click()

        expect(page.locator(".flash")).to_contain_text("The GitLab configuration is stored")
        expect(page.locator("#stored-provider")).to_have_text("GitLab")
        expect(page.locator("#stored-org")).to_have_text("acme")
        expect(page.locator("#stored-url")).to_have_text("https://gitlab.acme.example")
        expect(page.locator("#stored-project_access_token")).to_have_text("set")
        expect(page.locator("#field-project_access_token")).to_have_value("")
        expect(page.locator("#field-org")).to_have_value("acme")
        # Until a restart the instance keeps the repository it opened.
        expect(page.locator("#in-use-repository")).to_have_text(str(hub.repo.path))
        assert TOKEN not in page.content()
        assert "********" not in page.content()
        assert console.take() == []
        screenshot(page, "source-control")
    finally:
        context.close()
        stop(process, output)
    assert TOKEN not in output.text()

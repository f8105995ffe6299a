"""Helpers of the browser tests: Debian's Chromium under Playwright, and what a page logged.

Playwright drives the machine's Chromium (`/usr/bin/chromium`, Debian's `chromium` package) rather
than a browser it downloads: `.ci/run` installs the package, and no download is needed or made.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import ConsoleMessage, Error, Page

CHROMIUM = Path(os.environ.get("MIREL_CHROMIUM", "/usr/bin/chromium"))
# As the machine's notes advise: headless, as root without the sandbox, and none of the
# background connections a closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("MIREL_SCREENSHOTS", ROOT / "docs" / "screenshots"))


def chromium_missing() -> str | None:
    """Return why the browser tests cannot run here, or None when they can."""
    if not CHROMIUM.exists() and shutil.which(str(CHROMIUM)) is None:
        return (
            f"Chromium is not installed at {CHROMIUM}; install Debian's package "
            "(apt-get install chromium) or set MIREL_CHROMIUM"
        )
    return None


@dataclass
class Console:
    """Every console error and uncaught exception of a page, with the address it happened on."""

    errors: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> Page:
        """Start recording `page`'s errors and return it."""

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                self.errors.append(f"{page.url}: {message.text}")

        def on_error(error: Error) -> None:
            self.errors.append(f"{page.url}: uncaught {error}")

        page.on("console", on_console)
        page.on("pageerror", on_error)
        return page

    def take(self) -> list[str]:
        """Return the errors recorded so far and forget them."""
        found, self.errors = self.errors, []
        return found


def sign_in(page: Page, url: str, username: str, password: str) -> None:
    """Sign in on the instance at `url` through its sign-in form."""
    page.goto(f"{url}/login")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/")


def create_user(database_url: str, username: str, role: str, password: str) -> None:
    """Create a web user in an instance's database with the CLI, as an operator would."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mirel",
            "user",
            "create",
            username,
            "--role",
            role,
            "--db",
            database_url,
            "--password-stdin",
        ],
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot for the README's tour and return where it went."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(target), full_page=True)
    return target

"""Sign-in throttling (issue 11, item 5): wrong passwords make the next attempt wait, doubling,
with no password checked meanwhile; an account is locked after many and an admin unlocks it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker
from web_support import PASSWORD, Browser

from mirel.db.engine import open_database
from mirel.db.models import SignInThrottle
from mirel.errors import SignInThrottled
from mirel.instance import Instance
from mirel.instance.accounts import throttle
from mirel.instance.accounts.users import create_user
from support import CliResult

Make = Callable[[str | None], Browser]


def attempt(browser: Browser, username: str, password: str) -> tuple[int, str]:
    """Sign in through the form; return the status and the page's text."""
    page = browser.sign_in(username, password)
    return page.status, page.text


def wait_over(instance: Instance) -> None:
    """Make every wait end now, as time passing would."""
    with instance.sessions.begin() as session:
        session.execute(update(SignInThrottle).values(blocked_until=None))


def test_wrong_passwords_make_even_the_right_one_wait(
    browser: Make, instance: Instance, caplog: pytest.LogCaptureFixture
) -> None:
    someone = browser(None)
    with caplog.at_level(logging.WARNING, logger="mirel.signin"):
        for _ in range(throttle.FREE_FAILURES):
            assert attempt(someone, "eve", "not the password")[0] == 401
    assert "sign-in failed for 'eve' from" in caplog.text
    status, text = attempt(someone, "eve", PASSWORD)
    assert status == 429
    assert "too many failed sign-ins; try again in 1 second" in text
    wait_over(instance)
    assert attempt(someone, "eve", "still wrong")[0] == 401
    status, text = attempt(someone, "eve", PASSWORD)
    assert status == 429
    assert "try again in 2 seconds" in text  # the wait doubles
    wait_over(instance)
    status, _ = attempt(someone, "eve", PASSWORD)
    assert status == 200  # signed in: the home page
    with instance.sessions() as session:
        assert session.query(SignInThrottle).count() == 0  # both counters cleared


def test_an_address_guessing_many_accounts_is_slowed(browser: Make) -> None:
    someone = browser(None)
    for name in ("ann", "bob", "cy"):
        assert attempt(someone, name, "guess")[0] == 401
    status, text = attempt(someone, "eve", PASSWORD)  # another account, same address
    assert status == 429
    assert "too many failed sign-ins" in text


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    with open_database(database_url) as database:
        yield database.sessions


def test_an_account_is_locked_until_an_admin_unlocks_it(
    sessions: sessionmaker[Session], database_url: str, cli: Callable[..., CliResult]
) -> None:
    create_user(sessions, "eve", PASSWORD, "editor")
    for number in range(throttle.LOCKOUT_FAILURES):
        throttle.failed(sessions, "eve", f"10.0.0.{number}")  # from many addresses
    with sessions.begin() as session:
        session.execute(update(SignInThrottle).values(blocked_until=datetime.now(UTC)))
    with pytest.raises(SignInThrottled, match="is locked after 20 failed sign-ins") as raised:
        throttle.check(sessions, "eve", "10.0.1.1")
    assert raised.value.retry_after is None
    unlocked = cli("user", "unlock", "eve", "--db", database_url, "--json")
    assert unlocked.exit_code == 0, unlocked.stderr
    assert unlocked.json == {"username": "eve", "unlocked": True}
    throttle.check(sessions, "eve", "10.0.1.1")  # may try again
    again = cli("user", "unlock", "eve", "--db", database_url)
    assert "eve was not locked" in again.stdout


def test_the_wait_doubles_up_to_five_minutes() -> None:
    waits = [throttle._delay(failures) for failures in range(1, 16)]
    assert waits[:3] == [timedelta(0), timedelta(0), timedelta(seconds=1)]
    assert waits[3:6] == [timedelta(seconds=2), timedelta(seconds=4), timedelta(seconds=8)]
    assert waits[-1] == timedelta(minutes=5)

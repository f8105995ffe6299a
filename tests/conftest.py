"""Fixtures: real bare repositories in temporary folders and the CLI run in process."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, settings

from mirel.hub import Hub
from support import AUTHOR, AUTHOR_TEXT, CliResult, main

# One Hypothesis profile for the whole suite, loaded here so that it is the default before any test
# module (and its @settings) is imported. How fast an example runs depends on the machine's load
# (`pytest -n auto` beside other test runs), so there is no deadline and no too_slow health check: a
# property test fails for what it finds, never for the clock. Tests only set max_examples on top.
# The other health checks stay on; they do not depend on load.
settings.register_profile("mirel", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("mirel")


@pytest.fixture(autouse=True)
def _pinned_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests never depend on the machine's git identity or on variables a developer has set.
    monkeypatch.setenv("MIREL_AUTHOR", AUTHOR_TEXT)
    monkeypatch.delenv("MIREL_REPO", raising=False)
    monkeypatch.delenv("MIREL_DEBUG", raising=False)


@pytest.fixture
def hub(tmp_path: Path) -> Hub:
    """Return a new repository made by `Hub.init`."""
    return Hub.init(tmp_path / "hub.git", AUTHOR)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Return a function that runs `mirel ARGS...` in process and returns its result."""

    def run(*args: str | Path) -> CliResult:
        capsys.readouterr()
        code = main([str(arg) for arg in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


POSTGRES_ADMIN_URL = os.environ.get(
    "MIREL_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)


def _postgres_reason() -> str | None:
    """Return why PostgreSQL tests cannot run here, or None when they can."""
    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.Error as error:
        return f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {error}".splitlines()[0]


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """Return the admin URL of the machine's PostgreSQL, or skip saying why it is absent.

    CI sets MIREL_REQUIRE_POSTGRES=1, which turns the skip into a failure.
    """
    reason = _postgres_reason()
    if reason is not None:
        if os.environ.get("MIREL_REQUIRE_POSTGRES"):
            pytest.fail(reason)
        pytest.skip(reason)
    return POSTGRES_ADMIN_URL


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """Return the SQLAlchemy URL of a new, empty PostgreSQL database, dropped afterwards."""
    name = f"mirel_test_{secrets.token_hex(6)}"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = postgres_server.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(postgres_server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Return a new, empty database URL: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'instance.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url

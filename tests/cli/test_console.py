"""The installed command (mirel.console) wires the server into the command line, lazily."""

from __future__ import annotations

import subprocess
import sys

import pytest
from cli_support import Seeded

from mirel.cli.main import main as cli_main

IMPORTS_AFTER_HELP = """
import sys
from mirel.console import main
code = main(["--help"])
print(code, *sorted(name for name in ("fastapi", "mirel.server") if name in sys.modules))
"""


def test_help_starts_without_the_server() -> None:
    # Only `mirel serve` needs the application; every other command starts without FastAPI.
    shown = subprocess.run(
        [sys.executable, "-c", IMPORTS_AFTER_HELP], capture_output=True, text=True, timeout=60
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[-1] == "0"


def test_python_m_mirel_is_the_installed_command() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "mirel", "--version"], capture_output=True, text=True, timeout=60
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("mirel, version ")


def test_the_cli_alone_cannot_serve() -> None:
    # Without the console's factory, serve is a programming error (exit 3), not a user's;
    # --debug prints the traceback instead of writing a crash file.
    assert cli_main(["serve", "--repo", "/nowhere.git", "--debug"]) == 3


def test_the_root_help_lists_each_command_with_its_own_one_line_help() -> None:
    import click

    from mirel.cli.main import COMMANDS, load_command

    for name, _, _, short in COMMANDS:
        command = load_command(name)
        assert command.name == name
        assert isinstance(command, click.Command)
        assert command.get_short_help_str(limit=10**6) == short, name


def test_mirel_help_imports_no_command_nor_what_commands_need() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from mirel.console import main; main(['--help']); "
        "print(sorted(m for m in sys.modules if m.startswith(('mirel.cli.', 'mirel.hub', "
        "'pygit2', 'httpx', 'pydantic', 'sqlalchemy', 'fastapi'))))"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.splitlines()[-1]
    assert found == "['mirel.cli.base', 'mirel.cli.main']"


# What no command reading the repository pays for: the server's and the database's libraries and
# mirel's layers over them, and the host APIs' client (a local repository needs none).
NOT_FOR_READING = (
    "cryptography",
    "fastapi",
    "httpx",
    "jinja2",
    "pydantic",
    "sqlalchemy",
    "starlette",
    "uvicorn",
    "mirel.db",
    "mirel.http",
    "mirel.instance",
    "mirel.providers.hosted",
    "mirel.server",
    "mirel.settings",
)
# Listing elements needs the catalog alone: the hub builds each of its other parts, and imports
# its module, when it is first used.
NOT_FOR_LISTING = (
    *NOT_FOR_READING,
    "mirel.hub.elements",
    "mirel.hub.hotfixes",
    "mirel.hub.manifests",
    "mirel.hub.matrix",
    "mirel.hub.pending",
    "mirel.hub.plans",
    "mirel.hub.propose",
    "mirel.hub.pulls",
    "mirel.hub.releases",
)

IMPORTS_AFTER_COMMAND = """
import sys
from mirel.console import main
code = main([*sys.argv[3:], "--repo", sys.argv[1]])
heavy = sys.argv[2].split(",")
print(code, *sorted(m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in heavy)))
"""


@pytest.mark.parametrize(
    ("command", "shown", "not_imported"),
    [
        (["element", "list"], "billing", NOT_FOR_LISTING),
        (["validate"], "is valid", NOT_FOR_READING),
    ],
)
def test_a_reading_command_imports_only_what_it_needs(
    seeded: Seeded, command: list[str], shown: str, not_imported: tuple[str, ...]
) -> None:
    heavy = ",".join(not_imported)
    ran = subprocess.run(
        [sys.executable, "-c", IMPORTS_AFTER_COMMAND, str(seeded.repo), heavy, *command],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 0, ran.stderr
    *output, imported = ran.stdout.splitlines()
    assert any(shown in line for line in output)  # the command did its work
    assert imported == "0"

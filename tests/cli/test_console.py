"""The installed command (mirel.console) wires the server into the command line, lazily."""

from __future__ import annotations

import subprocess
import sys

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

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

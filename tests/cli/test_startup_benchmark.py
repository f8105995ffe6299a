"""The start-up benchmark still runs (one run of each command), so that it cannot rot between
real runs; its figures are times, so only its rows are checked here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def test_the_startup_benchmark_runs_and_reports_every_command() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "startup.py"), "--runs", "1", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["runs"] == 1
    rows = {row["what"]: row for row in report["rows"]}
    assert list(rows) == [
        "git --version",
        "python -S -c pass",
        "python -c pass",
        "python -c 'import pygit2, click, rich'",
        "mirel --help",
        "mirel element list",
        "mirel validate",
        "mirel element list, this environment's bytecode",
    ]
    assert all(set(row) == {"what", "seconds", "floor", "note"} for row in rows.values())
    assert rows["git --version"]["floor"] is None
    floor = rows["git --version"]["seconds"]
    assert all(row["floor"] == floor for what, row in rows.items() if what != "git --version")
    assert "goal < 0.150 s" in rows["mirel --help"]["note"]
    assert "goal < 0.250 s" in rows["mirel element list"]["note"]

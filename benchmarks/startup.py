"""How long the `mirel` command takes to start, beside floors measured in the same run.

    python benchmarks/startup.py                 # 10 runs of each command
    python benchmarks/startup.py --runs 30 --json

Each figure is the wall-clock time of a new process, from its start until it exits, the best and
the median of N runs; the commands take turns, so a load that comes and goes on the machine falls
on all of them alike. The floors: `git --version` (a program that starts and does nothing, the
figure the issue compares with), `python -S -c pass` (the interpreter alone) and `python -c pass`
(with `site`, which reads the virtual environment's paths); then the libraries a command reading
the repository cannot do without (pygit2, click, rich), imported alone: what is left above them
is mirel's own.

The commands run on a demo repository (`mirel demo`) made in a temporary folder. Python keeps the
bytecode of each module it compiles; an installed mirel has it (pip writes it), and so does a
checkout once it ran, unless PYTHONDONTWRITEBYTECODE is set, which some environments do: then
every start compiles mirel's own modules again. So every process here keeps its bytecode in the
temporary folder (PYTHONPYCACHEPREFIX, filled by a first run that is not timed), and one more
figure runs `mirel element list` with the environment as it is, to show what that setting costs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

Row = dict[str, object]

# The goals (issue 12, CLI start-up), in seconds.
GOALS = {"mirel --help": 0.150, "mirel element list": 0.250}
DEMO_AUTHOR = "Bench <bench@example.com>"
# What `mirel element list` cannot start without: libgit2's binding, the command line's parser
# and the terminal output it prints its table with.
LIBRARIES = "import pygit2, click, rich.console, rich.table"


@dataclass
class Command:
    """One command line to time, and what it took in each run."""

    what: str
    argv: list[str]
    env: dict[str, str]
    note: str = ""
    goal: float | None = None
    wall: list[float] = field(default_factory=list)  # seconds of each timed run
    cpu: list[float] = field(default_factory=list)

    def run(self) -> tuple[float, float]:
        """Run the command once; return its wall-clock and CPU (user + system) seconds."""
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(self.argv, env=self.env, capture_output=True, check=False)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            raise RuntimeError(
                f"{self.what} exited with {done.returncode}: {done.stderr.decode(errors='replace')}"
            )
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return wall, cpu


def _mirel() -> list[str]:
    """Return how the installed `mirel` command is started (the console script beside this
    Python), else `python -m mirel`."""
    script = Path(sys.executable).with_name("mirel")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "mirel"]


def _environment(folder: Path, *, keep_bytecode: bool) -> dict[str, str]:
    """Return the children's environment: no MIREL_* setting of the caller's, and (unless
    `keep_bytecode` is False) bytecode kept in `folder`, as an installed mirel has it."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("MIREL_")}
    env["MIREL_AUTHOR"] = DEMO_AUTHOR
    if keep_bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(folder / "bytecode")
    return env


def _commands(folder: Path) -> list[Command]:
    """Return the floors and the mirel commands to time, making the demo repository they read."""
    env = _environment(folder, keep_bytecode=True)
    mirel = _mirel()
    subprocess.run(
        [*mirel, "demo", "--dir", str(folder / "demo")], env=env, capture_output=True, check=True
    )
    repo = ["--repo", str(folder / "demo" / "hub.git")]
    as_it_is = _environment(folder, keep_bytecode=False)
    compiled = "set" if "PYTHONDONTWRITEBYTECODE" in as_it_is else "not set"
    return [
        Command("git --version", ["git", "--version"], env, "the floor: a program doing nothing"),
        Command("python -S -c pass", [sys.executable, "-S", "-c", "pass"], env, "no site"),
        Command("python -c pass", [sys.executable, "-c", "pass"], env, "with site"),
        Command(
            "python -c 'import pygit2, click, rich'",
            [sys.executable, "-c", LIBRARIES],
            env,
            "the libraries every command reading a repository needs, alone",
        ),
        Command("mirel --help", [*mirel, "--help"], env, goal=GOALS["mirel --help"]),
        Command(
            "mirel element list",
            [*mirel, "element", "list", *repo],
            env,
            "demo repository",
            GOALS["mirel element list"],
        ),
        Command("mirel validate", [*mirel, "validate", *repo], env, "demo repository"),
        Command(
            "mirel element list, this environment's bytecode",
            [*mirel, "element", "list", *repo],
            as_it_is,
            f"PYTHONDONTWRITEBYTECODE {compiled}",
        ),
    ]


def _row(command: Command, floor: float | None, python: float) -> Row:
    """Return a command's row: its best time, with its median and CPU time in the note."""
    wall, cpu = command.wall, command.cpu
    parts = [command.note] if command.note else []
    parts.append(f"median {statistics.median(wall):.3f} s, CPU {min(cpu):.3f} s")
    if command.what.startswith("mirel"):
        parts.append(f"{min(wall) - python:+.3f} s over python -c pass")
    if command.goal is not None:
        met = "met" if min(wall) < command.goal else "not met"
        parts.append(f"goal < {command.goal:.3f} s ({met})")
    return {"what": command.what, "seconds": min(wall), "floor": floor, "note": "; ".join(parts)}


def measure_startup(runs: int = 10) -> list[Row]:
    """Time each command `runs` times, taking turns, after one untimed run of each (which fills
    the bytecode cache); return one row per command, floors first."""
    with tempfile.TemporaryDirectory(prefix="mirel-startup-") as name:
        commands = _commands(Path(name))
        for command in commands:
            command.run()
        for _ in range(runs):
            for command in commands:
                wall, cpu = command.run()
                command.wall.append(wall)
                command.cpu.append(cpu)
    git = min(commands[0].wall)
    python = min(commands[2].wall)
    return [
        _row(command, None if index == 0 else git, python) for index, command in enumerate(commands)
    ]


def table(rows: list[Row]) -> str:
    """Return the rows as a Markdown table."""
    lines = ["| command | seconds (best) | floor | ratio | note |", "|---|---:|---:|---:|---|"]
    for row in rows:
        seconds = float(str(row["seconds"]))
        floor = row["floor"]
        shown = "" if floor is None else f"{float(str(floor)):.3f}"
        ratio = "" if floor is None else f"{seconds / float(str(floor)):.0f}×"
        lines.append(f"| `{row['what']}` | {seconds:.3f} | {shown} | {ratio} | {row['note']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure and print the start-up figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=10, help="Timed runs of each command.")
    parser.add_argument("--json", action="store_true", help="Print JSON instead of a table.")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("use at least 1 run")
    rows = measure_startup(args.runs)
    print(json.dumps({"runs": args.runs, "rows": rows}, indent=2) if args.json else table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())

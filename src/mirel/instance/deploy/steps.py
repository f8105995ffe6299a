"""A deploy's steps as others see them: the checkpoint called at each named step, and the log.

A checkpoint lets a caller see a deploy's progress from outside: the crash tests stop a deploy
process at each step and kill it there, to check that every step leaves the old state or the new
one. In production the checkpoint does nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from mirel.instance.values import rfc3339

# started: deployment recorded; resolved: desired state known; unpacked: sources stored;
# switching: inside the switch's transaction, before its commit; switched: just after it.
STEPS = ("started", "resolved", "unpacked", "switching", "switched")

Checkpoint = Callable[[str], None]


def no_checkpoint(step: str) -> None:
    """Do nothing at any step (the production checkpoint)."""


class DeployLog:
    """The lines of one deployment's log, each with the time it was written."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, message: str) -> None:
        self.lines.append(f"{rfc3339(datetime.now(UTC))} {message}")

    def text(self) -> str:
        """Return the log as text, one line per entry."""
        return "".join(line + "\n" for line in self.lines)


def counted(number: int, noun: str) -> str:
    """Return `1 source` or `3 sources`: a number and its noun, as a log line says it."""
    return f"{number} {noun}{'' if number == 1 else 's'}"

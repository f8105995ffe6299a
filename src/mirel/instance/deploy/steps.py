"""The named steps of a deploy, and the checkpoint a deploy calls as it reaches each.

A checkpoint lets a caller see a deploy's progress from outside: the crash tests stop a deploy
process at each step and kill it there, to check that every step leaves the old state or the new
one. In production the checkpoint does nothing.
"""

from __future__ import annotations

from collections.abc import Callable

# started: deployment recorded; resolved: desired state known; unpacked: sources stored;
# switching: inside the switch's transaction, before its commit; switched: just after it.
STEPS = ("started", "resolved", "unpacked", "switching", "switched")

Checkpoint = Callable[[str], None]


def no_checkpoint(step: str) -> None:
    """Do nothing at any step (the production checkpoint)."""

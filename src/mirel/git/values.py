"""The values the git layer speaks in (an author, a commit, a changed path), and the retry of a
lost compare-and-swap: plain Python, so callers can use them without touching pygit2."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from mirel.errors import ConcurrentUpdate, InvalidInput, RefRaced

_T = TypeVar("_T")


@dataclass(frozen=True)
class Author:
    """Who makes a change: a name and an email, as in `Name <email>`."""

    name: str
    email: str

    @classmethod
    def parse(cls, text: str) -> Author:
        """Return the author written as `Name <email>`, or raise InvalidInput."""
        text = text.strip()
        if text.endswith(">") and "<" in text:
            name, _, email = text[:-1].rpartition("<")
            name, email = name.strip(), email.strip()
            # git refuses angle brackets inside either part: catch them here, not at commit time.
            if name and email and not any(c in name + email for c in "<>\n"):
                return cls(name, email)
        raise InvalidInput(f"author {text!r} is not of the form 'Name <email>'")

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


@dataclass(frozen=True)
class CommitInfo:
    """What mirel shows of a commit."""

    sha: str
    message: str
    author_name: str
    author_email: str
    time: int  # seconds since the epoch
    parents: tuple[str, ...]

    @property
    def summary(self) -> str:
        """Return the first line of the message."""
        return self.message.split("\n", 1)[0]


@dataclass(frozen=True)
class ChangedPath:
    """One path that differs between two trees."""

    status: str  # "added", "removed" or "changed"
    path: str
    old_oid: str | None
    new_oid: str | None


def retry_on_race(operation: Callable[[], _T], *, what: str, attempts: int = 200) -> _T:
    """Return `operation()`, retrying with jittered back-off while another writer races us."""
    for attempt in range(attempts):
        try:
            return operation()
        except RefRaced:
            # Jitter spreads contenders apart so one of them always wins the next round.
            time.sleep(random.uniform(0.001, 0.005) * min(attempt + 1, 20))
    raise ConcurrentUpdate(f"{what}: other writers kept updating the repository; try again")

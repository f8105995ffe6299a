"""Strict semantic versions `X.Y.Z` and the Major/Minor/Patch bumps."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from mirel.errors import InvalidVersion

# No leading zeros, no pre-release or build suffixes: exactly what SPEC.md §2.2 allows.
_PART = r"(0|[1-9][0-9]{0,8})"
_VERSION = re.compile(rf"{_PART}\.{_PART}\.{_PART}")
_LINE = re.compile(rf"{_PART}\.{_PART}")
# The same rules as JSON Schema patterns (the API's OpenAPI document says them).
VERSION_PATTERN = f"^{_VERSION.pattern}$"
LINE_PATTERN = f"^{_LINE.pattern}$"
# The largest number a version part may hold (nine digits, as the patterns above allow).
MAX_PART = 999_999_999


class Bump(StrEnum):
    """Which part of the version a new release increments."""

    MAJOR = "major"
    MINOR = "minor"
    PATCH = "patch"


@dataclass(frozen=True, order=True)
class Version:
    """A strict `X.Y.Z` version, ordered numerically."""

    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> Version:
        """Return the version written as `X.Y.Z`, or raise InvalidVersion saying what is allowed."""
        match = _VERSION.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise InvalidVersion(
                f"{text!r} is not a version; write X.Y.Z with numbers and no leading zeros, "
                "for example 1.4.0"
            )
        return cls(int(match[1]), int(match[2]), int(match[3]))

    @classmethod
    def is_valid(cls, text: str) -> bool:
        """Return whether `text` is a strict `X.Y.Z`."""
        return isinstance(text, str) and _VERSION.fullmatch(text) is not None

    def bump(self, part: Bump) -> Version:
        """Return the next version for a Major, Minor or Patch release after this one.

        Raises InvalidVersion when that version would need a part above MAX_PART.
        """
        if part is Bump.MAJOR:
            bumped = Version(self.major + 1, 0, 0)
        elif part is Bump.MINOR:
            bumped = Version(self.major, self.minor + 1, 0)
        else:
            bumped = Version(self.major, self.minor, self.patch + 1)
        # Refused rather than produced: a version mirel cannot parse back would be an artifact
        # that every reader skips as misnamed.
        if max(bumped.major, bumped.minor, bumped.patch) > MAX_PART:
            raise InvalidVersion(
                f"a {part} release after {self} would need a number above {MAX_PART}, "
                "the largest a version part may hold"
            )
        return bumped

    @property
    def line(self) -> Line:
        """Return the `X.Y` release line this version belongs to."""
        return Line(self.major, self.minor)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


ZERO = Version(0, 0, 0)


@dataclass(frozen=True, order=True)
class Line:
    """A `major.minor` release line, the unit a hotfix patches."""

    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> Line:
        """Return the line written as `X.Y`, or raise InvalidVersion."""
        match = _LINE.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise InvalidVersion(
                f"{text!r} is not a release line; write major.minor, for example 1.4"
            )
        return cls(int(match[1]), int(match[2]))

    def contains(self, version: Version) -> bool:
        """Return whether `version` is on this line."""
        return version.major == self.major and version.minor == self.minor

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


def next_version(existing: list[Version] | set[Version], part: Bump) -> Version:
    """Return the version a bump gives after the highest of `existing` (from 0.0.0 when empty)."""
    highest = max(existing, default=ZERO)
    return highest.bump(part)

"""Strict semantic versions `X.Y.Z`, the Major/Minor/Patch bumps, and the version ranges a pin
may hold (`~X.Y`: the highest `X.Y.*`; `^X`: the highest `X.*.*`)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from mirel.errors import InvalidVersion

# No leading zeros, no pre-release or build suffixes: exactly what SPEC.md §2.2 allows.
_PART = r"(0|[1-9][0-9]{0,8})"
_VERSION = re.compile(rf"{_PART}\.{_PART}\.{_PART}")
# Versions are parsed by the hundred thousand (every artifact name of every release folder) and
# are few and immutable: each text is parsed once.
_PARSED: dict[str, Version] = {}
_PARSED_KEPT = 65_536
_LINE = re.compile(rf"{_PART}\.{_PART}")
_RANGE = re.compile(rf"~{_PART}\.{_PART}|\^{_PART}")
# The same rules as JSON Schema patterns (the API's OpenAPI document says them).
VERSION_PATTERN = f"^{_VERSION.pattern}$"
LINE_PATTERN = f"^{_LINE.pattern}$"
RANGE_PATTERN = f"^({_RANGE.pattern})$"
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
        known = _PARSED.get(text) if cls is Version and isinstance(text, str) else None
        if known is not None:
            return known
        match = _VERSION.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise InvalidVersion(
                f"{text!r} is not a version; write X.Y.Z with numbers and no leading zeros, "
                "for example 1.4.0"
            )
        version = cls(int(match[1]), int(match[2]), int(match[3]))
        if cls is Version:
            if len(_PARSED) >= _PARSED_KEPT:
                _PARSED.clear()
            _PARSED[text] = version
        return version

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


@dataclass(frozen=True)
class VersionRange:
    """A pin's range: `~X.Y` takes the highest `X.Y.*`, `^X` the highest `X.*.*`.

    Like `latest`, a range is resolved against the releases of the commit deployed, so a hotfix
    on the line (or a minor release, for `^X`) goes live at the next deploy without a new pin.
    Unlike npm's, `^0` is the whole 0 major: mirel's versions say nothing of stability.
    """

    major: int
    minor: int | None  # None for `^X`

    @classmethod
    def parse(cls, text: str) -> VersionRange:
        """Return the range written as `~X.Y` or `^X`, or raise InvalidVersion."""
        match = _RANGE.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise InvalidVersion(
                f"{text!r} is not a version range; write ~X.Y (the highest X.Y.*) or ^X "
                "(the highest X.*.*)"
            )
        if match[3] is not None:
            return cls(int(match[3]), None)
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def is_valid(cls, text: str) -> bool:
        """Return whether `text` is a range `~X.Y` or `^X`."""
        return isinstance(text, str) and _RANGE.fullmatch(text) is not None

    def contains(self, version: Version) -> bool:
        """Return whether `version` is in this range."""
        if version.major != self.major:
            return False
        return self.minor is None or version.minor == self.minor

    def highest(self, versions: Iterable[Version]) -> Version | None:
        """Return the highest of `versions` in this range, None when none is."""
        return max((version for version in versions if self.contains(version)), default=None)

    def __str__(self) -> str:
        return f"^{self.major}" if self.minor is None else f"~{self.major}.{self.minor}"

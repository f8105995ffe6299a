"""Strict X.Y.Z versions: parsing, ordering, bumps and release lines."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mirel.core.versions import ZERO, Bump, Line, Version, next_version
from mirel.errors import InvalidInput, InvalidVersion

# The largest number a version part may hold: nine digits (anything longer is refused as huge).
MAX_PART = 999_999_999

parts = st.integers(min_value=0, max_value=MAX_PART)
versions = st.builds(Version, parts, parts, parts)
# Versions a bump can still move on from without leaving the allowed range.
bumpable = st.builds(Version, *(st.integers(0, MAX_PART - 1) for _ in range(3)))
bumps = st.sampled_from(list(Bump))


# -- parsing -----------------------------------------------------------------------------------


@given(versions)
def test_parse_round_trips_the_written_form(version: Version) -> None:
    assert Version.parse(str(version)) == version
    assert Version.is_valid(str(version))


@given(versions)
def test_written_form_is_three_plain_numbers(version: Version) -> None:
    assert str(version) == f"{version.major}.{version.minor}.{version.patch}"


@pytest.mark.parametrize(
    "text",
    [
        "01.2.3",
        "1.02.3",
        "1.2.03",
        "00.0.0",
        "v1.2.3",
        "V1.2.3",
        "1.2.3-rc1",
        "1.2.3+build5",
        "1.2.3.4",
        "1.2",
        "1",
        "",
        " 1.2.3",
        "1.2.3 ",
        "1.2.3\n",
        "1. 2.3",
        "1.2.-3",
        "-1.2.3",
        "1.2.x",
        "latest",
        "1..3",
        "١.٢.٣",  # Arabic-Indic digits are digits to Python, not to a version
        "1234567890.0.0",
        "0.0.99999999999999999999",
    ],
)
def test_parse_refuses_anything_but_strict_versions(text: str) -> None:
    with pytest.raises(InvalidVersion) as raised:
        Version.parse(text)
    assert "X.Y.Z" in str(raised.value)
    assert not Version.is_valid(text)


def test_invalid_version_is_a_user_input_error() -> None:
    with pytest.raises(InvalidInput):
        Version.parse("1.0")


@given(
    versions,
    st.sampled_from(["v", "V", " ", "\t", "0", "=", "+"]),
    st.sampled_from([" ", "\n", "-rc.1", "+meta", ".0", "-"]),
)
def test_parse_refuses_decorated_versions(version: Version, prefix: str, suffix: str) -> None:
    text = str(version)
    # A leading "0" gives "01.2.3" or "00.1.2": a leading zero either way.
    for decorated in (prefix + text, text + suffix):
        with pytest.raises(InvalidVersion):
            Version.parse(decorated)


def test_parse_refuses_non_strings() -> None:
    for value in (None, 1, 1.0, b"1.0.0"):
        with pytest.raises(InvalidVersion):
            Version.parse(value)  # type: ignore[arg-type]
        assert not Version.is_valid(value)  # type: ignore[arg-type]


def test_nine_digit_parts_are_the_largest_accepted() -> None:
    assert Version.parse("999999999.999999999.999999999") == Version(MAX_PART, MAX_PART, MAX_PART)
    with pytest.raises(InvalidVersion):
        Version.parse("1000000000.0.0")


# -- ordering ----------------------------------------------------------------------------------


@given(versions, versions)
def test_ordering_is_numeric_tuple_ordering(first: Version, second: Version) -> None:
    as_tuple = (first.major, first.minor, first.patch)
    other = (second.major, second.minor, second.patch)
    assert (first < second) == (as_tuple < other)
    assert (first == second) == (as_tuple == other)
    assert (first > second) == (as_tuple > other)


def test_ordering_is_numeric_not_textual() -> None:
    assert Version.parse("1.10.0") > Version.parse("1.9.0")
    assert Version.parse("10.0.0") > Version.parse("9.99.99")
    assert max(Version.parse(t) for t in ["1.2.10", "1.2.9", "1.2.1"]) == Version(1, 2, 10)


# -- bumps -------------------------------------------------------------------------------------


@given(bumpable, bumps)
def test_bump_is_strictly_greater(version: Version, part: Bump) -> None:
    bumped = version.bump(part)
    assert bumped > version
    assert Version.parse(str(bumped)) == bumped


@given(bumpable)
def test_major_bump_resets_minor_and_patch(version: Version) -> None:
    assert version.bump(Bump.MAJOR) == Version(version.major + 1, 0, 0)


@given(bumpable)
def test_minor_bump_keeps_major_and_resets_patch(version: Version) -> None:
    assert version.bump(Bump.MINOR) == Version(version.major, version.minor + 1, 0)


@given(bumpable)
def test_patch_bump_keeps_the_line(version: Version) -> None:
    bumped = version.bump(Bump.PATCH)
    assert bumped == Version(version.major, version.minor, version.patch + 1)
    assert bumped.line == version.line


@pytest.mark.parametrize(
    ("version", "part"),
    [
        (Version(MAX_PART, 0, 0), Bump.MAJOR),
        (Version(1, MAX_PART, 4), Bump.MINOR),
        (Version(1, 2, MAX_PART), Bump.PATCH),
    ],
)
def test_bump_past_the_largest_number_is_refused(version: Version, part: Bump) -> None:
    # A bump must never produce a version that mirel itself could not read back: its artifact
    # would be named X.Y.1000000000.zip and silently ignored as malformed.
    with pytest.raises(InvalidVersion) as raised:
        version.bump(part)
    assert str(MAX_PART) in str(raised.value)


def test_bump_parts_parse_from_their_names() -> None:
    assert [Bump(name) for name in ("major", "minor", "patch")] == [
        Bump.MAJOR,
        Bump.MINOR,
        Bump.PATCH,
    ]


# -- next_version ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("part", "expected"),
    [(Bump.MAJOR, "1.0.0"), (Bump.MINOR, "0.1.0"), (Bump.PATCH, "0.0.1")],
)
def test_next_version_of_nothing_counts_from_zero(part: Bump, expected: str) -> None:
    assert next_version(set(), part) == Version.parse(expected)
    assert next_version([], part) == Version.parse(expected)
    assert Version(0, 0, 0) == ZERO


@given(st.sets(bumpable, min_size=1, max_size=20), bumps)
def test_next_version_bumps_the_highest(existing: set[Version], part: Bump) -> None:
    chosen = next_version(existing, part)
    assert chosen == max(existing).bump(part)
    assert all(chosen > version for version in existing)
    assert next_version(sorted(existing), part) == chosen


def test_next_version_ignores_lower_lines() -> None:
    existing = {Version(1, 9, 3), Version(2, 0, 0), Version(1, 10, 0)}
    assert next_version(existing, Bump.PATCH) == Version(2, 0, 1)
    assert next_version(existing, Bump.MINOR) == Version(2, 1, 0)
    assert next_version(existing, Bump.MAJOR) == Version(3, 0, 0)


# -- lines -------------------------------------------------------------------------------------


@given(parts, parts)
def test_line_round_trips(major: int, minor: int) -> None:
    line = Line(major, minor)
    assert Line.parse(str(line)) == line
    assert str(line) == f"{major}.{minor}"


@pytest.mark.parametrize(
    "text", ["1", "1.2.3", "01.2", "1.02", "v1.2", "1.2 ", " 1.2", "1.x", "", "1.", ".2"]
)
def test_line_parse_refuses_anything_but_major_minor(text: str) -> None:
    with pytest.raises(InvalidVersion) as raised:
        Line.parse(text)
    assert "major.minor" in str(raised.value)


@given(versions)
def test_a_version_lies_on_its_own_line_only(version: Version) -> None:
    assert version.line == Line(version.major, version.minor)
    assert version.line.contains(version)
    assert not Line(version.major + 1, version.minor).contains(version)
    assert not Line(version.major, version.minor + 1).contains(version)


def test_line_contains_every_patch_of_its_major_minor() -> None:
    line = Line.parse("1.4")
    assert line.contains(Version.parse("1.4.0"))
    assert line.contains(Version.parse("1.4.17"))
    assert not line.contains(Version.parse("1.40.0"))
    assert not line.contains(Version.parse("14.0.0"))
    assert not line.contains(Version.parse("4.1.0"))


def test_lines_order_numerically() -> None:
    assert Line.parse("1.10") > Line.parse("1.9")
    assert sorted([Line(2, 0), Line(1, 10), Line(1, 2)]) == [Line(1, 2), Line(1, 10), Line(2, 0)]

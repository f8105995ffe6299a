"""Version ranges in pins (issue 13, acceptance 1): `~X.Y` is the highest `X.Y.*`, `^X` the
highest `X.*.*`; resolved like `latest`, against a reference written the obvious way."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mirel.core.manifest import Pin, is_release
from mirel.core.versions import Version, VersionRange
from mirel.errors import InvalidVersion

UUID = "5f0c6a58-0000-4000-8000-000000000001"
parts = st.integers(min_value=0, max_value=4)
versions = st.builds(Version, parts, parts, parts)
ranges = st.one_of(
    st.builds(lambda major, minor: f"~{major}.{minor}", parts, parts),
    st.builds(lambda major: f"^{major}", parts),
)


def reference(text: str, found: set[Version]) -> Version | None:
    """The highest version whose numbers match the range's, written without VersionRange."""
    numbers = [int(part) for part in text[1:].split(".")]
    matching = [v for v in found if [v.major, v.minor][: len(numbers)] == numbers]
    return max(matching) if matching else None


@given(ranges, st.sets(versions, max_size=12))
def test_a_range_resolves_to_the_highest_release_in_it(text: str, found: set[Version]) -> None:
    assert VersionRange.parse(text).highest(found) == reference(text, found)
    assert str(VersionRange.parse(text)) == text


@given(ranges, st.sets(versions, max_size=12), versions)
def test_a_new_release_moves_a_range_only_when_it_is_in_it_and_higher(
    text: str, found: set[Version], new: Version
) -> None:
    chosen = VersionRange.parse(text)
    before, after = chosen.highest(found), chosen.highest(found | {new})
    if chosen.contains(new) and (before is None or new > before):
        assert after == new
    else:
        assert after == before


@pytest.mark.parametrize("text", ["~1.2", "^1", "^0", "~0.0", "~10.20"])
def test_ranges_are_pins(text: str) -> None:
    assert is_release(text)
    assert Pin(UUID, text).release == text


@pytest.mark.parametrize("text", ["~1", "^1.2", "~01.2", "^01", "~1.2.3", "^", "~", "1.2", "^-1"])
def test_anything_else_is_refused_saying_what_is_allowed(text: str) -> None:
    assert not is_release(text)
    with pytest.raises(InvalidVersion, match=r"~X\.Y or \^X"):
        Pin(UUID, text)

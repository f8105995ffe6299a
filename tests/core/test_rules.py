"""The release rules of SPEC.md §3 as pure functions: forward-only releases, hotfixes, deletions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mirel.core.kinds import APP, WORKFLOW
from mirel.core.manifest import Manifest, Pin
from mirel.core.rules import (
    HotfixBranch,
    check_deletable,
    choose_regular_version,
    claimed_versions,
    hotfix_base,
    hotfix_branch,
    manifests_pinning,
    next_patch,
    parse_hotfix_branch,
    release_branch,
)
from mirel.core.versions import Bump, Line, Version
from mirel.errors import InvalidInput, InvalidVersion, ReleaseExists, ReleaseNotFound, ReleasePinned

UUID = "2ab90f76-3b1c-4d8e-9f10-2a3b4c5d6e7f"
OTHER = "100186a5-0e4f-4c2a-8d1b-9c8d7e6f5a4b"


def v(text: str) -> Version:
    return Version.parse(text)


def vs(*texts: str) -> set[Version]:
    return {Version.parse(text) for text in texts}


# -- choose_regular_version ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("part", "expected"), [(Bump.MAJOR, "1.0.0"), (Bump.MINOR, "0.1.0"), (Bump.PATCH, "0.0.1")]
)
def test_first_release_counts_from_zero(part: Bump, expected: str) -> None:
    assert choose_regular_version("billing", set(), set(), bump=part) == v(expected)


def test_bump_counts_from_the_highest_released_or_claimed() -> None:
    released = vs("1.0.0", "1.1.0")
    assert choose_regular_version("billing", released, set(), bump=Bump.MINOR) == v("1.2.0")
    # An open release branch already claims 1.2.0: the next minor is 1.3.0.
    claimed = vs("1.2.0")
    assert choose_regular_version("billing", released, claimed, bump=Bump.MINOR) == v("1.3.0")
    assert choose_regular_version("billing", released, claimed, bump=Bump.PATCH) == v("1.2.1")
    assert choose_regular_version("billing", released, claimed, bump=Bump.MAJOR) == v("2.0.0")


def test_bump_ignores_lower_hotfix_patches() -> None:
    # 1.0.7 is a hotfix patch below the highest release; bumps still start from 2.0.0.
    released = vs("1.0.0", "1.0.7", "2.0.0")
    assert choose_regular_version("billing", released, set(), bump=Bump.PATCH) == v("2.0.1")


def test_explicit_version_above_everything_is_taken_as_is() -> None:
    chosen = choose_regular_version("billing", vs("1.0.0"), vs("1.1.0"), explicit=v("1.5.3"))
    assert chosen == v("1.5.3")


def test_neither_bump_nor_version_is_refused() -> None:
    with pytest.raises(InvalidInput) as raised:
        choose_regular_version("billing", vs("1.0.0"), set())
    assert "--minor" in str(raised.value)


def test_explicit_version_equal_to_the_highest_is_refused_pointing_to_a_hotfix() -> None:
    with pytest.raises(ReleaseExists) as raised:
        choose_regular_version("billing", vs("1.0.0", "1.2.0"), set(), explicit=v("1.2.0"))
    message = str(raised.value)
    assert "1.2.0 of billing already exists" in message
    assert "next minor is 1.3.0" in message
    assert "hotfix" in message


def test_explicit_existing_older_version_is_refused_pointing_to_a_hotfix() -> None:
    with pytest.raises(ReleaseExists) as raised:
        choose_regular_version("billing", vs("1.0.0", "2.0.0"), set(), explicit=v("1.0.0"))
    assert "already exists" in str(raised.value)
    assert "hotfix" in str(raised.value)
    assert "1.0 line" in str(raised.value)


def test_explicit_version_below_the_highest_is_refused_pointing_to_a_hotfix() -> None:
    with pytest.raises(ReleaseExists) as raised:
        choose_regular_version("billing", vs("1.0.0", "2.0.0"), set(), explicit=v("1.5.0"))
    message = str(raised.value)
    assert "below its highest release 2.0.0" in message
    assert "hotfix" in message
    assert "1.5 line" in message


def test_explicit_version_below_a_claimed_one_is_refused() -> None:
    with pytest.raises(ReleaseExists) as raised:
        choose_regular_version("billing", vs("1.0.0"), vs("3.0.0"), explicit=v("2.0.0"))
    assert "hotfix" in str(raised.value)


def test_explicit_claimed_version_is_refused_naming_the_open_pull_request() -> None:
    with pytest.raises(ReleaseExists) as raised:
        choose_regular_version("billing", vs("1.0.0"), vs("1.1.0"), explicit=v("1.1.0"))
    message = str(raised.value)
    assert "1.1.0 of billing is already in an open pull request" in message
    assert "1.2.0" in message  # the free number it suggests


def test_bump_past_the_largest_version_number_is_refused() -> None:
    with pytest.raises(InvalidVersion):
        choose_regular_version("billing", vs("999999999.0.0"), set(), bump=Bump.MAJOR)


versions = st.builds(
    Version,
    st.integers(0, 50),
    st.integers(0, 50),
    st.integers(0, 50),
)


@given(st.sets(versions, max_size=30), st.sets(versions, max_size=10), st.sampled_from(list(Bump)))
def test_a_bumped_regular_release_is_above_every_existing_version(
    released: set[Version], claimed: set[Version], part: Bump
) -> None:
    chosen = choose_regular_version("billing", released, claimed, bump=part)
    assert all(chosen > existing for existing in released | claimed)
    assert chosen not in released | claimed


@given(st.sets(versions, max_size=30), st.sets(versions, max_size=10), versions)
def test_an_explicit_regular_release_is_accepted_only_above_everything(
    released: set[Version], claimed: set[Version], explicit: Version
) -> None:
    taken = released | claimed
    if all(explicit > existing for existing in taken):
        assert choose_regular_version("billing", released, claimed, explicit=explicit) == explicit
    else:
        with pytest.raises(ReleaseExists):
            choose_regular_version("billing", released, claimed, explicit=explicit)


# -- hotfixes ----------------------------------------------------------------------------------


def test_hotfix_base_is_the_highest_release_of_the_line() -> None:
    released = vs("1.2.0", "1.2.3", "1.2.10", "1.3.0", "2.0.0")
    assert hotfix_base("billing", Line(1, 2), released) == v("1.2.10")
    assert hotfix_base("billing", Line(2, 0), released) == v("2.0.0")


def test_hotfix_base_of_a_line_without_releases_is_refused() -> None:
    with pytest.raises(ReleaseNotFound) as raised:
        hotfix_base("billing", Line(1, 4), vs("1.2.0", "1.3.0", "2.4.0"))
    assert "billing has no release on the 1.4 line" in str(raised.value)


def test_next_patch_follows_the_highest_patch_of_the_line() -> None:
    released = vs("1.2.0", "1.2.3", "1.3.0", "2.0.0")
    # Lower than the highest release overall (2.0.0): hotfix patches may be.
    assert next_patch(Line(1, 2), released, set()) == v("1.2.4")
    assert next_patch(Line(1, 2), released, set()) < max(released)


def test_next_patch_counts_patches_claimed_by_open_release_branches() -> None:
    released = vs("1.2.0", "1.2.3", "2.0.0")
    assert next_patch(Line(1, 2), released, vs("1.2.4", "1.2.5")) == v("1.2.6")
    # Claims on other lines change nothing.
    assert next_patch(Line(1, 2), released, vs("1.3.9", "2.0.1")) == v("1.2.4")


def test_next_patch_of_an_empty_line_is_its_zero() -> None:
    assert next_patch(Line(3, 1), vs("1.0.0"), set()) == v("3.1.0")


def test_next_patch_is_refused_past_the_largest_number() -> None:
    with pytest.raises(InvalidVersion):
        next_patch(Line(1, 2), vs("1.2.999999999"), set())


@given(st.sets(versions, max_size=30), st.sets(versions, max_size=10))
def test_next_patch_is_new_and_on_its_line(released: set[Version], claimed: set[Version]) -> None:
    for version in released | claimed:
        patch = next_patch(version.line, released, claimed)
        assert version.line.contains(patch)
        assert patch not in released | claimed
        assert patch > max(x for x in released | claimed if version.line.contains(x))


# -- branch names ------------------------------------------------------------------------------


def test_hotfix_branch_round_trips() -> None:
    branch = hotfix_branch(APP, UUID, Line(1, 2))
    assert branch == f"mirel/hotfix/app/{UUID}/1.2"
    assert parse_hotfix_branch(branch) == HotfixBranch(branch, APP, UUID, Line(1, 2))
    workflow = hotfix_branch(WORKFLOW, OTHER, Line(10, 0))
    parsed = parse_hotfix_branch(workflow)
    assert parsed is not None
    assert (parsed.kind, parsed.uuid, parsed.line) == (WORKFLOW, OTHER, Line(10, 0))


@pytest.mark.parametrize(
    "branch",
    [
        "main",
        f"mirel/release/app/{UUID}/1.2.0",
        f"mirel/hotfix/widget/{UUID}/1.2",  # unknown kind
        f"mirel/hotfix/app/{UUID}/1.2.0",  # a version, not a line
        f"mirel/hotfix/app/{UUID}/01.2",  # leading zero
        f"mirel/hotfix/app/{UUID}/1.2/extra",
        f"mirel/hotfix/app/{UUID.upper()}/1.2",
        "mirel/hotfix/app/" + "-" * 36 + "/1.2",  # uuid-shaped, not a uuid
        "mirel/hotfix/app/" + "a" * 36 + "/1.2",
        f"refs/heads/mirel/hotfix/app/{UUID}/1.2",
    ],
)
def test_parse_hotfix_branch_refuses_other_names(branch: str) -> None:
    assert parse_hotfix_branch(branch) is None


def test_claimed_versions_reads_only_this_elements_release_branches() -> None:
    branches = {
        release_branch(APP, UUID, v("1.3.0")),
        release_branch(APP, UUID, v("1.2.4")),
        release_branch(APP, OTHER, v("9.0.0")),  # another element
        release_branch(WORKFLOW, UUID, v("8.0.0")),  # same uuid, other kind
        f"mirel/release/app/{UUID}/not-a-version",
        f"mirel/release/app/{UUID}/01.0.0",
        f"mirel/hotfix/app/{UUID}/1.2",
        "main",
    }
    assert claimed_versions(branches, APP, UUID) == vs("1.3.0", "1.2.4")
    assert claimed_versions(set(), APP, UUID) == set()


# -- deletions ---------------------------------------------------------------------------------


def pinned(name: str, release: str, uuid: str = UUID) -> Manifest:
    return Manifest(name, {"apps": (Pin(uuid, release),)})


def test_deleting_an_unpinned_release_is_allowed() -> None:
    manifests = {
        "prod": pinned("prod", "1.0.0"),
        "dev": pinned("dev", "latest"),  # latest never blocks a deletion
        "other": pinned("other", "1.1.0", OTHER),  # same version, another element
    }
    check_deletable("billing", UUID, v("1.1.0"), manifests)
    assert manifests_pinning(manifests, UUID, v("1.1.0")) == []


def test_deleting_a_pinned_release_names_the_manifest() -> None:
    manifests = {"prod": pinned("prod", "1.0.0"), "dev": pinned("dev", "latest")}
    with pytest.raises(ReleasePinned) as raised:
        check_deletable("billing", UUID, v("1.0.0"), manifests)
    assert str(raised.value) == (
        "manifest prod pins billing 1.0.0; unpin it before deleting the release"
    )


def test_deleting_a_release_pinned_by_several_manifests_names_each() -> None:
    manifests = {
        "staging": pinned("staging", "1.0.0"),
        "prod": pinned("prod", "1.0.0"),
        "dev": pinned("dev", "2.0.0"),
    }
    with pytest.raises(ReleasePinned) as raised:
        check_deletable("billing", UUID, v("1.0.0"), manifests)
    message = str(raised.value)
    assert message.startswith("manifests prod, staging pin billing 1.0.0")
    assert "dev" not in message
    assert manifests_pinning(manifests, UUID, v("1.0.0")) == ["prod", "staging"]

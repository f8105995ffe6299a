"""Manifests (SPEC.md §2.2): strict reading with every problem located, canonical writing."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from mirel.core import manifest_reader as manifest_module
from mirel.core.kinds import APP, KINDS, WORKFLOW
from mirel.core.manifest import (
    FORMAT_VERSION,
    LATEST,
    Manifest,
    Pin,
    manifest_name_from_path,
    manifest_path,
    write_manifest,
)
from mirel.core.manifest_reader import (
    MAX_MANIFEST_BYTES,
    find_manifest_problems,
    manifest_from_api,
    parse_manifest,
)
from mirel.core.names import is_valid_name
from mirel.errors import InvalidInput, InvalidName, InvalidVersion, ManifestInvalid, Problem

GOLDEN = Path(__file__).parent.parent / "golden"
PATH = "manifests/prod.yaml"
APP_1 = "2ab90f76-3b1c-4d8e-9f10-2a3b4c5d6e7f"
APP_2 = "100186a5-0e4f-4c2a-8d1b-9c8d7e6f5a4b"
FLOW_1 = "8079edae-5f6a-4b7c-8d9e-0f1a2b3c4d5e"

SPEC_EXAMPLE = f"""\
version: 1.0.0
name: prod
apps:
  - uuid: {APP_1}
    release: latest
  - uuid: {APP_2}
    release: 1.0.1
workflows:
  - uuid: {FLOW_1}
    release: 1.0.5
"""

# Both parsers when libyaml is there: line numbers must not depend on which one reads the file.
LOADERS = [
    pytest.param(yaml.SafeLoader, id="python"),
    *(
        [pytest.param(yaml.CSafeLoader, id="libyaml")]
        if getattr(yaml, "__with_libyaml__", False)
        else []
    ),
]


@contextmanager
def reading_with(loader: type[yaml.SafeLoader] | type[yaml.CSafeLoader]) -> Iterator[None]:
    # The canonical form is read without YAML (read_canonical): it is turned off here so that
    # these tests read every text with the loader under test.
    with (
        mock.patch.object(manifest_module, "_LOADER", loader),
        mock.patch.object(manifest_module, "read_canonical", return_value=None),
    ):
        yield


def parse_or_problems(text: str | bytes, path: str) -> tuple[Manifest | None, tuple[Problem, ...]]:
    """Return what parse_manifest gives: the manifest, or the problems it raised."""
    try:
        return parse_manifest(text, path), ()
    except ManifestInvalid as exc:
        return None, exc.problems


def problems_of(text: str | bytes, path: str = PATH) -> list[Problem]:
    manifest, problems = find_manifest_problems(text, path)
    assert manifest is None
    assert problems
    return problems


# -- strategies ------------------------------------------------------------------------------------

# Names YAML would read as something other than a string when written plain.
TRICKY_NAMES = [
    "true", "False", "yes", "No", "on", "OFF", "null", "Null", "NULL", "123", "0", "1.5", "1.",
    "1e3", "1_000", "0x10", "0o17", "0b101", "2001-12-14", "1.0.0", "latest", "NaN", "y", "n",
]  # fmt: skip

names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", fullmatch=True) | st.sampled_from(
    TRICKY_NAMES
)
uuids = st.from_regex(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", fullmatch=True
)
numbers = st.integers(min_value=0, max_value=999_999_999)
versions = st.builds(lambda a, b, c: f"{a}.{b}.{c}", numbers, numbers, numbers)
releases = st.just(LATEST) | versions


@st.composite
def manifests(draw: st.DrawFn, min_pins: int = 0) -> Manifest:
    """Valid manifests: each uuid pinned once, spread over the kinds."""
    name = draw(names)
    pinned = draw(st.lists(uuids, min_size=min_pins, max_size=12, unique=True))
    kinds = list(KINDS)
    pins: dict[str, list[Pin]] = {kind.plural: [] for kind in kinds}
    for uuid in pinned:
        kind = draw(st.sampled_from(kinds))
        pins[kind.plural].append(Pin(uuid, draw(releases)))
    return Manifest(name, {plural: tuple(entries) for plural, entries in pins.items()})


# -- reading valid manifests -----------------------------------------------------------------------


@pytest.mark.parametrize("loader", LOADERS)
def test_reads_the_spec_example(loader: type[yaml.SafeLoader]) -> None:
    with reading_with(loader):
        manifest = parse_manifest(SPEC_EXAMPLE, PATH)
    assert manifest.name == "prod"
    assert manifest.pins_of(APP) == (Pin(APP_1, LATEST), Pin(APP_2, "1.0.1"))
    assert manifest.pins_of(WORKFLOW) == (Pin(FLOW_1, "1.0.5"),)
    assert list(manifest.pins) == ["apps", "workflows"]
    assert manifest.find(FLOW_1) == (WORKFLOW, Pin(FLOW_1, "1.0.5"))
    assert manifest.find("00000000-0000-4000-8000-000000000000") is None


def test_reads_bytes_with_a_byte_order_mark_and_windows_line_ends() -> None:
    data = b"\xef\xbb\xbf" + SPEC_EXAMPLE.replace("\n", "\r\n").encode()
    assert parse_manifest(data, PATH) == parse_manifest(SPEC_EXAMPLE, PATH)


def test_missing_kinds_mean_no_pins_and_quoted_values_are_strings() -> None:
    text = "version: '1.0.0'\nname: \"true\"\n"
    manifest = parse_manifest(text, "manifests/true.yaml")
    assert manifest == Manifest.empty("true")
    assert manifest.pins == {"apps": (), "workflows": ()}


def test_flow_style_is_accepted() -> None:
    text = f"{{version: 1.0.0, name: prod, apps: [{{uuid: {APP_1}, release: '2.0.0'}}]}}"
    assert parse_manifest(text, PATH) == Manifest("prod", {"apps": (Pin(APP_1, "2.0.0"),)})


# -- problems, each with its line ------------------------------------------------------------------

# (text, expected line, a piece of the message)
LOCATED = [
    pytest.param(
        f"version: 1.0.0\nname: prod\napps:\n  - uuid: {APP_1}\n    release: 1.0\n",
        5,
        "release must be \"latest\", X.Y.Z, ~X.Y or ^X, got '1.0'",
        id="release-float",
    ),
    pytest.param(
        f"version: 1.0.0\nname: prod\napps:\n  - uuid: {APP_1}\n    release: 01.0.0\n",
        5,
        "got '01.0.0'",
        id="release-leading-zero",
    ),
    pytest.param(
        f"version: 1.0.0\nname: prod\napps:\n  - uuid: {APP_1}\n    release: 1.0.0-rc.1\n",
        5,
        "got '1.0.0-rc.1'",
        id="release-suffix",
    ),
    pytest.param(
        f"version: 1.0.0\nname: prod\napps:\n  - uuid: {APP_1}\n    release:\n",
        5,
        "got nothing",
        id="release-empty",
    ),
    pytest.param(
        "version: 1.0.0\nname: prod\napps:\n  - uuid: 12345\n    release: latest\n",
        4,
        "uuid must be a lowercase uuid like",
        id="uuid-int",
    ),
    pytest.param(
        f"version: 1.0.0\nname: prod\napps:\n  - uuid: {APP_1.upper()}\n    release: latest\n",
        4,
        f"write it in lowercase: {APP_1}",
        id="uuid-uppercase",
    ),
    pytest.param(
        "version: 1.0.0\nname: prod\nworkflows:\n  - release: latest\n",
        4,
        "has no uuid; add `uuid:",
        id="uuid-missing",
    ),
    pytest.param(
        f"version: 1.0.0\nname: prod\nworkflows:\n  - uuid: {APP_1}\n",
        4,
        "has no release; add `release: latest`",
        id="release-missing",
    ),
    pytest.param(
        "version: 1.0.0\nname: prod\napps: {}\n",
        3,
        "apps must be a list of uuid and release entries, got a mapping; write `apps: []`",
        id="kind-mapping",
    ),
    pytest.param(
        "version: 1.0.0\nname: prod\nworkflows:\n",
        3,
        "workflows must be a list of uuid and release entries, got nothing",
        id="kind-null",
    ),
    pytest.param(
        "version: 1.0.0\nname: prod\napps:\n  - latest\n",
        4,
        "each entry of apps must be a mapping with uuid and release, got 'latest'",
        id="entry-scalar",
    ),
    pytest.param(
        "version: 1.0.0\nname: prod\nowner: ops\n",
        3,
        "unknown key 'owner'; use only version, name, apps, workflows",
        id="unknown-key",
    ),
    pytest.param(
        "version: 1.0.0\nname: prod\nworkflow: []\n",
        3,
        "did you mean 'workflows'?",
        id="unknown-key-suggestion",
    ),
    pytest.param(
        f"version: 1.0.0\nname: prod\napps:\n  - uuid: {APP_1}\n    release: latest\n    note: x\n",
        6,
        "unknown key 'note'; use only uuid, release",
        id="unknown-entry-key",
    ),
    pytest.param(
        "version: 1.0.0\nname: prod\napps: []\napps: []\n",
        4,
        "duplicate key 'apps' (first at line 3); keep only one",
        id="duplicate-key",
    ),
    pytest.param(
        f"version: 1.0.0\nname: prod\napps:\n  - uuid: {APP_1}\n    release: latest\n"
        "    release: 1.0.0\n",
        6,
        "duplicate key 'release' (first at line 5)",
        id="duplicate-entry-key",
    ),
    pytest.param(
        f"version: 1.0.0\nname: prod\napps:\n  - uuid: {APP_1}\n    release: latest\n"
        f"  - uuid: {APP_1}\n    release: 1.0.0\n",
        6,
        f"uuid {APP_1} is listed twice in apps (first at line 4); keep one entry",
        id="duplicate-uuid",
    ),
    pytest.param(
        f"version: 1.0.0\nname: prod\napps:\n  - uuid: {APP_1}\n    release: latest\n"
        f"workflows:\n  - uuid: {APP_1}\n    release: 1.0.0\n",
        7,
        f"uuid {APP_1} is listed in both apps (at line 4) and workflows",
        id="uuid-in-two-kinds",
    ),
    pytest.param(
        "version: 1.0.0\nname: staging\n",
        2,
        "name must be 'prod' to match the file name, got 'staging'",
        id="name-mismatch",
    ),
    pytest.param(
        "version: 1.0.0\nname: [prod]\n",
        2,
        "name must be 'prod' to match the file name, got a list",
        id="name-list",
    ),
    pytest.param(
        "version: 2.0.0\nname: prod\n",
        1,
        "version must be 1.0.0, got '2.0.0'; write `version: 1.0.0`",
        id="version-other",
    ),
    pytest.param(
        "version: 1.0\nname: prod\n",
        1,
        "version must be 1.0.0, got '1.0'",
        id="version-float",
    ),
    pytest.param(
        "# prod\n- version: 1.0.0\n",
        2,
        "a manifest must be a mapping with keys version, name, apps, workflows, got a list",
        id="document-list",
    ),
    pytest.param(
        "\n\nprod\n",
        3,
        "a manifest must be a mapping with keys version, name, apps, workflows, got 'prod'",
        id="document-scalar",
    ),
    pytest.param(
        "version: 1.0.0\nname: prod\napps: release: latest\n",
        3,
        "not valid YAML",
        id="malformed-yaml",
    ),
    pytest.param(
        "version: 1.0.0\nname: prod\napps:\n  - uuid: 'unterminated\n",
        5,
        "not valid YAML",
        id="unterminated-quote",
    ),
    pytest.param(
        "version: 1.0.0\nname: !!str prod\n",
        2,
        "YAML tags are not allowed in a manifest; remove '!!str'",
        id="tag",
    ),
    pytest.param(
        "version: 1.0.0\nname: prod\napps: !pins []\n",
        3,
        "remove '!pins'",
        id="local-tag",
    ),
    pytest.param(
        "version: &v 1.0.0\nname: prod\n",
        1,
        "YAML anchors are not allowed in a manifest; remove '&v'",
        id="anchor",
    ),
    pytest.param(
        f"version: 1.0.0\nname: prod\napps:\n  - &pin\n    uuid: {APP_1}\n    release: latest\n"
        "workflows:\n  - *pin\n",
        8,
        "YAML aliases are not allowed in a manifest; write the value out instead of '*pin'",
        id="alias",
    ),
    pytest.param(
        "version: 1.0.0\nname: prod\n---\nversion: 1.0.0\n",
        3,
        "a manifest is a single YAML document",
        id="two-documents",
    ),
    pytest.param(
        "version: 1.0.0\nname: prod\napps: [" + "[" * 40 + "]" * 41 + "\n",
        3,
        "nests more than 32 levels deep",
        id="deep-nesting",
    ),
    pytest.param(
        "version: 1.0.0\nname: prod\n\x07apps: []\n",
        3,
        "character U+0007 is not allowed in YAML",
        id="control-character",
    ),
    pytest.param(
        "version: 1.0.0\nname: prod\napps: [\ud800]\n",
        3,
        "not a Unicode character",
        id="lone-surrogate",
    ),
    pytest.param(
        "version: 1.0.0\nname: prod\n# café\n".encode() + b"bad: \xff\n",
        4,
        "byte 0xff is not UTF-8; save the file as UTF-8",
        id="not-utf8",
    ),
]


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize(("text", "line", "message"), LOCATED)
def test_each_problem_names_its_line(
    loader: type[yaml.SafeLoader], text: str | bytes, line: int, message: str
) -> None:
    with reading_with(loader):
        problems = problems_of(text)
    assert any(p.line == line and message in p.message for p in problems), problems
    with reading_with(loader), pytest.raises(ManifestInvalid) as raised:
        parse_manifest(text, PATH)
    assert raised.value.problems == tuple(problems)


def test_a_problem_reads_as_file_line_message() -> None:
    text = f"version: 1.0.0\nname: prod\napps:\n  - uuid: {APP_1}\n    release: 1.0\n"
    with pytest.raises(ManifestInvalid) as raised:
        parse_manifest(text, PATH)
    assert str(raised.value) == (
        "manifests/prod.yaml:5: release must be \"latest\", X.Y.Z, ~X.Y or ^X, got '1.0'"
    )


@pytest.mark.parametrize(
    ("text", "path", "line", "message"),
    [
        pytest.param("", PATH, None, "the manifest is empty", id="empty"),
        pytest.param("# nothing yet\n", PATH, None, "the manifest is empty", id="comments"),
        pytest.param("---\n", PATH, None, "the manifest is empty", id="empty-document"),
        pytest.param("version: 1.0.0\n", PATH, None, "missing key name; add `name: prod`", id="nm"),
        pytest.param("name: prod\n", PATH, None, "missing key version", id="no-version"),
        pytest.param(
            "version: 1.0.0\nname: true\n",
            "manifests/true.yaml",
            2,
            "name must be a string; quote it: name: 'true'",
            id="name-bool",
        ),
        pytest.param(
            "version: 1.0.0\nname: prod\n",
            "manifests/prod.yml",
            None,
            "a manifest is stored as manifests/<name>.yaml",
            id="bad-path",
        ),
        pytest.param(
            "version: 1.0.0\nname: -x\n",
            "manifests/-x.yaml",
            2,
            "name '-x' is not a valid manifest name",
            id="bad-name",
        ),
    ],
)
def test_file_level_problems(text: str, path: str, line: int | None, message: str) -> None:
    problems = problems_of(text, path)
    assert any(p.line == line and message in p.message for p in problems), problems


def test_lists_every_problem_at_once_in_line_order() -> None:
    text = (
        "version: 1.0\n"  # 1: wrong version
        "name: staging\n"  # 2: not the file name
        "apps:\n"
        f"  - uuid: {APP_1}\n"
        "    release: 1.0\n"  # 5: float release
        "    owner: me\n"  # 6: unknown key
        "  - uuid: nope\n"  # 7: bad uuid
        "    release: latest\n"
        "workflows: {}\n"  # 9: wrong type
        "extra: 1\n"  # 10: unknown key
        "name: prod\n"  # 11: duplicate key
        "comment: &c x\n"  # 12: anchor (found by an earlier pass, still sorted by line)
    )
    problems = problems_of(text)
    assert [p.line for p in problems] == [1, 2, 5, 6, 7, 9, 10, 11, 12, 12]
    assert all(p.path == PATH for p in problems)
    assert all("\n" not in str(p) for p in problems)
    with pytest.raises(ManifestInvalid, match=r"\(and 9 more problems\)"):
        parse_manifest(text, PATH)


def test_a_flood_of_problems_is_capped_with_a_count() -> None:
    entries = "".join(f"  - uuid: {APP_1}\n    release: bad\n" for _ in range(300))
    problems = problems_of(f"version: 1.0.0\nname: prod\napps:\n{entries}")
    assert len(problems) == manifest_module.MAX_PROBLEMS + 1
    assert problems[-1].line is None
    assert problems[-1].message.startswith("399 more problems are not listed")


def test_billion_laughs_is_refused_without_expanding_it() -> None:
    rows = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    rows += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    started = time.monotonic()
    problems = problems_of("\n".join(rows) + "\n")
    # Not a timing assertion on speed, a guard against a 9**10 expansion that would never end.
    assert time.monotonic() - started < 60
    assert any("aliases are not allowed" in p.message and p.line == 2 for p in problems)


@pytest.mark.parametrize("as_bytes", [False, True])
def test_refuses_manifests_over_4_mib(as_bytes: bool) -> None:
    head = "version: 1.0.0\nname: prod\n"
    padding = "#" * (MAX_MANIFEST_BYTES - len(head) - 1) + "\n"
    at_limit = head + padding
    assert len(at_limit.encode()) == MAX_MANIFEST_BYTES
    assert parse_manifest(at_limit.encode() if as_bytes else at_limit, PATH) == Manifest.empty(
        "prod"
    )
    over = at_limit + "\n"
    problems = problems_of(over.encode() if as_bytes else over)
    assert [p.message.split(";")[0] for p in problems] == [
        "the manifest is larger than 4 MiB (4194304 bytes), the most mirel reads"
    ]


def test_multibyte_text_is_measured_in_bytes() -> None:
    head = "version: 1.0.0\nname: prod\n# "
    text = head + "é" * ((MAX_MANIFEST_BYTES - len(head)) // 2 + 1)
    assert len(text) < MAX_MANIFEST_BYTES < len(text.encode())
    assert "larger than 4 MiB" in problems_of(text)[0].message


# -- never anything but ManifestInvalid ------------------------------------------------------------

YAMLISH = st.text(alphabet=st.sampled_from(list("ab1.0-:[]{}&*!|>'\"#%@`?,\n \t~")), max_size=200)


@pytest.mark.parametrize("loader", LOADERS)
@given(text=st.text() | YAMLISH | st.binary())
def test_arbitrary_input_raises_only_manifest_invalid(
    loader: type[yaml.SafeLoader], text: str | bytes
) -> None:
    with reading_with(loader):
        manifest, problems = parse_or_problems(text, PATH)
    if manifest is None:
        assert problems
        assert all(p.path == PATH and "\n" not in p.message for p in problems)
    else:
        assert write_manifest(manifest)


@given(
    data=st.data(),
    manifest=manifests(),
    cut=st.integers(min_value=0, max_value=10_000),
)
def test_damaged_manifests_raise_only_manifest_invalid(
    data: st.DataObject, manifest: Manifest, cut: int
) -> None:
    text = write_manifest(manifest)
    at = cut % (len(text) + 1)
    insert = data.draw(st.text(alphabet=":-[]{}&*!'\"# \n\tx1.", max_size=3))
    damaged = text[:at] + insert + text[at + data.draw(st.integers(0, 3)) :]
    parsed, problems = parse_or_problems(damaged, manifest_path(manifest.name))
    assert (parsed is None) == bool(problems)


JSONISH = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=8)
    | uuids
    | releases,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["apps", "workflows", "name", "uuid", "release", "x"]), inner
        )
    ),
    max_leaves=20,
)


@given(body=JSONISH)
def test_arbitrary_api_bodies_raise_only_manifest_invalid(body: object) -> None:
    try:
        manifest_from_api("prod", body, PATH)
    except ManifestInvalid as exc:
        problems = exc.problems
    else:
        problems = ()
    assert all(p.line is None for p in problems)


# -- writing ---------------------------------------------------------------------------------------


def golden_manifest() -> Manifest:
    return Manifest(
        "prod",
        {
            "apps": (Pin(APP_1, LATEST), Pin(APP_2, "1.0.1")),
            "workflows": (Pin(FLOW_1, "1.0.5"),),
        },
    )


def test_writes_the_golden_file_byte_for_byte() -> None:
    expected = (GOLDEN / "manifest_prod.yaml").read_bytes()
    assert write_manifest(golden_manifest()).encode("utf-8") == expected


def test_spec_example_is_already_canonical() -> None:
    assert write_manifest(parse_manifest(SPEC_EXAMPLE, PATH)) == SPEC_EXAMPLE


def test_empty_kinds_are_written_as_empty_lists() -> None:
    assert write_manifest(Manifest.empty("dev")) == (
        "version: 1.0.0\nname: dev\napps: []\nworkflows: []\n"
    )


@pytest.mark.parametrize(
    ("name", "written"),
    [
        ("prod", "prod"),
        ("true", "'true'"),
        ("123", "'123'"),
        ("1.5", "'1.5'"),
        ("null", "'null'"),
        ("0x10", "'0x10'"),
        ("2001-12-14", "'2001-12-14'"),
        ("1.0.0", "1.0.0"),
        ("on", "'on'"),
    ],
)
def test_quotes_a_name_only_when_yaml_would_read_another_type(name: str, written: str) -> None:
    assert write_manifest(Manifest.empty(name)).splitlines()[1] == f"name: {written}"


@pytest.mark.parametrize("loader", LOADERS)
@given(manifest=manifests())
def test_round_trip(loader: type[yaml.SafeLoader], manifest: Manifest) -> None:
    text = write_manifest(manifest)
    with reading_with(loader):
        assert parse_manifest(text, manifest_path(manifest.name)) == manifest
    assert text.endswith("\n")
    assert not text.endswith("\n\n")


@given(manifest=manifests())
def test_writing_is_canonical_and_idempotent(manifest: Manifest) -> None:
    text = write_manifest(manifest)
    path = manifest_path(manifest.name)
    again = write_manifest(parse_manifest(text, path))
    assert again == text
    assert write_manifest(parse_manifest(again, path)) == text
    # Also from a non-canonical spelling of the same manifest: flow style, quotes, reordered keys.
    body = manifest.to_api()
    flow = yaml.safe_dump(
        {
            "name": manifest.name,
            **{k: v for k, v in body.items() if k != "name"},
            "version": FORMAT_VERSION,
        },
        default_flow_style=True,
        sort_keys=False,
    )
    assert write_manifest(parse_manifest(flow, path)) == text


@given(manifest=manifests(min_pins=1), data=st.data())
def test_changing_one_pin_changes_exactly_one_line(manifest: Manifest, data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from([k for k in KINDS if manifest.pins_of(k)]))
    pin = data.draw(st.sampled_from(manifest.pins_of(kind)))
    release = data.draw(releases.filter(lambda r: r != pin.release))
    before = write_manifest(manifest).splitlines()
    after = write_manifest(manifest.with_pin(kind, pin.uuid, release)).splitlines()
    assert len(before) == len(after)
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert changed == [(f"    release: {pin.release}", f"    release: {release}")]


# -- the Manifest value ----------------------------------------------------------------------------


def test_with_pin_replaces_in_place_and_appends_new_entries() -> None:
    manifest = golden_manifest()
    replaced = manifest.with_pin(APP, APP_1, "2.0.0")
    assert replaced.pins_of(APP) == (Pin(APP_1, "2.0.0"), Pin(APP_2, "1.0.1"))
    new = "3f1e0b5c-1111-4222-9333-444455556666"
    added = manifest.with_pin(WORKFLOW, new, LATEST)
    assert added.pins_of(WORKFLOW) == (Pin(FLOW_1, "1.0.5"), Pin(new, LATEST))
    assert manifest == golden_manifest()  # the original is untouched


@pytest.mark.parametrize(
    ("uuid", "release", "error"),
    [
        (APP_1, "1.0", InvalidVersion),
        (APP_1, "v1.0.0", InvalidVersion),
        (APP_1, "Latest", InvalidVersion),
        ("not-a-uuid", LATEST, InvalidInput),
        (APP_1.upper(), LATEST, InvalidInput),
    ],
)
def test_with_pin_validates(uuid: str, release: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        Manifest.empty("prod").with_pin(APP, uuid, release)


def test_with_pin_refuses_a_uuid_pinned_under_another_kind() -> None:
    with pytest.raises(InvalidInput, match=r"pins .* under apps, not workflows"):
        golden_manifest().with_pin(WORKFLOW, APP_1, LATEST)


def test_without_pin() -> None:
    manifest = golden_manifest()
    removed = manifest.without_pin(APP_1)
    assert removed.pins_of(APP) == (Pin(APP_2, "1.0.1"),)
    assert removed.find(APP_1) is None
    assert removed.find(APP_2) == (APP, Pin(APP_2, "1.0.1"))
    assert manifest.without_pin("00000000-0000-4000-8000-000000000000") == manifest


def test_manifest_value_rules() -> None:
    manifest = Manifest("prod", {"workflows": [Pin(FLOW_1, LATEST)]})  # type: ignore[dict-item]
    assert list(manifest.pins) == ["apps", "workflows"]
    assert manifest.pins_of(WORKFLOW) == (Pin(FLOW_1, LATEST),)
    assert hash(manifest) == hash(Manifest("prod", {"workflows": (Pin(FLOW_1, LATEST),)}))
    with pytest.raises(TypeError):
        manifest.pins["apps"] = ()  # type: ignore[index]
    with pytest.raises(InvalidName):
        Manifest.empty("../etc")
    with pytest.raises(InvalidInput, match="unknown element kind 'pages'"):
        Manifest("prod", {"pages": ()})
    with pytest.raises(InvalidInput, match="twice"):
        Manifest("prod", {"apps": (Pin(APP_1, LATEST),), "workflows": (Pin(APP_1, LATEST),)})
    with pytest.raises(InvalidVersion):
        Pin(APP_1, "1.0")


def test_manifests_pickle_and_copy() -> None:
    manifest = golden_manifest()
    assert pickle.loads(pickle.dumps(manifest)) == manifest
    assert copy.deepcopy(manifest) == manifest
    assert dataclasses.replace(manifest, name="dev").pins == manifest.pins


def test_to_api() -> None:
    assert golden_manifest().to_api() == {
        "name": "prod",
        "apps": [{"uuid": APP_1, "release": LATEST}, {"uuid": APP_2, "release": "1.0.1"}],
        "workflows": [{"uuid": FLOW_1, "release": "1.0.5"}],
    }


# -- the REST API's body ---------------------------------------------------------------------------


@given(manifest=manifests())
def test_api_round_trip(manifest: Manifest) -> None:
    path = manifest_path(manifest.name)
    assert manifest_from_api(manifest.name, manifest.to_api(), path) == manifest
    without_name = {k: v for k, v in manifest.to_api().items() if k != "name"}
    assert manifest_from_api(manifest.name, without_name, path) == manifest


def test_api_body_problems_name_the_field() -> None:
    body = {
        "apps": [{"uuid": APP_1, "release": 1.0}, "x", {"uuid": APP_1, "release": LATEST}],
        "workflows": {},
        "name": "staging",
        "version": "1.0.0",
    }
    with pytest.raises(ManifestInvalid) as raised:
        manifest_from_api("prod", body, PATH)
    messages = [p.message for p in raised.value.problems]
    assert messages == [
        "unknown key 'version'; use only name, apps, workflows",
        "name must be 'prod' to match the name in the request path, got 'staging'",
        'apps[0].release must be "latest", X.Y.Z, ~X.Y or ^X, got 1.0',
        "apps[1] must be a mapping with uuid and release, got 'x'",
        f"apps[2].uuid {APP_1} is listed twice in apps (first at apps[0]); keep one entry",
        "workflows must be a list of uuid and release entries, got an object; "
        "write `workflows: []` for none",
    ]
    assert all(p.line is None and p.path == PATH for p in raised.value.problems)


@pytest.mark.parametrize("body", [None, [], "apps", 3])
def test_api_body_must_be_an_object(body: object) -> None:
    with pytest.raises(ManifestInvalid, match="the manifest must be an object"):
        manifest_from_api("prod", body, PATH)


def test_api_refuses_a_bad_manifest_name() -> None:
    with pytest.raises(ManifestInvalid, match="not a valid manifest name"):
        manifest_from_api("a/b", {}, "manifests/a/b.yaml")


# -- paths -----------------------------------------------------------------------------------------


@given(name=names)
def test_manifest_path_round_trip(name: str) -> None:
    assert is_valid_name(name)
    assert manifest_name_from_path(manifest_path(name)) == name


@pytest.mark.parametrize(
    "path",
    [
        "manifests/prod.yml",
        "manifests/.yaml",
        "manifests/a/b.yaml",
        "prod.yaml",
        "x/manifests/p.yaml",
        "manifests/-x.yaml",
        "manifests/prod.yaml/",
        "manifests/pr od.yaml",
    ],
)
def test_manifest_name_from_other_paths_is_none(path: str) -> None:
    assert manifest_name_from_path(path) is None


def test_manifest_path_refuses_names_that_escape() -> None:
    with pytest.raises(InvalidName):
        manifest_path("../secrets")
    assert manifest_path("prod") == "manifests/prod.yaml"
    assert manifest_name_from_path("manifests/prod.v2.yaml") == "prod.v2"


def test_every_registered_kind_is_a_manifest_key() -> None:
    text = write_manifest(Manifest.empty("prod"))
    assert [line.split(":")[0] for line in text.splitlines()[2:]] == [k.plural for k in KINDS]

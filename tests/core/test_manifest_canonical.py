"""The fast reader of canonical manifests (`read_canonical`) against the strict YAML reader.

`find_manifest_problems` reads a text in the form `write_manifest` writes without YAML; these tests
hold it to the strict reader: every manifest it accepts is exactly what the strict reader reads, and
every text outside the form (comments, quoting, another order, a damaged line) falls back to it.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mirel.core.kinds import KINDS
from mirel.core.manifest import Manifest, Pin, read_canonical, write_manifest
from mirel.core.manifest_reader import find_manifest_problems, strict_manifest_problems

APP_1 = "2ab90f76-3b1c-4d8e-9f10-2a3b4c5d6e7f"
APP_2 = "100186a5-0e4f-4c2a-8d1b-9c8d7e6f5a4b"
SPEC_EXAMPLE = f"""\
version: 1.0.0
name: prod
apps:
  - uuid: {APP_1}
    release: latest
  - uuid: {APP_2}
    release: 1.0.1
workflows: []
"""
uuids = st.from_regex(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", fullmatch=True
)
numbers = st.integers(min_value=0, max_value=999_999_999)
versions = st.builds(lambda a, b, c: f"{a}.{b}.{c}", numbers, numbers, numbers)

ranges = st.builds(lambda a, b: f"~{a}.{b}", st.integers(0, 99), st.integers(0, 99)) | st.builds(
    lambda a: f"^{a}", st.integers(0, 99)
)
pins = st.just("latest") | versions | ranges
plain_names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,30}", fullmatch=True)


@st.composite
def canonical(draw: st.DrawFn) -> tuple[Manifest, str]:
    """A valid manifest and the path it is stored at."""
    name = draw(plain_names)
    pinned = draw(st.lists(uuids, max_size=8, unique=True))
    by_kind: dict[str, list[Pin]] = {kind.plural: [] for kind in KINDS}
    for uuid in pinned:
        kind = draw(st.sampled_from(list(KINDS)))
        by_kind[kind.plural].append(Pin(uuid, draw(pins)))
    manifest = Manifest(name, {plural: tuple(found) for plural, found in by_kind.items()})
    return manifest, f"manifests/{name}.yaml"


@given(canonical())
def test_reads_back_every_manifest_it_writes(found: tuple[Manifest, str]) -> None:
    manifest, path = found
    text = write_manifest(manifest)
    assert read_canonical(text, path) == manifest
    assert read_canonical(text.encode(), path) == manifest
    assert strict_manifest_problems(text, path) == (manifest, [])


@given(canonical(), st.data())
def test_a_damaged_text_is_read_as_the_strict_reader_reads_it(
    found: tuple[Manifest, str], data: st.DataObject
) -> None:
    manifest, path = found
    text = write_manifest(manifest)
    at = data.draw(st.integers(0, len(text)))
    edit = data.draw(st.sampled_from(["insert", "delete", "replace", "duplicate line"]))
    if edit == "insert":
        text = text[:at] + data.draw(st.sampled_from(list(" -:'\"#\t\nx0.~^&*!"))) + text[at:]
    elif edit == "delete":
        text = text[:at] + text[at + 1 :]
    elif edit == "replace":
        text = text[:at] + data.draw(st.characters()) + text[at + 1 :]
    else:
        lines = text.splitlines(keepends=True)
        line = data.draw(st.integers(0, len(lines) - 1))
        text = "".join(lines[: line + 1] + lines[line:])
    fast = read_canonical(text, path)
    if fast is not None:
        assert strict_manifest_problems(text, path) == (fast, [])
    assert find_manifest_problems(text, path) == strict_manifest_problems(text, path)


def test_texts_outside_the_form_take_the_strict_reader() -> None:
    path = "manifests/prod.yaml"
    assert read_canonical(SPEC_EXAMPLE, path) is not None
    commented = SPEC_EXAMPLE.replace("name: prod\n", "name: prod  # the live one\n")
    quoted = SPEC_EXAMPLE.replace("release: 1.0.1", "release: '1.0.1'")
    reordered = SPEC_EXAMPLE.replace("version: 1.0.0\nname: prod", "name: prod\nversion: 1.0.0")
    twice = SPEC_EXAMPLE.replace(APP_2, APP_1)
    for text in (commented, quoted, reordered):
        assert read_canonical(text, path) is None
        manifest, problems = find_manifest_problems(text, path)
        assert problems == []
        assert manifest is not None
        assert manifest.name == "prod"
    assert read_canonical(twice, path) is None
    manifest, problems = find_manifest_problems(twice, path)
    assert manifest is None
    assert [problem.line for problem in problems] == [6]
    assert read_canonical(SPEC_EXAMPLE, "manifests/staging.yaml") is None
    assert read_canonical(SPEC_EXAMPLE.replace("\n", "\r\n"), path) is None

"""The strict reader of manifests: every problem of a file, each with its line (SPEC.md §2.2).

`find_manifest_problems` and `parse_manifest` read `manifests/<name>.yaml`, reporting every problem
with its file and line, never just the first; `manifest_from_api` builds a manifest from the REST
API's JSON body with the same rules. The model they return and its writer are in
`mirel.core.manifest`.

Reading goes through PyYAML's node API rather than `yaml.safe_load`: nodes keep the line each value
came from, scalars keep the tag YAML resolved (so `release: 1.0`, a float, is told apart from the
string `"1.0"`), and duplicate keys are still visible (a loaded dict silently keeps the last one).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import yaml

from mirel.core.kinds import KINDS, ElementKind
from mirel.core.manifest import (
    EXAMPLE_UUID,
    FORMAT_VERSION,
    Manifest,
    Pin,
    bad_release_message,
    bad_uuid_message,
    is_release,
    manifest_name_from_path,
    read_canonical,
)
from mirel.core.names import is_valid_name, is_valid_uuid
from mirel.errors import ManifestInvalid, Problem

MAX_MANIFEST_BYTES = 4 * 1024 * 1024
MAX_PROBLEMS = 200

# libyaml is much faster; the pure-Python loader reads the same documents, only slower.
_LOADER: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = getattr(
    yaml, "CSafeLoader", yaml.SafeLoader
)

_STR = "tag:yaml.org,2002:str"
_NULL = "tag:yaml.org,2002:null"
# A manifest needs three levels (document, list, entry). Deeper nesting is already a type error, and
# refusing it before composing keeps the recursive composer far from the stack limit.
_MAX_NESTING = 32
# The characters YAML refuses. Found before parsing so that the line is ours: libyaml reports a byte
# offset where the Python reader reports a character offset.
_NON_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
# What YAML counts as a line break, so that our line numbers agree with the parser's.
_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
_NAME_RULE = "use 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit"
_ENTRY_KEYS = ("uuid", "release")


class _Report:
    """Collects the problems of one file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[Problem] = []
        self.dropped = 0

    def add(self, line: int | None, message: str) -> None:
        # A hostile 4 MiB file could hold a million problems; a person reads the first few.
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(self.path, message, line))
        else:
            self.dropped += 1

    def result(self) -> list[Problem]:
        """Return the problems top to bottom, with a last one counting those left out."""
        # Problems come from several passes (events, then schema); users read them by line.
        problems = sorted(self.problems, key=lambda problem: problem.line or 0)
        if self.dropped:
            problems.append(
                Problem(
                    self.path,
                    f"{self.dropped} more problems are not listed; fix those above and check again",
                )
            )
        return problems


@dataclass(frozen=True, slots=True)
class _Value:
    """A document value reduced to what the schema checks need, whether it came from YAML or JSON.

    `data` is a string, a list, a mapping (key -> key line and value), or None for anything else
    (a number, a boolean, null, or a collection nested too deep to matter). `shown` is how messages
    quote it. `reported` marks a value whose problem (a YAML tag) was already reported.
    """

    data: str | list[_Value] | dict[str, tuple[int | None, _Value]] | None
    line: int | None
    shown: str
    text: str | None = None  # a non-string scalar's source text, to suggest quoting it
    reported: bool = False


def find_manifest_problems(text: str | bytes, path: str) -> tuple[Manifest | None, list[Problem]]:
    """Return the manifest in `text` stored at `path` and every problem found in it.

    The manifest is None whenever there is a problem; each problem names `path` and, when known,
    the 1-based line.
    """
    canonical = read_canonical(text, path)
    if canonical is not None:
        return canonical, []
    return strict_manifest_problems(text, path)


def strict_manifest_problems(text: str | bytes, path: str) -> tuple[Manifest | None, list[Problem]]:
    """Return what `find_manifest_problems` does, always through the YAML parser (the path
    every text that is not in the canonical form takes)."""
    report = _Report(path)
    expected = manifest_name_from_path(path)
    if expected is None:
        report.add(
            None,
            f"a manifest is stored as manifests/<name>.yaml with a valid name, not {path}; "
            f"{_NAME_RULE}",
        )
    root = _read_yaml(text, report)
    manifest = None if root is None else _check(root, expected, report, yaml_document=True)
    if report.problems:
        return None, report.result()
    return manifest, []


def parse_manifest(text: str | bytes, path: str) -> Manifest:
    """Return the manifest in `text` stored at `path`; raise ManifestInvalid with every problem."""
    manifest, problems = find_manifest_problems(text, path)
    if manifest is None:
        raise ManifestInvalid(problems)
    return manifest


def manifest_from_api(name: str, body: object, path: str) -> Manifest:
    """Return the manifest `name` built from the REST API's JSON body, or raise ManifestInvalid.

    The body is `{"apps": [{"uuid", "release"}], "workflows": [...]}`; a missing kind means no pins,
    and a `name` key (as `to_api` gives) must equal `name`. Problems carry no line numbers and name
    the offending field as `apps[0].release`.
    """
    report = _Report(path)
    if not is_valid_name(name):
        report.add(None, f"{name!r} is not a valid manifest name; {_NAME_RULE}")
        raise ManifestInvalid(report.result())
    manifest = _check(_from_json(body, report, "", 0), name, report, yaml_document=False)
    if manifest is None or report.problems:
        raise ManifestInvalid(report.result())
    return manifest


def _decode(text: str | bytes, report: _Report) -> str | None:
    """Return `text` as a string YAML can read, or None after reporting why it cannot be."""
    if isinstance(text, str):
        # Each character is at least one byte, so the length alone refuses most oversized text
        # without encoding it.
        if len(text) > MAX_MANIFEST_BYTES:
            size = len(text)
        else:
            try:
                size = len(text.encode("utf-8"))
            except UnicodeEncodeError as exc:
                report.add(
                    _line_at(text, exc.start),
                    f"the text holds {text[exc.start]!r}, which is not a Unicode character; "
                    "save the file as UTF-8",
                )
                return None
        decoded = text
    else:
        size = len(text)
    if size > MAX_MANIFEST_BYTES:
        report.add(
            None,
            f"the manifest is larger than 4 MiB ({MAX_MANIFEST_BYTES} bytes), the most mirel "
            "reads; a manifest holds one short entry per pinned element",
        )
        return None
    if isinstance(text, bytes):
        try:
            decoded = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            report.add(
                _line_at(text[: exc.start].decode("utf-8")),
                f"byte 0x{text[exc.start]:02x} is not UTF-8; save the file as UTF-8",
            )
            return None
    bad = _NON_PRINTABLE.search(decoded)
    if bad is not None:
        report.add(
            _line_at(decoded, bad.start()),
            f"character U+{ord(bad[0]):04X} is not allowed in YAML; remove it "
            "(tabs, newlines and printable characters are allowed)",
        )
        return None
    return decoded


def _line_at(text: str, index: int | None = None) -> int:
    """Return the 1-based line of `text[index]` (default: its end), counting breaks as YAML does."""
    return len(_LINE_BREAK.findall(text, 0, len(text) if index is None else index)) + 1


def _read_yaml(text: str | bytes, report: _Report) -> _Value | None:
    """Return the document's root value, or None after reporting why there is none to check."""
    decoded = _decode(text, report)
    if decoded is None:
        return None
    try:
        tagged = _check_events(decoded, report)
        if tagged is None:
            return None
        node = yaml.compose(decoded, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        report.add(*_yaml_error(exc))
        return None
    except yaml.YAMLError as exc:
        report.add(None, f"not valid YAML: {_one_line(str(exc))}")
        return None
    if node is None or (node.tag == _NULL and node.value == ""):
        report.add(
            None,
            f"the manifest is empty; write at least `version: {FORMAT_VERSION}` and "
            "`name: <the file name without .yaml>`",
        )
        return None
    return _from_node(node, tagged, report, 0)


def _check_events(text: str, report: _Report) -> set[tuple[int, int]] | None:
    """Return where explicitly tagged nodes start, or None when the text must not be composed.

    Aliases, anchors and tags are refused: aliases because walking a composed chain of them costs
    exponential work ("billion laughs"), and all three because a manifest has no use for them. The
    event stream shows them, with their lines, before any node is built.
    """
    tagged: set[tuple[int, int]] = set()
    depth = 0
    documents = 0
    compose = True
    for event in yaml.parse(text, Loader=_LOADER):
        mark = event.start_mark
        line = mark.line + 1 if mark is not None else None
        if isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents == 2:
                report.add(
                    line,
                    "a manifest is a single YAML document; remove this second document "
                    "and its '---'",
                )
                compose = False
        elif isinstance(event, yaml.AliasEvent):
            report.add(
                line,
                f"YAML aliases are not allowed in a manifest; write the value out instead of "
                f"'*{event.anchor}'",
            )
            compose = False
        elif isinstance(event, yaml.NodeEvent):
            if event.anchor is not None:
                report.add(
                    line,
                    f"YAML anchors are not allowed in a manifest; remove '&{event.anchor}'",
                )
            tag = getattr(event, "tag", None)
            if isinstance(event, yaml.ScalarEvent | yaml.CollectionStartEvent) and tag is not None:
                written = tag.replace("tag:yaml.org,2002:", "!!", 1)
                report.add(
                    line,
                    f"YAML tags are not allowed in a manifest; remove {written!r} "
                    "(quote a value to make it a string)",
                )
                if mark is not None:
                    tagged.add((mark.line, mark.column))
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > _MAX_NESTING:
                    report.add(
                        line,
                        f"the manifest nests more than {_MAX_NESTING} levels deep; a manifest "
                        "holds only version, name and lists of uuid and release entries",
                    )
                    return None
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return tagged if compose else None


def _yaml_error(exc: yaml.MarkedYAMLError) -> tuple[int | None, str]:
    """Return the line and one-line message of a YAML syntax error."""
    mark = exc.problem_mark or exc.context_mark
    message = f"not valid YAML: {_one_line(exc.problem or exc.context or 'syntax error')}"
    if exc.context and exc.problem and exc.context_mark is not None:
        message += f" ({_one_line(exc.context)} that starts at line {exc.context_mark.line + 1})"
    line = mark.line + 1 if mark is not None else None
    return line, message + "; check the quoting and indentation around this line"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _from_node(
    node: yaml.Node, tagged: set[tuple[int, int]], report: _Report, depth: int
) -> _Value:
    """Return the schema's view of a YAML node, reporting duplicate and non-scalar keys."""
    mark = node.start_mark
    line = mark.line + 1
    reported = (mark.line, mark.column) in tagged
    if isinstance(node, yaml.ScalarNode):
        text: str = node.value
        if node.tag == _STR:
            return _Value(text, line, repr(text), reported=reported)
        shown = "nothing" if node.tag == _NULL and text == "" else repr(text)
        return _Value(None, line, shown, text=text, reported=reported)
    if isinstance(node, yaml.SequenceNode):
        if depth >= 3:
            return _Value(None, line, "a list", reported=reported)
        items = [_from_node(item, tagged, report, depth + 1) for item in node.value]
        return _Value(items, line, "a list", reported=reported)
    if depth >= 3:
        return _Value(None, line, "a mapping", reported=reported)
    fields: dict[str, tuple[int | None, _Value]] = {}
    for key_node, value_node in node.value:
        key_line = key_node.start_mark.line + 1
        if not isinstance(key_node, yaml.ScalarNode):
            report.add(key_line, "a key must be a plain word such as uuid; remove this complex key")
            continue
        key: str = key_node.value
        if key in fields:
            report.add(
                key_line,
                f"duplicate key {key!r} (first at line {fields[key][0]}); keep only one",
            )
            continue
        fields[key] = (key_line, _from_node(value_node, tagged, report, depth + 1))
    return _Value(fields, line, "a mapping", reported=reported)


def _from_json(body: object, report: _Report, where: str, depth: int) -> _Value:
    """Return the schema's view of a JSON value."""
    if isinstance(body, str):
        return _Value(body, None, repr(body))
    if isinstance(body, list | tuple):
        if depth >= 3:
            return _Value(None, None, "a list")
        items = [
            _from_json(item, report, f"{where}[{i}]", depth + 1) for i, item in enumerate(body)
        ]
        return _Value(items, None, "a list")
    if isinstance(body, Mapping):
        if depth >= 3:
            return _Value(None, None, "an object")
        fields: dict[str, tuple[int | None, _Value]] = {}
        for key, value in body.items():
            if not isinstance(key, str):
                report.add(None, f"{where or 'the body'} has key {key!r}; keys must be strings")
                continue
            child = f"{where}.{key}" if where else key
            fields[key] = (None, _from_json(value, report, child, depth + 1))
        return _Value(fields, None, "an object")
    if body is None:
        return _Value(None, None, "null")
    if isinstance(body, bool):
        return _Value(None, None, "true" if body else "false")
    if isinstance(body, int | float):
        return _Value(None, None, repr(body))
    return _Value(None, None, f"a {type(body).__name__}")


def _unknown_key(key: str, allowed: Iterable[str]) -> str:
    allowed = tuple(allowed)
    close = difflib.get_close_matches(key.lower(), allowed, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown key {key!r}; {hint}use only {', '.join(allowed)}"


def _check(
    root: _Value, expected_name: str | None, report: _Report, *, yaml_document: bool
) -> Manifest | None:
    """Return the manifest `root` describes, or None; report every problem on the way."""
    plurals = tuple(kind.plural for kind in KINDS)
    allowed = ("version", "name", *plurals) if yaml_document else ("name", *plurals)
    if not isinstance(root.data, dict):
        if not root.reported:
            what = (
                "a manifest must be a mapping"
                if yaml_document
                else "the manifest must be an object"
            )
            report.add(root.line, f"{what} with keys {', '.join(allowed)}, got {root.shown}")
        return None
    fields = root.data
    for key, (line, _) in fields.items():
        if key not in allowed:
            report.add(line, _unknown_key(key, allowed))
    if yaml_document:
        _check_version(fields.get("version"), report)
    name = _check_name(fields.get("name"), expected_name, report, required=yaml_document)
    seen: dict[str, tuple[ElementKind, str]] = {}
    pins: dict[str, tuple[Pin, ...]] = {}
    for kind in KINDS:
        entries = fields.get(kind.plural)
        pins[kind.plural] = () if entries is None else _check_pins(kind, entries, seen, report)
    if report.problems or name is None:
        return None
    return Manifest(name, pins)


def _check_version(found: tuple[int | None, _Value] | None, report: _Report) -> None:
    if found is None:
        report.add(None, f"missing key version; add `version: {FORMAT_VERSION}` at the top")
        return
    key_line, value = found
    if value.reported or value.data == FORMAT_VERSION:
        return
    report.add(
        value.line or key_line,
        f"version must be {FORMAT_VERSION}, got {value.shown}; "
        f"write `version: {FORMAT_VERSION}` (the only manifest format)",
    )


def _check_name(
    found: tuple[int | None, _Value] | None,
    expected: str | None,
    report: _Report,
    *,
    required: bool,
) -> str | None:
    """Return the manifest's name when it is valid and matches `expected`, else None."""
    if found is None:
        if required:
            report.add(None, f"missing key name; add `name: {expected or '<name>'}`")
            return None
        return expected
    key_line, value = found
    line = value.line or key_line
    if value.reported:
        return None
    if not isinstance(value.data, str):
        if expected is not None and value.text == expected:
            report.add(line, f"name must be a string; quote it: name: '{expected}'")
        elif expected is not None:
            report.add(line, f"name must be {expected!r} to match the file name, got {value.shown}")
        else:
            report.add(line, f"name must be a string, got {value.shown}")
        return None
    name = value.data
    if not is_valid_name(name):
        report.add(line, f"name {name!r} is not a valid manifest name; {_NAME_RULE}")
        return None
    if expected is not None and name != expected:
        where = "the file name" if required else "the name in the request path"
        report.add(line, f"name must be {expected!r} to match {where}, got {name!r}")
        return None
    return name


def _check_pins(
    kind: ElementKind,
    found: tuple[int | None, _Value],
    seen: dict[str, tuple[ElementKind, str]],
    report: _Report,
) -> tuple[Pin, ...]:
    """Return the valid pins listed under one kind; report every bad entry."""
    key_line, value = found
    if value.reported:
        return ()
    if not isinstance(value.data, list):
        report.add(
            value.line or key_line,
            f"{kind.plural} must be a list of uuid and release entries, got {value.shown}; "
            f"write `{kind.plural}: []` for none",
        )
        return ()
    pins = (
        _check_entry(kind, position, item, seen, report, by_line=key_line is not None)
        for position, item in enumerate(value.data)
    )
    return tuple(pin for pin in pins if pin is not None)


def _check_entry(
    kind: ElementKind,
    position: int,
    item: _Value,
    seen: dict[str, tuple[ElementKind, str]],
    report: _Report,
    *,
    by_line: bool,
) -> Pin | None:
    """Return the pin one entry describes, or None after reporting what is wrong with it."""
    if item.reported:
        return None
    # With a line number a message needs no location; without one (JSON) it names the field.
    entry = f"{kind.plural}[{position}]"
    prefix = "" if by_line else f"{entry}."
    if not isinstance(item.data, dict):
        subject = f"each entry of {kind.plural}" if by_line else entry
        report.add(
            item.line, f"{subject} must be a mapping with uuid and release, got {item.shown}"
        )
        return None
    fields = item.data
    for key, (line, _) in fields.items():
        if key not in _ENTRY_KEYS:
            report.add(line, prefix + _unknown_key(key, _ENTRY_KEYS))
    uuid = _string_field(fields, "uuid", item.line, entry if not by_line else None, report)
    if uuid is not None and not is_valid_uuid(uuid[0]):
        report.add(uuid[1], prefix + bad_uuid_message(repr(uuid[0]), uuid[0]))
        uuid = None
    release = _string_field(fields, "release", item.line, entry if not by_line else None, report)
    if release is not None and not is_release(release[0]):
        report.add(release[1], prefix + bad_release_message(repr(release[0])))
        release = None
    if uuid is None:
        return None
    here = f"line {uuid[1]}" if by_line else entry
    first = seen.setdefault(uuid[0], (kind, here))
    if first[1] != here:
        if first[0] == kind:
            message = f"is listed twice in {kind.plural} (first at {first[1]}); keep one entry"
        else:
            message = (
                f"is listed in both {first[0].plural} (at {first[1]}) and {kind.plural}; "
                "an element has one kind, keep only the entry under its kind"
            )
        report.add(uuid[1], f"{prefix}uuid {uuid[0]} {message}")
        return None
    return None if release is None else Pin(uuid[0], release[0])


def _string_field(
    fields: dict[str, tuple[int | None, _Value]],
    key: str,
    entry_line: int | None,
    entry: str | None,
    report: _Report,
) -> tuple[str, int | None] | None:
    """Return an entry's string field and its line, or None after reporting what is wrong."""
    found = fields.get(key)
    prefix = f"{entry}." if entry else ""
    if found is None:
        example = f"<the element's uuid, like {EXAMPLE_UUID}>" if key == "uuid" else "latest"
        report.add(entry_line, f"{entry or 'this entry'} has no {key}; add `{key}: {example}`")
        return None
    key_line, value = found
    line = value.line or key_line
    if value.reported:
        return None
    if not isinstance(value.data, str):
        message = (
            bad_uuid_message(value.shown, None)
            if key == "uuid"
            else bad_release_message(value.shown)
        )
        report.add(line, prefix + message)
        return None
    return value.data, line

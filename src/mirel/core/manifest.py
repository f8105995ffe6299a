"""Manifests (SPEC.md §2.2): the model of which release of each element an instance serves.

A manifest lives at `manifests/<name>.yaml` and holds `Pin`s per element kind. This module holds the
model (`Pin`, `Manifest`), the path rules (`manifest_path`, `manifest_name_from_path`) and the
canonical writer, which writes a fact a line so that changing one pin is a one-line diff. The strict
reader of manifest files and of the REST API's JSON body is `mirel.core.manifest_reader`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass, field
from functools import cache, cached_property
from types import MappingProxyType
from typing import TYPE_CHECKING

from mirel.core.kinds import KINDS, ElementKind
from mirel.core.names import UUID_PATTERN, check_name, is_valid_name, is_valid_uuid
from mirel.core.versions import RANGE_PATTERN, VERSION_PATTERN, Version, VersionRange
from mirel.errors import InvalidInput, InvalidVersion

if TYPE_CHECKING:
    import yaml

LATEST = "latest"
FORMAT_VERSION = "1.0.0"
# The uuid that messages show as an example of the form a uuid must take.
EXAMPLE_UUID = "2ab90f76-3b1c-4d8e-9f10-2a3b4c5d6e7f"

_STR = "tag:yaml.org,2002:str"
# The strict reader's limit (manifest_reader.MAX_MANIFEST_BYTES); a longer text is its to refuse.
_MAX_CANONICAL_BYTES = 4 * 1024 * 1024
_PATH = re.compile(r"manifests/(.+)\.yaml")

_Resolve = Callable[[type["yaml.Node"], str, tuple[bool, bool]], str]


@cache
def _resolver() -> tuple[_Resolve, type[yaml.Node]]:
    """Return YAML's implicit resolver (typed here: the stubs leave `resolve` untyped) and its
    scalar node type, PyYAML imported when a manifest is first written: reading a canonical
    manifest, or listing elements, needs none of it."""
    import yaml

    return yaml.resolver.Resolver().resolve, yaml.ScalarNode


def bad_release_message(shown: str) -> str:
    """Return the message for a release that is not a pin (`shown` as quoted)."""
    return f'release must be "latest", X.Y.Z, ~X.Y or ^X, got {shown}'


def bad_uuid_message(shown: str, value: object) -> str:
    """Return the message for a uuid that is not a lowercase uuid, suggesting the fix if any."""
    message = f"uuid must be a lowercase uuid like {EXAMPLE_UUID}, got {shown}"
    if isinstance(value, str) and is_valid_uuid(value.lower()):
        message += f"; write it in lowercase: {value.lower()}"
    return message


def is_release(text: str) -> bool:
    """Return whether `text` is what a pin may hold: "latest", a strict X.Y.Z, or a range
    ~X.Y or ^X."""
    return text == LATEST or Version.is_valid(text) or VersionRange.is_valid(text)


@dataclass(frozen=True)
class Pin:
    """One manifest entry: an element's uuid and the release it is pinned to."""

    uuid: str
    release: str  # "latest", a strict "X.Y.Z", or a range "~X.Y" / "^X"

    def __post_init__(self) -> None:
        # Checked here so that no code path can build a pin that would write an unreadable manifest.
        if not is_valid_uuid(self.uuid):
            raise InvalidInput(bad_uuid_message(repr(self.uuid), self.uuid))
        if not (isinstance(self.release, str) and is_release(self.release)):
            raise InvalidVersion(bad_release_message(repr(self.release)))


# A manifest as the REST API writes it: {"name": ..., "apps": [{"uuid", "release"}], ...}.
ApiManifest = dict[str, str | list[dict[str, str]]]


@dataclass(frozen=True)
class Manifest:
    """A manifest: its name and, per kind plural in registry order, its pins in file order."""

    name: str
    pins: Mapping[str, tuple[Pin, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_name(self.name, "manifest")
        given = dict(self.pins)
        pins: dict[str, tuple[Pin, ...]] = {}
        seen: set[str] = set()
        for kind in KINDS:
            entries = tuple(given.pop(kind.plural, ()))
            for pin in entries:
                if not isinstance(pin, Pin):
                    raise InvalidInput(f"manifest {self.name}: {kind.plural} must hold Pin values")
                if pin.uuid in seen:
                    raise InvalidInput(
                        f"manifest {self.name} lists {pin.uuid} twice; keep one entry"
                    )
                seen.add(pin.uuid)
            pins[kind.plural] = entries
        if given:
            known = ", ".join(kind.plural for kind in KINDS)
            raise InvalidInput(
                f"manifest {self.name}: unknown element kind {sorted(given)[0]!r}; use {known}"
            )
        # A read-only view keeps the frozen dataclass actually immutable.
        object.__setattr__(self, "pins", MappingProxyType(pins))

    def __hash__(self) -> int:
        return hash((self.name, tuple(self.pins.items())))

    def __reduce__(self) -> tuple[type[Manifest], tuple[str, dict[str, tuple[Pin, ...]]]]:
        # A mappingproxy cannot be pickled or deep-copied; the plain dict it wraps can.
        return Manifest, (self.name, dict(self.pins))

    @cached_property
    def _index(self) -> dict[str, tuple[ElementKind, int]]:
        """Return uuid -> (kind, position in that kind's pins), so lookups scan nothing."""
        return {
            pin.uuid: (kind, position)
            for kind in KINDS
            for position, pin in enumerate(self.pins[kind.plural])
        }

    @classmethod
    def empty(cls, name: str) -> Manifest:
        """Return a manifest called `name` that pins nothing."""
        return cls(name)

    def pins_of(self, kind: ElementKind) -> tuple[Pin, ...]:
        """Return the pins of one kind, in file order."""
        return self.pins[_registered(kind).plural]

    def find(self, uuid: str) -> tuple[ElementKind, Pin] | None:
        """Return the kind and pin of the element `uuid`, or None when the manifest omits it."""
        found = self._index.get(uuid)
        if found is None:
            return None
        kind, position = found
        return kind, self.pins[kind.plural][position]

    def with_pin(self, kind: ElementKind, uuid: str, release: str) -> Manifest:
        """Return this manifest with `uuid` pinned to `release`, in place if already listed."""
        kind = _registered(kind)
        pin = Pin(uuid, release)
        found = self._index.get(uuid)
        pins = dict(self.pins)
        if found is None:
            pins[kind.plural] = (*pins[kind.plural], pin)
        else:
            other, position = found
            if other != kind:
                raise InvalidInput(
                    f"manifest {self.name} pins {uuid} under {other.plural}, not {kind.plural}; "
                    f"pin it under {other.plural}, or unpin it first"
                )
            entries = list(pins[kind.plural])
            entries[position] = pin
            pins[kind.plural] = tuple(entries)
        return Manifest(self.name, pins)

    def without_pin(self, uuid: str) -> Manifest:
        """Return this manifest without the pin of `uuid` (unchanged when it has none)."""
        found = self._index.get(uuid)
        if found is None:
            return self
        kind, position = found
        pins = dict(self.pins)
        entries = pins[kind.plural]
        pins[kind.plural] = entries[:position] + entries[position + 1 :]
        return Manifest(self.name, pins)

    def only(self, uuids: Set[str]) -> Manifest:
        """Return this manifest keeping only the pins of `uuids` (in their order)."""
        kept = {
            plural: tuple(pin for pin in pins if pin.uuid in uuids)
            for plural, pins in self.pins.items()
        }
        return Manifest(self.name, kept)

    def to_api(self) -> ApiManifest:
        """Return the REST API's view: the name and, per kind plural, a list of uuid/release."""
        body: ApiManifest = {"name": self.name}
        for plural, pins in self.pins.items():
            body[plural] = [{"uuid": pin.uuid, "release": pin.release} for pin in pins]
        return body


def _registered(kind: ElementKind) -> ElementKind:
    if KINDS.by_plural(kind.plural) != kind:
        raise InvalidInput(f"element kind {kind.name!r} is not registered")
    return kind


def manifest_path(name: str) -> str:
    """Return the repository path of the manifest called `name`."""
    return f"manifests/{check_name(name, 'manifest')}.yaml"


def manifest_name_from_path(path: str) -> str | None:
    """Return the manifest name stored at `path`, or None when it is not manifests/<name>.yaml."""
    match = _PATH.fullmatch(path)
    if match is None or not is_valid_name(match[1]):
        return None
    return match[1]


# -- writing ---------------------------------------------------------------------------------------


def _scalar(text: str) -> str:
    """Return `text` as YAML that reads back as the same string, quoted only when it must be."""
    resolve, scalar = _resolver()
    if resolve(scalar, text, (True, False)) == _STR:
        return text
    # Valid names hold no quote, so single quotes need no escaping.
    return f"'{text}'"


def write_manifest(manifest: Manifest) -> str:
    """Return the canonical text of `manifest`: fixed key order, entries in order, a fact a line."""
    lines = [f"version: {FORMAT_VERSION}", f"name: {_scalar(manifest.name)}"]
    for kind in KINDS:
        pins = manifest.pins_of(kind)
        if not pins:
            lines.append(f"{kind.plural}: []")
            continue
        lines.append(f"{kind.plural}:")
        for pin in pins:
            # uuids and releases always read back as plain strings, so they are never quoted.
            lines.append(f"  - uuid: {pin.uuid}")
            lines.append(f"    release: {pin.release}")
    return "\n".join(lines) + "\n"


def _canonical_document() -> re.Pattern[str]:
    """Return the expression that matches exactly the texts `write_manifest` writes."""
    version = VERSION_PATTERN[1:-1]
    release = f"{LATEST}|{version}|{RANGE_PATTERN[2:-2]}"
    pin = rf"  - uuid: {UUID_PATTERN[1:-1]}\n    release: (?:{release})\n"
    kinds = "".join(
        rf"(?:{kind.plural}: \[\]\n|{kind.plural}:\n(?P<{kind.name}>(?:{pin})+))" for kind in KINDS
    )
    return re.compile(rf"version: {re.escape(FORMAT_VERSION)}\nname: (?P<name>[^\n]*)\n{kinds}")


_CANONICAL = _canonical_document()
_CANONICAL_PIN = re.compile(r"  - uuid: (\S+)\n    release: (\S+)\n")


def _checked_pin(uuid: str, release: str) -> Pin:
    """Return a pin whose uuid and release the canonical expression has already checked."""
    pin = object.__new__(Pin)
    object.__setattr__(pin, "uuid", uuid)
    object.__setattr__(pin, "release", release)
    return pin


def read_canonical(text: str | bytes, path: str) -> Manifest | None:
    """Return the manifest in `text` when it is exactly what `write_manifest` writes for the
    manifest stored at `path`; None for any other text, which the strict reader then reads.

    The inverse of the writer, for speed: mirel writes every manifest it changes in this form, and
    the strict reader's YAML events and nodes cost 60 ms for 2,000 pins where one regular
    expression costs 2 ms. Every text it accepts is one the writer writes, and the strict reader
    reads every written manifest as the one written (tests/core/test_manifest_canonical.py).
    """
    expected = manifest_name_from_path(path)
    if expected is None or len(text) > _MAX_CANONICAL_BYTES:
        return None
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            return None
    document = _CANONICAL.fullmatch(text)
    if document is None or document["name"] != _scalar(expected):
        return None
    pins = {
        kind.plural: tuple(
            _checked_pin(uuid, release)
            for uuid, release in _CANONICAL_PIN.findall(document[kind.name] or "")
        )
        for kind in KINDS
    }
    try:
        return Manifest(expected, pins)
    except InvalidInput:
        return None  # a uuid listed twice: the strict reader says where

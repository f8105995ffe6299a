"""Release artifacts (SPEC.md §2.1): the model, the deterministic builder and the readers.

An artifact is a zip holding exactly:

- ``release.json``: canonical JSON (sorted keys, indent 2, UTF-8, trailing newline) with ``format``
  1, ``kind``, ``uuid``, ``name``, ``version``, ``description``, ``created_at``, ``created_by``,
  ``source_commit`` and ``files_sha256``;
- ``files/<path>`` for every file of the element's folder (``metadata.json`` included).

Nothing else is allowed; the readers' checks of names, the central directory and entry data live in
`mirel.core.zip_reader`.

Determinism. Entries are sorted by name (so ``files/...`` comes before ``release.json``), and
every entry has the date 1980-01-01 00:00, unix mode 0o100644, creator system 3 (unix), no extra
field and no comment; the archive has no comment. Entries are deflated at level 9, with one
exception: an entry whose deflated form would exceed the ratio limit is stored uncompressed, because
readers refuse such ratios as zip bombs and a legitimately repetitive file must stay releasable. The
choice depends only on the content and the limits, so the same inputs still give the same bytes.
Deflate output comes from zlib; byte-identical results are promised for one zlib version (zlib has
kept its output stable for years, but another implementation such as zlib-ng may compress
differently).

Limits (`ArtifactLimits`). Readers refuse more than ``max_entries`` entries, more than
``max_total_bytes`` uncompressed (declared in the central directory, or actually produced while
decompressing: header sizes are never trusted), and an entry whose uncompressed size is more than
``max_ratio`` times its compressed size. The ratio is only checked for entries of at least
``ratio_floor_bytes``: small repetitive files (an empty JSON array padded with spaces, a file of
blank lines) legitimately compress far better than 100:1, and a small entry cannot make a bomb,
since every entry also counts towards ``max_total_bytes``. ``release.json`` is read in full and is
therefore capped at 1 MiB on its own.

The entry limit is checked once Python's zipfile has parsed the central directory, which takes
memory proportional to the size of the input; callers bound that size before reading a blob.

Readers raise only `ArtifactInvalid` on any input: corrupt or hostile zips (see
`mirel.core.zip_reader`) and every release.json problem (including repeated keys) are reported with
the artifact's name. Release metadata in release.json is validated strictly: ``created_at`` must be
written exactly as mirel writes it (``2024-05-01T12:00:00Z``) and ``source_commit`` must be a full
lowercase SHA-1 or SHA-256 id. The content of ``files/metadata.json`` is the element layer's
business and is not checked here.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import zipfile
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType

from mirel.core.kinds import KINDS, ElementKind
from mirel.core.names import check_name, is_valid_name, is_valid_uuid
from mirel.core.versions import Version
from mirel.core.zip_reader import (
    FILES_PREFIX,
    MAX_RELEASE_JSON_BYTES,
    RELEASE_JSON,
    check_directory,
    nesting_conflict,
    path_problem,
    quoted,
    read_entry,
    read_release_json,
    refusing_corruption,
)
from mirel.errors import ArtifactInvalid, InvalidInput

FORMAT = 1


@dataclass(frozen=True)
class ArtifactLimits:
    """What a reader accepts before it refuses an artifact as unsafe or oversized."""

    max_entries: int = 10_000
    max_total_bytes: int = 256 * 1024 * 1024  # uncompressed, release.json included
    max_ratio: int = 100
    # Entries smaller than this are not ratio-checked; see the module docstring for why.
    ratio_floor_bytes: int = 64 * 1024

    @property
    def max_artifact_file_bytes(self) -> int:
        """Return the largest zip file these limits could accept: every byte stored, plus the
        zip's own headers. A larger file is refused from its size, before it is read."""
        return self.max_total_bytes + 1024 * self.max_entries


DEFAULT_LIMITS = ArtifactLimits()

# What readers say of an artifact path git holds as something else than a file: a submodule
# names a commit this repository does not hold, so there is nothing to read.
NOT_A_FILE = "is not a file (a submodule or a missing object); a release artifact is a zip file"


@dataclass(frozen=True)
class ReleaseInfo:
    """The content of an artifact's release.json."""

    kind: str
    uuid: str
    name: str
    version: str
    description: str
    created_at: str  # RFC 3339 UTC with seconds precision: "2024-05-01T12:00:00Z"
    created_by: str
    source_commit: str
    files_sha256: str

    def to_json(self) -> dict[str, str | int]:
        """Return the release.json object, `format` included."""
        return {
            "format": FORMAT,
            "kind": self.kind,
            "uuid": self.uuid,
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "source_commit": self.source_commit,
            "files_sha256": self.files_sha256,
        }


@dataclass(frozen=True)
class Artifact:
    """A checked artifact: its release.json and its files (path inside the element folder)."""

    info: ReleaseInfo
    files: Mapping[str, bytes]


_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o100644
_CREATOR_UNIX = 3
_COMPRESS_LEVEL = 9

_STRING_FIELDS = (
    "kind",
    "uuid",
    "name",
    "version",
    "description",
    "created_at",
    "created_by",
    "source_commit",
    "files_sha256",
)
_RELEASE_KEYS = frozenset(("format", *_STRING_FIELDS))
_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_COMMIT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # SHA-1 or SHA-256 repositories
_EPOCH_SECONDS = re.compile(r"[0-9]+")


# -- digest and timestamps -----------------------------------------------------------------------


def files_digest(files: Mapping[str, bytes]) -> str:
    """Return the sha256 hex digest identifying a set of files (release.json's `files_sha256`).

    The digest is taken over one line per file, ``f"{path}\\0{sha256(content).hexdigest()}\\n"``,
    encoded as UTF-8 and sorted by path (Unicode code point order, which is also the byte order of
    the UTF-8 encoding). Paths never contain NUL, so the serialisation is unambiguous.
    """
    return _digest_of(
        {path: hashlib.sha256(content).hexdigest() for path, content in files.items()}
    )


def _digest_of(hashes: Mapping[str, str]) -> str:
    """Return `files_digest` of files known by the sha256 hex digest of each one's content."""
    digest = hashlib.sha256()
    for path in sorted(hashes):
        digest.update(f"{path}\0{hashes[path]}\n".encode())
    return digest.hexdigest()


def release_timestamp(now: datetime | None = None) -> str:
    """Return the release time as RFC 3339 UTC with seconds precision, e.g. 2024-05-01T12:00:00Z.

    ``SOURCE_DATE_EPOCH`` (whole seconds since 1970-01-01 UTC) wins when set, so that builds are
    reproducible; an empty value counts as unset, as in Python's own tools. Otherwise `now` (which
    must be timezone-aware) or the current time is used.
    """
    raw = os.environ.get("SOURCE_DATE_EPOCH", "")
    if raw:
        if _EPOCH_SECONDS.fullmatch(raw) is None:
            raise InvalidInput(
                f"SOURCE_DATE_EPOCH is {quoted(raw)}, not a whole number of seconds since "
                "1970-01-01 UTC; set it to an integer such as `git log -1 --format=%ct`, "
                "or unset it"
            )
        try:
            moment = datetime.fromtimestamp(int(raw), tz=UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise InvalidInput(
                f"SOURCE_DATE_EPOCH {raw} is out of range; use a time between the years 1 and 9999"
            ) from exc
    elif now is not None:
        if now.tzinfo is None or now.utcoffset() is None:
            raise InvalidInput("the release time must be timezone-aware; pass datetime.now(UTC)")
        moment = now.astimezone(UTC)
    else:
        moment = datetime.now(UTC)
    # Formatted by hand: strftime("%Y") does not zero-pad years below 1000 on every platform.
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}Z"
    )


def _is_timestamp(text: str) -> bool:
    """Return whether `text` is a real UTC time written exactly as `release_timestamp` writes it."""
    if _TIMESTAMP.fullmatch(text) is None:
        return False
    try:
        datetime.strptime(text, _TIMESTAMP_FORMAT)
    except ValueError:
        return False
    return True


# -- building ------------------------------------------------------------------------------------


def _canonical_json(document: Mapping[str, object]) -> bytes:
    """Return `document` as canonical JSON: sorted keys, indent 2, UTF-8, trailing newline."""
    return (json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def _deflate_exceeds_ratio(content: bytes, limits: ArtifactLimits) -> bool:
    """Return whether deflating `content` would give a ratio the readers refuse."""
    if len(content) < limits.ratio_floor_bytes:
        return False
    # The same compressor settings zipfile uses for ZIP_DEFLATED, so the size is exact.
    compressor = zlib.compressobj(_COMPRESS_LEVEL, zlib.DEFLATED, -15)
    size = len(compressor.compress(content)) + len(compressor.flush())
    return len(content) > limits.max_ratio * size


def _write_zip(entries: Mapping[str, bytes], limits: ArtifactLimits) -> bytes:
    """Return a deterministic zip of `entries` (entry name -> content)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, mode="w") as archive:
        for name in sorted(entries):
            content = entries[name]
            info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
            info.create_system = _CREATOR_UNIX
            info.external_attr = _FILE_MODE << 16
            if _deflate_exceeds_ratio(content, limits):
                archive.writestr(info, content, compress_type=zipfile.ZIP_STORED)
            else:
                archive.writestr(
                    info,
                    content,
                    compress_type=zipfile.ZIP_DEFLATED,
                    compresslevel=_COMPRESS_LEVEL,
                )
    return buffer.getvalue()


def _check_input_files(files: Mapping[str, bytes]) -> None:
    """Raise InvalidInput naming the first path or content that cannot go into an artifact."""
    for path, content in files.items():
        if not isinstance(path, str):
            raise InvalidInput(f"file path {path!r} is not a string")
        problem = path_problem(path)
        if problem is not None:
            raise InvalidInput(
                f"file path {quoted(path)} {problem}; use a relative path inside the element folder"
            )
        if not isinstance(content, bytes):
            raise InvalidInput(f"content of {quoted(path)} is {type(content).__name__}, not bytes")
    conflict = nesting_conflict(files)
    if conflict is not None:
        raise InvalidInput(
            f"file path {quoted(conflict[1])} lies inside the file {quoted(conflict[0])}"
        )


def _release_time(created_at: str | None) -> str:
    """Return the release time to record: `created_at` once checked, or now (release_timestamp)."""
    stamp = release_timestamp() if created_at is None else created_at
    if not isinstance(stamp, str) or not _is_timestamp(stamp):
        raise InvalidInput(
            f"created_at {quoted(str(stamp))} is not an RFC 3339 UTC time; "
            "write it like 2024-05-01T12:00:00Z"
        )
    return stamp


def _zip_release(
    info: ReleaseInfo, files: Mapping[str, bytes], artifact: str, limits: ArtifactLimits
) -> bytes:
    """Return the zip of `info`'s release.json and `files`, refusing what `limits` would refuse."""
    # Refused up front so that an oversized release fails before compressing it; the read-back
    # in build_artifact would refuse it too.
    if len(files) + 1 > limits.max_entries:
        raise ArtifactInvalid(
            artifact,
            f"would hold {len(files) + 1} entries, over the limit of {limits.max_entries}",
        )
    release_json = _canonical_json(info.to_json())
    if len(release_json) > MAX_RELEASE_JSON_BYTES:
        raise InvalidInput(
            f"the release description is too long: release.json would take {len(release_json)} "
            f"bytes, over {MAX_RELEASE_JSON_BYTES}; shorten the description"
        )
    total = len(release_json) + sum(len(content) for content in files.values())
    if total > limits.max_total_bytes:
        raise ArtifactInvalid(
            artifact,
            f"would hold {total} bytes uncompressed, over the limit of {limits.max_total_bytes}",
        )
    entries = {FILES_PREFIX + path: content for path, content in files.items()}
    entries[RELEASE_JSON] = release_json
    return _write_zip(entries, limits)


def build_artifact(
    *,
    kind: ElementKind,
    uuid: str,
    name: str,
    version: Version,
    description: str,
    created_by: str,
    source_commit: str,
    files: Mapping[str, bytes],
    created_at: str | None = None,
    limits: ArtifactLimits = DEFAULT_LIMITS,
) -> bytes:
    """Return the bytes of a deterministic release artifact that `read_artifact` accepts.

    Bad arguments raise InvalidInput naming the culprit; a release the readers would refuse under
    `limits` (too many files, too large) raises ArtifactInvalid, named by its repository path.
    """
    if not is_valid_uuid(uuid):
        raise InvalidInput(f"{quoted(str(uuid))} is not a lowercase RFC 4122 uuid")
    check_name(name, kind.name)
    for field, value in (("description", description), ("created_by", created_by)):
        if not isinstance(value, str):
            raise InvalidInput(f"the release {field} must be text, not {type(value).__name__}")
    if not isinstance(source_commit, str) or _COMMIT_ID.fullmatch(source_commit) is None:
        raise InvalidInput(
            f"source commit {quoted(str(source_commit))} is not a full lowercase hex commit id"
        )
    stamp = _release_time(created_at)
    _check_input_files(files)
    info = ReleaseInfo(
        kind=kind.name,
        uuid=uuid,
        name=name,
        version=str(version),
        description=description,
        created_at=stamp,
        created_by=created_by,
        source_commit=source_commit,
        files_sha256=files_digest(files),
    )
    artifact = kind.artifact_path(uuid, str(version))
    data = _zip_release(info, files, artifact, limits)
    # Read our own output back, so an artifact the readers would refuse is never produced.
    read_artifact(
        data,
        artifact,
        limits,
        expect_kind=kind.name,
        expect_uuid=uuid,
        expect_version=str(version),
    )
    return data


# -- reading -------------------------------------------------------------------------------------


# Builds the ArtifactInvalid that names the artifact, for a reason about its release.json.
_Refusal = Callable[[str], ArtifactInvalid]


class _DuplicateKey(Exception):
    """A JSON object repeats a key (json.loads would silently keep the last one)."""


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """Return the object made of `pairs`, refusing repeated keys."""
    document: dict[str, object] = {}
    for key, value in pairs:
        if key in document:
            raise _DuplicateKey(key)
        document[key] = value
    return document


def _json_type(value: object) -> str:
    """Return the JSON name of `value`'s type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "a string"


def _parse_release_json(raw: bytes, artifact: str) -> ReleaseInfo:
    """Return the ReleaseInfo in `raw`, or raise ArtifactInvalid saying what is wrong."""

    def refuse(reason: str) -> ArtifactInvalid:
        return ArtifactInvalid(artifact, f"release.json {reason}")

    return ReleaseInfo(**_release_fields(_release_document(raw, refuse), refuse))


def _release_document(raw: bytes, refuse: _Refusal) -> dict[str, object]:
    """Return release.json as a JSON object with exactly the known keys and the format we read."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise refuse("is not UTF-8 text") from exc
    try:
        document = json.loads(text, object_pairs_hook=_unique_keys)
    except _DuplicateKey as exc:
        raise refuse(f"repeats the key {quoted(str(exc.args[0]))}") from exc
    except (ValueError, RecursionError) as exc:
        raise refuse(f"is not valid JSON ({str(exc)[:200]})") from exc
    if not isinstance(document, dict):
        raise refuse(f"holds {_json_type(document)}, not a JSON object")
    missing = sorted(_RELEASE_KEYS - document.keys())
    if missing:
        raise refuse(f"lacks {', '.join(missing)}")
    unknown = sorted(document.keys() - _RELEASE_KEYS)
    if unknown:
        raise refuse(f"has unknown keys: {', '.join(quoted(key) for key in unknown)}")
    format_ = document["format"]
    if type(format_) is not int:  # bool is an int subclass and 1.0 is a float: both refused
        raise refuse(f"has format {_json_type(format_)}; it must be the number {FORMAT}")
    if format_ != FORMAT:
        raise refuse(
            f"has format {format_}; this mirel reads format {FORMAT} only"
            + ("; upgrade mirel to read it" if format_ > FORMAT else "")
        )
    return document


def _release_fields(document: dict[str, object], refuse: _Refusal) -> dict[str, str]:
    """Return release.json's string fields, each checked against what mirel writes there."""
    fields: dict[str, str] = {}
    for key in _STRING_FIELDS:
        value = document[key]
        if not isinstance(value, str):
            raise refuse(f"field {key} is {_json_type(value)}, not a string")
        fields[key] = value
    known = [kind.name for kind in KINDS]
    if fields["kind"] not in known:
        raise refuse(f"has kind {quoted(fields['kind'])}; use one of: {', '.join(known)}")
    if not is_valid_uuid(fields["uuid"]):
        raise refuse(f"has uuid {quoted(fields['uuid'])}, not a lowercase RFC 4122 uuid")
    if not Version.is_valid(fields["version"]):
        raise refuse(f"has version {quoted(fields['version'])}, not a strict X.Y.Z")
    if not is_valid_name(fields["name"]):
        raise refuse(f"has name {quoted(fields['name'])}, not a valid element name")
    if not _is_timestamp(fields["created_at"]):
        raise refuse(
            f"has created_at {quoted(fields['created_at'])}, not an RFC 3339 UTC time "
            "like 2024-05-01T12:00:00Z"
        )
    if _COMMIT_ID.fullmatch(fields["source_commit"]) is None:
        raise refuse(
            f"has source_commit {quoted(fields['source_commit'])}, not a full lowercase hex "
            "commit id"
        )
    if _SHA256_HEX.fullmatch(fields["files_sha256"]) is None:
        raise refuse(
            f"has files_sha256 {quoted(fields['files_sha256'])}, not 64 lowercase hex digits"
        )
    return fields


def read_release_info(
    data: bytes, artifact: str, limits: ArtifactLimits = DEFAULT_LIMITS
) -> ReleaseInfo:
    """Return the release.json of artifact bytes, after checking every entry's header.

    The cheap path for listing releases: the central directory is checked in full (names, types,
    sizes, ratios, count) and release.json is parsed and validated, but the files are not
    decompressed, so neither their content nor `files_sha256` is verified.
    Raises only ArtifactInvalid, naming `artifact` (its repository path).
    """
    with (
        refusing_corruption(artifact, "is not a readable zip file"),
        zipfile.ZipFile(io.BytesIO(data)) as archive,
    ):
        release_entry, _ = check_directory(data, archive, artifact, limits)
        raw = read_release_json(archive, release_entry, artifact, data)
    return _parse_release_json(raw, artifact)


def _check_expected(
    info: ReleaseInfo,
    artifact: str,
    expected: tuple[tuple[str, str, str | None], ...],
) -> None:
    """Raise ArtifactInvalid when release.json disagrees with what the artifact's path says."""
    for field, actual, wanted in expected:
        if wanted is not None and actual != wanted:
            raise ArtifactInvalid(
                artifact,
                f"release.json has {field} {quoted(actual)}, but the artifact's path says "
                f"{quoted(wanted)}; the file was misplaced or renamed",
            )


def read_artifact(
    data: bytes,
    artifact: str,
    limits: ArtifactLimits = DEFAULT_LIMITS,
    *,
    expect_kind: str | None = None,
    expect_uuid: str | None = None,
    expect_version: str | None = None,
) -> Artifact:
    """Return the checked release.json and files of artifact bytes.

    Everything `read_release_info` checks, plus: every file is decompressed while its real bytes
    are counted against its header and `limits.max_total_bytes`, `files_sha256` must match the
    files, and when `expect_kind`, `expect_uuid` or `expect_version` are given (from the artifact's
    repository path) release.json must agree with them.
    Raises only ArtifactInvalid, naming `artifact` (its repository path).
    """
    expected = (expect_kind, expect_uuid, expect_version)
    info, files = _read_checked(data, artifact, limits, expected, keep=True)
    return Artifact(info=info, files=MappingProxyType(files))


def check_artifact(
    data: bytes, artifact: str, limits: ArtifactLimits = DEFAULT_LIMITS
) -> ReleaseInfo:
    """Return release.json once the artifact passes every check `read_artifact` makes, keeping
    no file: each is hashed as it is read and let go, so a check holds one file at a time, not
    the whole release (what a listing needs). Raises only ArtifactInvalid."""
    info, _ = _read_checked(data, artifact, limits, (None, None, None), keep=False)
    return info


def _read_checked(
    data: bytes,
    artifact: str,
    limits: ArtifactLimits,
    expected: tuple[str | None, str | None, str | None],
    *,
    keep: bool,
) -> tuple[ReleaseInfo, dict[str, bytes]]:
    """Return release.json and (when `keep`) the files of a fully checked artifact."""
    files: dict[str, bytes] = {}
    hashes: dict[str, str] = {}
    with (
        refusing_corruption(artifact, "is not a readable zip file"),
        zipfile.ZipFile(io.BytesIO(data)) as archive,
    ):
        release_entry, file_entries = check_directory(data, archive, artifact, limits)
        raw = read_release_json(archive, release_entry, artifact, data)
        info = _parse_release_json(raw, artifact)
        fields = zip(
            ("kind", "uuid", "version"), (info.kind, info.uuid, info.version), expected, strict=True
        )
        _check_expected(info, artifact, tuple(fields))
        budget = limits.max_total_bytes - len(raw)
        for entry in sorted(file_entries, key=lambda entry: entry.orig_filename):
            content = read_entry(archive, entry, artifact, budget, limits.max_total_bytes, data)
            budget -= len(content)
            path = entry.orig_filename[len(FILES_PREFIX) :]
            hashes[path] = hashlib.sha256(content).hexdigest()
            if keep:
                files[path] = content
    digest = _digest_of(hashes)
    if digest != info.files_sha256:
        raise ArtifactInvalid(
            artifact,
            f"files_sha256 in release.json is {info.files_sha256} but the files hash to {digest}; "
            "the artifact was altered after it was built",
        )
    return info, files

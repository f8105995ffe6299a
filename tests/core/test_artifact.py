"""Release artifacts: deterministic builds, round trips, and readers that refuse hostile zips."""

from __future__ import annotations

import hashlib
import io
import json
import stat
import struct
import warnings
import zipfile
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mirel.core.artifact import (
    DEFAULT_LIMITS,
    FORMAT,
    Artifact,
    ArtifactLimits,
    ReleaseInfo,
    build_artifact,
    files_digest,
    read_artifact,
    read_release_info,
    release_timestamp,
)
from mirel.core.kinds import APP, WORKFLOW
from mirel.core.versions import Version
from mirel.errors import ArtifactInvalid, InvalidInput

UUID = "2ab90f76-3b1c-4d8e-9f10-2a3b4c5d6e7f"
OTHER_UUID = "100186a5-0e4f-4c2a-8d1b-9c8d7e6f5a4b"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
CREATED_AT = "2024-05-01T12:00:00Z"
NAME = APP.artifact_path(UUID, "1.2.0")  # how every message must name the artifact
GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "release_app_1.2.0.json"

FILES: dict[str, bytes] = {
    "metadata.json": f'{{"name": "billing", "pageUuid": "{UUID}"}}\n'.encode(),
    "main.rsx": b'<App>\n  <Text value="Invoices" />\n</App>\n',
    "lib/query1.sql": b"select id, total from invoices;\n",
}


def build(files: Mapping[str, bytes] = FILES, **overrides: Any) -> bytes:
    """Return the artifact of the billing app 1.2.0, with `overrides` applied to the arguments."""
    arguments: dict[str, Any] = {
        "kind": APP,
        "uuid": UUID,
        "name": "billing",
        "version": Version(1, 2, 0),
        "description": "Invoices in euros — first release with VAT",
        "created_by": "Ada Lovelace <ada@example.com>",
        "source_commit": COMMIT,
        "files": files,
        "created_at": CREATED_AT,
    }
    arguments.update(overrides)
    return build_artifact(**arguments)


VALID = build()


def release_document(files: Mapping[str, bytes] = FILES) -> dict[str, Any]:
    """Return a valid release.json object describing `files`."""
    return {
        "format": 1,
        "kind": "app",
        "uuid": UUID,
        "name": "billing",
        "version": "1.2.0",
        "description": "first",
        "created_at": CREATED_AT,
        "created_by": "ci",
        "source_commit": COMMIT,
        "files_sha256": files_digest(files),
    }


def encode(document: object) -> bytes:
    return json.dumps(document).encode()


def make_zip(
    entries: list[tuple[str | zipfile.ZipInfo, bytes]],
    compression: int = zipfile.ZIP_DEFLATED,
) -> bytes:
    """Return a zip of `entries`, written with zipfile as any other tool would."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, content in entries:
            archive.writestr(name, content)
    return buffer.getvalue()


def artifact_zip(
    files: Mapping[str, bytes] = FILES,
    extra: list[tuple[str | zipfile.ZipInfo, bytes]] | None = None,
    release: bytes | None = None,
    compression: int = zipfile.ZIP_DEFLATED,
) -> bytes:
    """Return a hand-made artifact: release.json for `files`, the files, then `extra` entries."""
    entries: list[tuple[str | zipfile.ZipInfo, bytes]] = [
        ("release.json", encode(release_document(files)) if release is None else release)
    ]
    entries += [(f"files/{path}", content) for path, content in files.items()]
    entries += extra or []
    return make_zip(entries, compression)


# Offsets of header fields (APPNOTE 4.3.7 and 4.3.12), in the central directory and local header.
CENTRAL = {
    "flags": (8, "<H"),
    "method": (10, "<H"),
    "crc": (16, "<I"),
    "compressed": (20, "<I"),
    "size": (24, "<I"),
    "attributes": (38, "<I"),
}
LOCAL = {
    "flags": (6, "<H"),
    "method": (8, "<H"),
    "crc": (14, "<I"),
    "compressed": (18, "<I"),
    "size": (22, "<I"),
}


def patch(data: bytes, name: str, **fields: int) -> bytes:
    """Return `data` with header fields of entry `name` overwritten in both of its headers."""
    out = bytearray(data)
    encoded = name.encode()
    position = out.find(b"PK\x01\x02")
    while position != -1:
        (name_length,) = struct.unpack_from("<H", out, position + 28)
        if out[position + 46 : position + 46 + name_length] == encoded:
            break
        position = out.find(b"PK\x01\x02", position + 4)
    else:
        raise AssertionError(f"no entry {name!r}")
    (local,) = struct.unpack_from("<I", out, position + 42)
    for field, value in fields.items():
        offset, layout = CENTRAL[field]
        struct.pack_into(layout, out, position + offset, value)
        if field in LOCAL:
            offset, layout = LOCAL[field]
            struct.pack_into(layout, out, local + offset, value)
    return bytes(out)


def header_value(data: bytes, name: str, field: str) -> int:
    """Return one central-directory field of entry `name`."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo(name)
    return {
        "size": info.file_size,
        "compressed": info.compress_size,
        "crc": info.CRC,
    }[field]


def refused(
    data: bytes,
    reason: str,
    limits: ArtifactLimits = DEFAULT_LIMITS,
    *,
    cheap: bool = True,
    **expect: str,
) -> ArtifactInvalid:
    """Assert both readers (only read_artifact when not `cheap`) refuse `data` for `reason`."""
    readers: list[Any] = [lambda: read_artifact(data, NAME, limits, **expect)]
    if cheap:
        readers.append(lambda: read_release_info(data, NAME, limits))
    error: ArtifactInvalid | None = None
    for reader in readers:
        with pytest.raises(ArtifactInvalid) as excinfo:
            reader()
        error = excinfo.value
        assert error.artifact == NAME
        assert str(error).startswith(f"artifact {NAME}: ")
        assert reason in error.reason, error.reason
    assert error is not None
    return error


# -- building ------------------------------------------------------------------------------------


def test_round_trip_returns_the_files_and_release_info() -> None:
    artifact = read_artifact(
        VALID, NAME, expect_kind="app", expect_uuid=UUID, expect_version="1.2.0"
    )

    assert artifact.files == FILES
    assert artifact.info == ReleaseInfo(
        kind="app",
        uuid=UUID,
        name="billing",
        version="1.2.0",
        description="Invoices in euros — first release with VAT",
        created_at=CREATED_AT,
        created_by="Ada Lovelace <ada@example.com>",
        source_commit=COMMIT,
        files_sha256=files_digest(FILES),
    )
    assert read_release_info(VALID, NAME) == artifact.info


def test_release_json_matches_the_golden_file() -> None:
    with zipfile.ZipFile(io.BytesIO(VALID)) as archive:
        release_json = archive.read("release.json")

    assert release_json == GOLDEN.read_bytes()


def test_to_json_is_the_release_json_object() -> None:
    document = read_release_info(VALID, NAME).to_json()

    assert document == json.loads(GOLDEN.read_bytes())
    assert document["format"] == FORMAT == 1


def test_zip_layout_is_fixed() -> None:
    with zipfile.ZipFile(io.BytesIO(VALID)) as archive:
        infos = archive.infolist()
        assert archive.comment == b""

    names = [info.filename for info in infos]
    assert names == sorted(names)
    assert names == [
        "files/lib/query1.sql",
        "files/main.rsx",
        "files/metadata.json",
        "release.json",
    ]
    for info in infos:
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert info.external_attr == 0o100644 << 16
        assert info.create_system == 3
        assert info.compress_type == zipfile.ZIP_DEFLATED
        assert info.extra == b""
        assert info.comment == b""


def test_source_date_epoch_makes_builds_byte_identical(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1714564800")
    first = build(created_at=None)
    second = build(created_at=None)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1714564801")
    later = build(created_at=None)

    assert first == second
    assert read_release_info(first, NAME).created_at == "2024-05-01T12:00:00Z"
    assert later != first


def test_a_highly_repetitive_large_file_is_stored_so_it_stays_releasable() -> None:
    files = {**FILES, "data/zeros.bin": bytes(1024 * 1024)}

    data = build(files)

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.getinfo("files/data/zeros.bin").compress_type == zipfile.ZIP_STORED
        assert archive.getinfo("files/main.rsx").compress_type == zipfile.ZIP_DEFLATED
    assert read_artifact(data, NAME).files == files


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("../evil", "'..' segment"),
        ("lib/../../evil", "'..' segment"),
        ("/etc/passwd", "absolute"),
        ("C:/evil", "drive letter"),
        ("lib\\query.sql", "backslash"),
        ("lib//query.sql", "empty segment"),
        ("lib/", "empty segment"),
        ("./main.rsx", "'.' segment"),
        ("", "is empty"),
        ("a\0b", "NUL"),
        ("bad\udc80", "not valid Unicode"),
    ],
)
def test_build_refuses_unsafe_paths_naming_them(path: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        build({**FILES, path: b"x"})

    assert not isinstance(excinfo.value, ArtifactInvalid)
    assert reason in str(excinfo.value)
    assert repr(path) in str(excinfo.value)


def test_build_refuses_a_file_inside_another_file() -> None:
    with pytest.raises(InvalidInput, match=r"'lib/query1\.sql/x' lies inside the file"):
        build({**FILES, "lib/query1.sql/x": b"x"})


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"uuid": "2AB90F76-3B1C-4D8E-9F10-2A3B4C5D6E7F"}, "uuid"),
        ({"name": "bad name"}, "not a valid app name"),
        ({"source_commit": "HEAD"}, "commit id"),
        ({"created_at": "2024-05-01 12:00:00"}, "RFC 3339"),
        ({"created_at": "2024-02-30T12:00:00Z"}, "RFC 3339"),
        ({"files": {"a": "text, not bytes"}}, "not bytes"),
        ({"description": "x" * (1024 * 1024)}, "description is too long"),
    ],
)
def test_build_refuses_bad_arguments(override: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        build(**override)


def test_build_refuses_what_the_readers_would_refuse() -> None:
    with pytest.raises(ArtifactInvalid, match="entries, over the limit of 3") as too_many:
        build(limits=ArtifactLimits(max_entries=3))
    with pytest.raises(ArtifactInvalid, match="bytes uncompressed, over the limit of 100") as big:
        build(limits=ArtifactLimits(max_total_bytes=100))

    assert too_many.value.artifact == NAME
    assert big.value.artifact == NAME


def test_build_names_the_artifact_by_its_repository_path() -> None:
    with pytest.raises(ArtifactInvalid) as excinfo:
        build(kind=WORKFLOW, limits=ArtifactLimits(max_entries=1))

    assert excinfo.value.artifact == f"dist/workflows/{UUID}/1.2.0.zip"


# -- digest and timestamps -----------------------------------------------------------------------


def test_files_digest_follows_the_documented_serialisation() -> None:
    files = {"b/x": b"2", "a": b"1", "é": b""}
    lines = "".join(
        f"{path}\0{hashlib.sha256(files[path]).hexdigest()}\n" for path in ("a", "b/x", "é")
    )

    assert files_digest(files) == hashlib.sha256(lines.encode("utf-8")).hexdigest()
    assert files_digest({}) == hashlib.sha256(b"").hexdigest()
    assert files_digest({"a": b"1"}) != files_digest({"a": b"2"})
    assert files_digest({"a": b"1"}) != files_digest({"b": b"1"})


def test_release_timestamp_prefers_source_date_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")

    assert release_timestamp(datetime(2030, 1, 1, tzinfo=UTC)) == "1970-01-01T00:00:00Z"


def test_release_timestamp_formats_now_in_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    paris = timezone(timedelta(hours=2))

    assert release_timestamp(datetime(2024, 5, 1, 14, 0, 0, 999_999, paris)) == CREATED_AT


def test_release_timestamp_treats_an_empty_epoch_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "")

    assert release_timestamp(datetime(2024, 5, 1, 12, tzinfo=UTC)) == CREATED_AT


def test_release_timestamp_defaults_to_the_current_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    before = datetime.now(UTC).replace(microsecond=0)

    stamp = release_timestamp()

    moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before <= moment <= datetime.now(UTC)


@pytest.mark.parametrize("value", ["1.5", "soon", "-1", " 1", "1e9", "٣"])
def test_release_timestamp_refuses_a_non_integer_epoch(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", value)

    with pytest.raises(InvalidInput, match=r"SOURCE_DATE_EPOCH .* not a whole number of seconds"):
        release_timestamp()


def test_release_timestamp_refuses_an_epoch_out_of_range(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "9" * 30)

    with pytest.raises(InvalidInput, match="out of range"):
        release_timestamp()


def test_release_timestamp_refuses_a_naive_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)

    with pytest.raises(InvalidInput, match="timezone-aware"):
        release_timestamp(datetime(2024, 5, 1, 12))


# -- refusals: entry names and types -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../evil", "has a '..' segment"),
        ("files/../evil", "has a '..' segment"),
        ("files/lib/../../../evil", "has a '..' segment"),
        ("/etc/passwd", "is absolute"),
        ("files//etc/passwd", "is absolute"),
        ("files/lib//query.sql", "empty segment"),
        ("files\\..\\evil", "backslash"),
        ("files/C:/evil", "drive letter"),
        ("files/./evil", "'.' segment"),
        ("files/lib/", "is a directory entry"),
        ("README.md", "neither release.json nor under files/"),
        ("", "is empty"),
    ],
)
def test_unsafe_entry_names_are_refused(name: str, reason: str) -> None:
    data = artifact_zip(extra=[(zipfile.ZipInfo(name), b"x")])

    error = refused(data, reason)

    assert repr(name) in error.reason


def test_a_nul_in_an_entry_name_is_refused() -> None:
    # zipfile cuts names at NUL when writing, so the name is written first and patched after.
    data = artifact_zip(extra=[("files/evil.txtXsh", b"x")])
    data = data.replace(b"files/evil.txtXsh", b"files/evil.txt\0sh")

    refused(data, "contains a NUL character")


def test_a_symbolic_link_is_refused() -> None:
    link = zipfile.ZipInfo("files/passwd")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16

    refused(artifact_zip(extra=[(link, b"../../../../etc/passwd")]), "is a symbolic link")


@pytest.mark.parametrize(
    "attributes",
    [(stat.S_IFDIR | 0o755) << 16, (stat.S_IFCHR | 0o644) << 16, 0x10],
)
def test_entries_that_are_not_regular_files_are_refused(attributes: int) -> None:
    entry = zipfile.ZipInfo("files/device")
    entry.external_attr = attributes

    refused(artifact_zip(extra=[(entry, b"")]), "is not a regular file")


def test_duplicate_names_are_refused() -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Duplicate name", UserWarning)
        data = artifact_zip(extra=[("files/main.rsx", b"<Evil />")])

    refused(data, "holds the entry 'files/main.rsx' more than once")


def test_a_duplicate_release_json_is_refused() -> None:
    other = encode({**release_document(), "version": "9.9.9"})
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Duplicate name", UserWarning)
        data = artifact_zip(extra=[("release.json", other)])

    refused(data, "holds the entry 'release.json' more than once")


def test_a_file_inside_another_file_is_refused() -> None:
    refused(artifact_zip(extra=[("files/main.rsx/x", b"x")]), "lies inside the file")


def test_a_non_ascii_name_not_marked_utf8_is_refused() -> None:
    data = artifact_zip(extra=[("files/café.txt", b"x")])
    data = patch(data, "files/café.txt", flags=0)

    refused(data, "non-ASCII name not marked as UTF-8")


# -- refusals: limits ----------------------------------------------------------------------------


def test_more_entries_than_the_limit_are_refused() -> None:
    refused(VALID, "has 4 entries, over the limit of 3", ArtifactLimits(max_entries=3))
    assert read_artifact(VALID, NAME, ArtifactLimits(max_entries=4)).files == FILES


def test_more_declared_bytes_than_the_limit_are_refused() -> None:
    refused(VALID, "over the limit of 100", ArtifactLimits(max_total_bytes=100))


def test_a_compression_ratio_bomb_is_refused() -> None:
    bomb = {"bomb.bin": bytes(1024 * 1024)}  # deflates to about 1 KiB: a ratio near 1000
    data = artifact_zip(bomb)

    refused(data, "compression ratio over 100:1")


def test_small_repetitive_entries_are_not_ratio_checked() -> None:
    files = {"blank.txt": b"\n" * (60 * 1024)}  # ratio far above 100, below the 64 KiB floor
    data = artifact_zip(files)

    assert read_artifact(data, NAME).files == files


def test_the_ratio_floor_and_limit_are_configurable() -> None:
    files = {"blank.txt": b"\n" * (60 * 1024)}
    data = artifact_zip(files)

    refused(data, "compression ratio over 100:1", ArtifactLimits(ratio_floor_bytes=1024))
    assert read_artifact(data, NAME, ArtifactLimits(max_ratio=10**6, ratio_floor_bytes=0))


def test_an_oversized_release_json_is_refused() -> None:
    document = {**release_document(), "description": "x" * (2 * 1024 * 1024)}
    data = artifact_zip(release=encode(document), compression=zipfile.ZIP_STORED)

    refused(data, "release.json declares")


# -- refusals: zip features ----------------------------------------------------------------------


def test_encrypted_entries_are_refused() -> None:
    refused(patch(VALID, "files/main.rsx", flags=0x1), "entry 'files/main.rsx' is encrypted")


def test_unsupported_compression_methods_are_refused() -> None:
    bzip2 = artifact_zip(compression=zipfile.ZIP_BZIP2)
    unknown = patch(VALID, "files/main.rsx", method=99)

    refused(bzip2, "compression method 12")
    refused(unknown, "compression method 99")


def test_a_stored_entry_whose_sizes_disagree_is_refused() -> None:
    data = artifact_zip(compression=zipfile.ZIP_STORED)
    size = header_value(data, "files/main.rsx", "size")

    refused(patch(data, "files/main.rsx", size=size - 1), "stored uncompressed")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not a zip at all",
        b"PK\x05\x06" + bytes(18),
        VALID[: len(VALID) // 2],
        VALID[:-1],
        VALID.replace(b"PK\x01\x02", b"PK\x01\x03", 1),
    ],
    ids=["empty", "text", "empty-directory", "half", "one-short", "bad-central-signature"],
)
def test_corrupt_zips_are_refused(data: bytes) -> None:
    refused(data, "")


def test_an_entry_whose_local_header_is_damaged_is_refused() -> None:
    data = bytearray(VALID)
    data[0:4] = b"XXXX"  # the first local header belongs to files/lib/query1.sql

    refused(bytes(data), "entry 'files/lib/query1.sql' has no local header")


def test_an_entry_whose_local_header_names_another_file_is_refused() -> None:
    # Same length, another name: only the local header says it, as zipfile would notice.
    data = VALID.replace(b"files/main.rsx", b"files/main.rsy", 1)
    assert data != VALID

    refused(data, "entry 'files/main.rsx' is corrupt", cheap=False)


def test_an_entry_whose_local_header_reads_its_name_otherwise_is_refused() -> None:
    # The directory marks the name UTF-8, the entry's own header does not: read as cp437 there,
    # the two names differ, as zipfile finds too.
    data = bytearray(build({"é.txt": b"accent\n"}))
    name = "files/é.txt".encode()
    header = data.index(b"PK\x03\x04")
    while data[header + 30 : header + 30 + len(name)] != name:
        header = data.index(b"PK\x03\x04", header + 4)
    data[header + 7] &= ~0x08 & 0xFF  # bit 11 (0x800) of the local flags
    assert read_artifact(build({"é.txt": b"accent\n"}), NAME).files["é.txt"] == b"accent\n"

    refused(bytes(data), "entry 'files/é.txt' is corrupt: File name in directory", cheap=False)


def test_an_entry_whose_compressed_data_is_garbage_is_refused() -> None:
    # Overwrite the first bytes of main.rsx's deflate stream with a block type that is invalid.
    data = bytearray(VALID)
    name = b"files/main.rsx"
    header = VALID.index(b"PK\x03\x04")  # the first local header
    while VALID[header + 30 : header + 30 + len(name)] != name:
        header = VALID.index(b"PK\x03\x04", header + 4)
    start = header + 30 + len(name) + int.from_bytes(VALID[header + 28 : header + 30], "little")
    data[start] = 0xFF  # BTYPE 11: reserved, an error in every inflater

    refused(bytes(data), "entry 'files/main.rsx' is corrupt", cheap=False)


# -- refusals: headers that lie about sizes ------------------------------------------------------


def test_content_longer_than_its_declared_size_is_refused() -> None:
    size = header_value(VALID, "files/main.rsx", "size")

    refused(
        patch(VALID, "files/main.rsx", size=size - 5),
        f"holds more than the {size - 5} bytes its header declares",
        cheap=False,
    )


def test_content_shorter_than_its_declared_size_is_refused() -> None:
    size = header_value(VALID, "files/main.rsx", "size")

    refused(
        patch(VALID, "files/main.rsx", size=size + 5),
        f"holds {size} bytes but its header declares {size + 5}",
        cheap=False,
    )


def test_a_huge_declared_size_is_refused_before_decompressing() -> None:
    data = patch(VALID, "files/main.rsx", size=2**31)

    refused(data, "compression ratio over 100:1")
    refused(data, "declares", ArtifactLimits(max_ratio=10**12))


def test_a_wrong_crc_is_refused() -> None:
    crc = header_value(VALID, "files/main.rsx", "crc")

    refused(patch(VALID, "files/main.rsx", crc=crc ^ 1), "fails its CRC-32 check", cheap=False)


def test_a_compressed_size_running_past_the_data_is_refused() -> None:
    data = patch(VALID, "files/main.rsx", compressed=10**6)

    refused(data, "entry 'files/main.rsx' runs into the next entry or the central directory")


def test_entries_sharing_compressed_data_are_refused() -> None:
    # Point a second central-directory record at the first entry's data, as overlap bombs do.
    data = bytearray(artifact_zip(files={"a": b"x" * 1000}, extra=[("files/b", b"y")]))
    first = data.find(b"PK\x01\x02")
    second = data.find(b"PK\x01\x02", first + 4)
    third = data.find(b"PK\x01\x02", second + 4)
    (offset,) = struct.unpack_from("<I", data, second + 42)
    struct.pack_into("<I", data, third + 42, offset)

    refused(bytes(data), "runs into the next entry or the central directory")


def test_the_cheap_reader_does_not_read_the_files() -> None:
    crc = header_value(VALID, "files/main.rsx", "crc")
    damaged = patch(VALID, "files/main.rsx", crc=crc ^ 1)

    assert read_release_info(damaged, NAME).version == "1.2.0"
    refused(damaged, "CRC-32", cheap=False)


# -- refusals: release.json ----------------------------------------------------------------------


def test_a_missing_release_json_is_refused() -> None:
    data = make_zip([(f"files/{path}", content) for path, content in FILES.items()])

    refused(data, "has no release.json")


def with_fields(**fields: Any) -> bytes:
    return encode({**release_document(), **fields})


def without(key: str) -> bytes:
    document = release_document()
    del document[key]
    return encode(document)


@pytest.mark.parametrize(
    ("release", "reason"),
    [
        (b"\xff\xfe{}", "is not UTF-8 text"),
        (b"\xef\xbb\xbf" + encode(release_document()), "is not valid JSON"),
        (b"{", "is not valid JSON"),
        (b"[" * 10_000 + b"]" * 10_000, "is not valid JSON"),
        (b'{"format": 1' + b"0" * 5000 + b"}", "is not valid JSON"),
        (b"[]", "holds an array, not a JSON object"),
        (b"null", "holds null, not a JSON object"),
        (without("created_at"), "lacks created_at"),
        (without("files_sha256"), "lacks files_sha256"),
        (with_fields(extra="x"), "has unknown keys: 'extra'"),
        (with_fields(format=2), "has format 2; this mirel reads format 1 only; upgrade mirel"),
        (with_fields(format=0), "has format 0"),
        (with_fields(format=True), "has format a boolean"),
        (with_fields(format=1.0), "has format a number"),
        (with_fields(format="1"), "has format a string"),
        (with_fields(kind="apps"), "has kind 'apps'; use one of: app, workflow"),
        (with_fields(kind="PAGE"), "has kind 'PAGE'"),
        (with_fields(kind=1), "field kind is a number, not a string"),
        (with_fields(uuid=UUID.upper()), "not a lowercase RFC 4122 uuid"),
        (with_fields(uuid=None), "field uuid is null"),
        (with_fields(version="1.2"), "not a strict X.Y.Z"),
        (with_fields(version="01.2.0"), "not a strict X.Y.Z"),
        (with_fields(version=[1, 2, 0]), "field version is an array"),
        (with_fields(name="bad name"), "not a valid element name"),
        (with_fields(name="../billing"), "not a valid element name"),
        (with_fields(description={"text": "x"}), "field description is an object"),
        (with_fields(created_at="2024-05-01 12:00:00"), "not an RFC 3339 UTC time"),
        (with_fields(created_at="2024-05-01T12:00:00+02:00"), "not an RFC 3339 UTC time"),
        (with_fields(created_at="2024-02-30T12:00:00Z"), "not an RFC 3339 UTC time"),
        (with_fields(created_at="yesterday"), "not an RFC 3339 UTC time"),
        (with_fields(created_by=None), "field created_by is null"),
        (with_fields(source_commit="HEAD"), "not a full lowercase hex commit id"),
        (with_fields(files_sha256="abc"), "not 64 lowercase hex digits"),
        (
            b'{"format": 1, "format": 1}',
            "repeats the key 'format'",
        ),
    ],
)
def test_invalid_release_json_is_refused(release: bytes, reason: str) -> None:
    error = refused(artifact_zip(release=release), reason)

    assert error.reason.startswith("release.json ")


def test_a_files_sha256_that_does_not_match_is_refused() -> None:
    data = artifact_zip(release=encode(release_document({"other.txt": b"x"})))

    error = refused(data, "files_sha256 in release.json is", cheap=False)

    assert "the artifact was altered after it was built" in error.reason
    assert read_release_info(data, NAME).name == "billing"


def test_replacing_a_file_breaks_the_digest() -> None:
    tampered = artifact_zip(
        files={**FILES, "main.rsx": b"<Evil />\n"},
        release=encode(release_document(FILES)),
    )

    refused(tampered, "files_sha256", cheap=False)


@pytest.mark.parametrize(
    ("expect", "reason"),
    [
        ({"expect_kind": "workflow"}, "release.json has kind 'app', but the artifact's path says"),
        ({"expect_uuid": OTHER_UUID}, f"has uuid '{UUID}', but the artifact's path says"),
        ({"expect_version": "1.2.1"}, "has version '1.2.0', but the artifact's path says '1.2.1'"),
    ],
)
def test_release_json_must_agree_with_the_artifact_path(
    expect: dict[str, str], reason: str
) -> None:
    refused(VALID, reason, cheap=False, **expect)


# -- properties ----------------------------------------------------------------------------------

SEGMENT = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs",),  # lone surrogates cannot be encoded as UTF-8
        blacklist_characters="/\\\0",
    ),
    min_size=1,
    max_size=12,
).filter(lambda segment: segment not in (".", ".."))
SAFE_PATH = (
    st.lists(SEGMENT, min_size=1, max_size=4)
    .map("/".join)
    .filter(
        lambda path: (
            not (len(path) >= 2 and path[1] == ":" and path[0].isascii() and path[0].isalpha())
        )
    )
)


def without_nesting(files: dict[str, bytes]) -> dict[str, bytes]:
    """Return `files` without the paths that would need another path to be a folder."""
    return {
        path: content
        for path, content in files.items()
        if not any(other.startswith(path + "/") for other in files)
    }


FILE_MAPS = st.dictionaries(SAFE_PATH, st.binary(max_size=300), max_size=8).map(without_nesting)


@settings(max_examples=60)
@given(files=FILE_MAPS, description=st.text(max_size=40))
def test_builds_are_deterministic_and_round_trip(files: dict[str, bytes], description: str) -> None:
    reordered = dict(reversed(list(files.items())))

    first = build(files, description=description)
    second = build(reordered, description=description)

    assert first == second
    artifact = read_artifact(first, NAME)
    assert artifact.files == files
    assert artifact.info.description == description
    assert artifact.info.files_sha256 == files_digest(files)


def read_both(data: bytes) -> None:
    """Run both readers on `data`; anything but success or ArtifactInvalid fails the test."""
    for reader in (read_artifact, read_release_info):
        refusal: ArtifactInvalid | None = None
        try:
            result = reader(data, NAME)
        except ArtifactInvalid as error:
            refusal = error
        else:
            assert isinstance(result, Artifact | ReleaseInfo)
        if refusal is not None:
            assert refusal.artifact == NAME


@settings(max_examples=300)
@given(data=st.binary(max_size=2048))
def test_readers_only_raise_artifact_invalid_on_arbitrary_bytes(data: bytes) -> None:
    read_both(data)


@settings(max_examples=300)
@given(
    data=st.binary(max_size=200),
    eocd=st.tuples(*(st.integers(0, 0xFFFF) for _ in range(4)), st.integers(0, 2**32 - 1)),
)
def test_readers_only_raise_artifact_invalid_on_bytes_ending_like_a_zip(
    data: bytes, eocd: tuple[int, int, int, int, int]
) -> None:
    disk, start, here, total, size = eocd
    read_both(data + struct.pack("<4s4H2IH", b"PK\x05\x06", disk, start, here, total, size, 0, 0))


@settings(max_examples=500)
@given(
    changes=st.lists(
        st.tuples(st.integers(0, len(VALID) - 1), st.integers(1, 255)), min_size=1, max_size=4
    ),
    cut=st.one_of(st.none(), st.integers(0, len(VALID))),
)
def test_readers_only_raise_artifact_invalid_on_damaged_artifacts(
    changes: list[tuple[int, int]], cut: int | None
) -> None:
    data = bytearray(VALID)
    for index, flip in changes:
        data[index] ^= flip
    read_both(bytes(data[:cut]))


@settings(max_examples=200)
@given(
    entries=st.lists(
        st.tuples(
            st.text(max_size=20),
            st.binary(max_size=100),
            st.integers(0, 2**32 - 1),
            st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]),
        ),
        max_size=5,
    ),
    release=st.sampled_from([None, b"{}", b"[", encode(release_document({}))]),
)
def test_readers_only_raise_artifact_invalid_on_hand_made_zips(
    entries: list[tuple[str, bytes, int, int]], release: bytes | None
) -> None:
    assume(all("\0" not in name for name, *_ in entries))
    infos: list[tuple[str | zipfile.ZipInfo, bytes]] = []
    if release is not None:
        infos.append(("release.json", release))
    for name, content, attributes, method in entries:
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            continue
        info = zipfile.ZipInfo(name)
        info.external_attr = attributes
        info.compress_type = method
        infos.append((info, content))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Duplicate name", UserWarning)
        data = make_zip(infos)
    read_both(data)

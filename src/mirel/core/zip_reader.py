"""The hostile-zip checks behind the artifact readers: entry names, the central directory, data.

An artifact (see `mirel.core.artifact`) holds only ``release.json`` and ``files/<path>``. Nothing
else is allowed: the checks here refuse directory entries, any other top-level name, and any path
that is empty, absolute (``/x`` or a Windows drive such as ``C:``), contains a backslash or a NUL,
has an empty, ``.`` or ``..`` segment, or names a file inside another file (``a`` and ``a/b``).
A git tree never holds such paths, so refusing them costs nothing and leaves one meaning per name.

The central directory is checked in full before any data is read: the entry count, the declared
uncompressed total and each entry's compression ratio against `ArtifactLimits`; encrypted entries,
compression methods other than stored and deflate, links and other non-regular files (from the unix
mode in the high bits of ``external_attr``, whatever the creator system), duplicate names and
non-ASCII names not marked as UTF-8; and entries whose data overlaps the next entry (the trick of
overlap zip bombs). Entry data is then read counting the bytes really produced, so that entries
holding more or fewer bytes than declared or failing their CRC are refused too; header sizes are
never trusted.

Every check raises only `ArtifactInvalid`, naming the artifact; `refusing_corruption` turns what
zipfile, zlib and json raise on hostile bytes into it.
"""

from __future__ import annotations

import copy
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from mirel.errors import ArtifactInvalid

if TYPE_CHECKING:
    # Only for annotations: artifact.py holds the limits and imports this module at run time.
    from mirel.core.artifact import ArtifactLimits

RELEASE_JSON = "release.json"
FILES_PREFIX = "files/"
MAX_RELEASE_JSON_BYTES = 1024 * 1024
_MAX_ZIP_NAME_BYTES = 0xFFFF  # the zip format stores name lengths in 16 bits
_READ_CHUNK = 64 * 1024
_FLAG_ENCRYPTED = 0x0001
_FLAG_STRONG_ENCRYPTION = 0x0040
_FLAG_UTF8_NAME = 0x0800
_FLAG_PATCHED = 0x0020  # zipfile refuses compressed patched data: left to it to say so
_MSDOS_DIRECTORY = 0x10
_SHOWN_CHARS = 120
# A local file header: signature and fixed fields (skipped), then the name and extra lengths.
_LOCAL_HEADER = struct.Struct("<26sHH")
_DRIVE = re.compile(r"[A-Za-z]:")

# What zipfile, zlib and json raise on hostile bytes. RuntimeError covers RecursionError (deeply
# nested JSON) and zipfile's "password required"; ValueError covers bad seeks and huge integers.
_CORRUPTION: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    struct.error,
    EOFError,
    OverflowError,
    NotImplementedError,
    UnicodeError,
    ValueError,
    RuntimeError,
    OSError,
)


# -- names ---------------------------------------------------------------------------------------


def path_problem(path: str) -> str | None:
    """Return why `path` is not a safe relative file path, or None when it is one."""
    if path == "":
        return "is empty"
    if "\0" in path:
        return "contains a NUL character"
    if "\\" in path:
        return "contains a backslash; folders are separated by '/'"
    if path.startswith("/"):
        return "is absolute"
    segments = path.split("/")
    if _DRIVE.match(segments[0]):
        return "starts with a drive letter, which makes it absolute on Windows"
    if "" in segments:
        return "has an empty segment ('//' or a trailing '/')"
    if ".." in segments:
        return "has a '..' segment"
    if "." in segments:
        return "has a '.' segment"
    try:
        encoded = path.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode text"
    if len(encoded) + len(FILES_PREFIX) > _MAX_ZIP_NAME_BYTES:
        return f"is longer than {_MAX_ZIP_NAME_BYTES - len(FILES_PREFIX)} bytes"
    return None


def nesting_conflict(paths: Iterable[str]) -> tuple[str, str] | None:
    """Return a (file, path inside it) pair when some path lies inside another file, else None."""
    path_list = list(paths)
    file_set = set(path_list)
    for path in path_list:
        segments = path.split("/")
        for end in range(1, len(segments)):
            parent = "/".join(segments[:end])
            if parent in file_set:
                return parent, path
    return None


def _entry_problem(name: str) -> str | None:
    """Return why zip entry `name` has no place in an artifact, or None when it does."""
    if name == RELEASE_JSON:
        return None
    if name.endswith("/"):
        return "is a directory entry"
    if not name.startswith(FILES_PREFIX):
        # Name the concrete danger ("is absolute", "has a '..' segment") when there is one.
        return path_problem(name) or "is neither release.json nor under files/"
    return path_problem(name[len(FILES_PREFIX) :])


def quoted(text: str) -> str:
    """Return `text` quoted for a message, shortened so hostile names cannot flood it."""
    if len(text) > _SHOWN_CHARS:
        return repr(text[:_SHOWN_CHARS]) + "..."
    return repr(text)


# -- the central directory -----------------------------------------------------------------------


@contextmanager
def refusing_corruption(artifact: str, what: str) -> Iterator[None]:
    """Turn the low-level errors of zipfile, zlib and json into ArtifactInvalid."""
    try:
        yield
    except _CORRUPTION as exc:
        detail = str(exc) or type(exc).__name__
        raise ArtifactInvalid(artifact, f"{what}: {detail[:200]}") from exc


def _check_entry(info: zipfile.ZipInfo, artifact: str, limits: ArtifactLimits) -> None:
    """Raise ArtifactInvalid when one central-directory entry is unsafe or unsupported."""
    name = info.orig_filename  # zipfile cuts `filename` at the first NUL; the original keeps it
    shown = quoted(name)
    problem = _entry_problem(name)
    if problem is not None:
        raise ArtifactInvalid(
            artifact,
            f"entry {shown} {problem}; an artifact holds only release.json and "
            "files/<relative path>",
        )
    if not info.flag_bits & _FLAG_UTF8_NAME and not name.isascii():
        raise ArtifactInvalid(artifact, f"entry {shown} has a non-ASCII name not marked as UTF-8")
    file_type = stat.S_IFMT(info.external_attr >> 16)
    if file_type == stat.S_IFLNK:
        raise ArtifactInvalid(artifact, f"entry {shown} is a symbolic link; only files are allowed")
    if file_type not in (0, stat.S_IFREG) or info.external_attr & _MSDOS_DIRECTORY:
        raise ArtifactInvalid(
            artifact,
            f"entry {shown} is not a regular file (attributes {info.external_attr:#010x})",
        )
    if info.flag_bits & (_FLAG_ENCRYPTED | _FLAG_STRONG_ENCRYPTION):
        raise ArtifactInvalid(artifact, f"entry {shown} is encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise ArtifactInvalid(
            artifact,
            f"entry {shown} uses compression method {info.compress_type}; "
            "only stored (0) and deflate (8) are allowed",
        )
    if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
        raise ArtifactInvalid(
            artifact,
            f"entry {shown} is stored uncompressed but its header declares {info.compress_size} "
            f"stored bytes for {info.file_size} bytes of content",
        )
    if (
        info.file_size >= limits.ratio_floor_bytes
        and info.file_size > limits.max_ratio * info.compress_size
    ):
        raise ArtifactInvalid(
            artifact,
            f"entry {shown} has a compression ratio over {limits.max_ratio}:1 "
            f"({info.file_size} bytes from {info.compress_size}); refusing a possible zip bomb",
        )


def _check_layout(data: bytes, archive: zipfile.ZipFile, artifact: str) -> None:
    """Raise ArtifactInvalid when an entry's data runs into the next entry or the directory.

    Overlapping entries are the trick behind the densest zip bombs (many entries sharing one
    compressed stream), and a compressed size that runs past the entry's own data is a lie that
    would otherwise go unnoticed, since decompression stops at the end of the deflate stream.
    """
    # zipfile sets start_dir while reading the central directory; typeshed does not declare it.
    directory_start = int(getattr(archive, "start_dir", len(data)))
    entries = sorted(archive.infolist(), key=lambda info: info.header_offset)
    bounds = [info.header_offset for info in entries[1:]] + [directory_start]
    for info, bound in zip(entries, bounds, strict=True):
        header = data[info.header_offset : info.header_offset + _LOCAL_HEADER.size]
        if len(header) < _LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
            raise ArtifactInvalid(
                artifact, f"entry {quoted(info.orig_filename)} has no local header where it should"
            )
        name_length, extra_length = _LOCAL_HEADER.unpack(header)[1:]
        end = info.header_offset + _LOCAL_HEADER.size + name_length + extra_length
        if end + info.compress_size > bound:
            raise ArtifactInvalid(
                artifact,
                f"entry {quoted(info.orig_filename)} runs into the next entry or the central "
                "directory; its compressed size is wrong or entries share data",
            )


def check_directory(
    data: bytes, archive: zipfile.ZipFile, artifact: str, limits: ArtifactLimits
) -> tuple[zipfile.ZipInfo, list[zipfile.ZipInfo]]:
    """Return release.json's entry and the file entries, once the central directory passes."""
    entries = archive.infolist()
    if len(entries) > limits.max_entries:
        raise ArtifactInvalid(
            artifact, f"has {len(entries)} entries, over the limit of {limits.max_entries}"
        )
    seen: set[str] = set()
    declared = 0
    release_entry: zipfile.ZipInfo | None = None
    file_entries: list[zipfile.ZipInfo] = []
    for info in entries:
        _check_entry(info, artifact, limits)
        name = info.orig_filename
        if name in seen:
            raise ArtifactInvalid(artifact, f"holds the entry {quoted(name)} more than once")
        seen.add(name)
        declared += info.file_size
        if name == RELEASE_JSON:
            release_entry = info
        else:
            file_entries.append(info)
    if declared > limits.max_total_bytes:
        raise ArtifactInvalid(
            artifact,
            f"declares {declared} bytes uncompressed, over the limit of {limits.max_total_bytes}",
        )
    conflict = nesting_conflict([info.orig_filename for info in file_entries])
    if conflict is not None:
        raise ArtifactInvalid(
            artifact, f"entry {quoted(conflict[1])} lies inside the file {quoted(conflict[0])}"
        )
    if release_entry is None:
        raise ArtifactInvalid(artifact, "has no release.json; it is not a mirel release artifact")
    _check_layout(data, archive, artifact)
    return release_entry, file_entries


# -- entry data ----------------------------------------------------------------------------------


def _inflate(data: bytes, info: zipfile.ZipInfo) -> bytes:
    """Return at most one byte more than an entry declares, decompressed straight from `data`.

    What zipfile.open does, without its stream objects (a third of a cold deploy's time): the
    local header was checked by `_check_layout`, its name must be the directory's, and only
    stored and deflated entries get this far (`_check_entry`).
    """
    start = info.header_offset + _LOCAL_HEADER.size
    name_length, extra_length = _LOCAL_HEADER.unpack_from(data, info.header_offset)[1:]
    # As zipfile does: the local name is read with the local header's own flags.
    flags = int.from_bytes(data[info.header_offset + 6 : info.header_offset + 8], "little")
    name = data[start : start + name_length]
    if name.decode("utf-8" if flags & _FLAG_UTF8_NAME else "cp437") != info.orig_filename:
        raise zipfile.BadZipFile(
            f"File name in directory {info.orig_filename!r} and header {name!r} differ."
        )
    start += name_length + extra_length
    raw = data[start : start + info.compress_size]
    if info.compress_type == zipfile.ZIP_STORED:
        return raw[: info.file_size + 1]
    return zlib.decompressobj(-zlib.MAX_WBITS).decompress(raw, info.file_size + 1)


def _read_through_zipfile(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytearray:
    """Return at most one byte more than an entry declares, read by zipfile."""
    probe = copy.copy(info)
    probe.file_size = info.file_size + 1
    del probe.CRC  # zipfile skips its own CRC check for an entry without one
    content = bytearray()
    with archive.open(probe) as stream:
        while len(content) <= info.file_size and (chunk := stream.read(_READ_CHUNK)):
            content += chunk
    return content


def read_entry(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    artifact: str,
    budget: int,
    limit: int,
    data: bytes | None = None,
) -> bytes:
    """Return an entry's content, counting the bytes really produced against header and limit.

    `budget` is what is left of `limit` (the uncompressed size limit) before this entry; `data`
    is the archive's bytes, from which the entry is decompressed directly when given.

    Decompression stops one byte past the declared size, and the CRC is checked here, so that
    data beyond the declared size is noticed and reported as such instead of being cut off
    silently. The declared sizes were held to the limits before (`check_directory`), so one byte
    past them is bounded too.
    """
    shown = quoted(info.orig_filename)
    with refusing_corruption(artifact, f"entry {shown} is corrupt"):
        if data is not None and not info.flag_bits & _FLAG_PATCHED:
            content: bytes | bytearray = _inflate(data, info)
        else:
            content = _read_through_zipfile(archive, info)
    if len(content) > info.file_size:
        raise ArtifactInvalid(
            artifact,
            f"entry {shown} holds more than the {info.file_size} bytes its header declares",
        )
    if len(content) > budget:
        raise ArtifactInvalid(
            artifact, f"entry {shown} takes the artifact over {limit} bytes uncompressed"
        )
    if len(content) != info.file_size:
        raise ArtifactInvalid(
            artifact,
            f"entry {shown} holds {len(content)} bytes but its header declares {info.file_size}",
        )
    if zlib.crc32(content) != info.CRC:
        raise ArtifactInvalid(artifact, f"entry {shown} fails its CRC-32 check")
    return bytes(content)


def read_release_json(
    archive: zipfile.ZipFile, entry: zipfile.ZipInfo, artifact: str, data: bytes | None = None
) -> bytes:
    """Return release.json's bytes, refusing one larger than release.json may be."""
    if entry.file_size > MAX_RELEASE_JSON_BYTES:
        raise ArtifactInvalid(
            artifact,
            f"release.json declares {entry.file_size} bytes, over the {MAX_RELEASE_JSON_BYTES} "
            "a release.json may take",
        )
    limit = MAX_RELEASE_JSON_BYTES
    return read_entry(archive, entry, artifact, limit, limit, data)

"""A corpus of hostile repository contents (issue 11, acceptance 2).

Each case pushes something hostile straight on the default branch, as a user pushing with plain
git would (the merge gate does not stand in front of a push): a zip, an artifact at an odd path, a
manifest, an element folder, a name. Beside it stand healthy elements with releases, pinned in the
manifest the instance publishes. For every case, at the new commit:

1. `validate` names the hostile file, saying what is wrong with it;
2. the healthy elements still list with their releases, through the catalog, the API and the
   pages, and nothing answers 5xx (a release the hostile push added lists with its problem);
3. a deploy serves the healthy elements as before when the manifest does not need the hostile
   thing, and otherwise fails naming the file, never with an internal error, changing nothing.

A case whose `names` is None is content that looks hostile but is harmless: validate names nothing
about it and the deploy succeeds.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pygit2
import pytest
from hostile_support import (
    COMMIT,
    LINK,
    MAX_ARTIFACT_BYTES,
    Client,
    Template,
    Value,
    artifact_path,
    artifact_zip,
    build_template,
    copy_template,
    metadata,
    nested_tree,
    open_copy,
    patch,
    push_raw,
    release_document,
    zip_of,
)
from instance_support import live_state
from markupsafe import escape

from mirel.core.kinds import KINDS
from mirel.hub import Hub
from mirel.server import create_app
from mirel.web.auth import cookie_name

NEW = "33333333-3333-4333-8333-333333333333"
OTHER = "44444444-4444-4444-8444-444444444444"


@dataclass(frozen=True)
class Ctx:
    """What a case writes with: the template's uuids, the repository, a good artifact."""

    t: Template
    git: pygit2.Repository
    good: bytes  # billing 1.1.0, as mirel built it

    @property
    def files(self) -> dict[str, bytes]:
        """Return the files of a hostile billing release."""
        return {"metadata.json": metadata("billing", self.t.billing), "main.rsx": b"hostile"}

    def zip9(self, **kwargs: object) -> bytes:
        """Return a hand-made billing 9.0.0 artifact (see `artifact_zip`)."""
        return artifact_zip(self.t.billing, "9.0.0", self.files, **kwargs)  # type: ignore[arg-type]

    def doc9(self, **fields: object) -> dict[str, object]:
        """Return billing 9.0.0's release.json with `fields` changed."""
        return {**release_document(self.t.billing, "9.0.0", self.files), **fields}


Changes = Callable[[Ctx], Mapping[bytes, Value]]


@dataclass(frozen=True)
class Case:
    """One hostile push: what it writes, the file validate names and what it says of it."""

    changes: Changes
    names: str | None  # formatted with billing=, crm=, nightly=
    says: str = ""
    deploys: bool = True  # the deploy of prod succeeds


def at9(data: Callable[[Ctx], bytes], target: str = "billing") -> Changes:
    """Return changes putting an artifact at billing's (or crm's) 9.0.0."""
    return lambda c: {artifact_path(getattr(c.t, target), "9.0.0"): data(c)}


BILLING9 = "dist/apps/{billing}/9.0.0.zip"
CRM9 = "dist/apps/{crm}/9.0.0.zip"


def zip_case(data: Callable[[Ctx], bytes], says: str) -> Case:
    return Case(at9(data), BILLING9, says)


def pinned_case(data: Callable[[Ctx], bytes], says: str) -> Case:
    """The same artifact at crm's 9.0.0, which prod's `latest` then needs: the deploy fails."""
    return Case(at9(data, "crm"), CRM9, says, deploys=False)


def crm9(c: Ctx, **fields: object) -> bytes:
    files = {"metadata.json": metadata("crm", c.t.crm), "main.rsx": b"crm hostile"}
    document = release_document(c.t.crm, "9.0.0", files, name="crm", **fields)
    return artifact_zip(c.t.crm, "9.0.0", files, document=document)


def bomb(c: Ctx) -> bytes:
    return c.zip9(extra=[("files/zeros.bin", b"\0" * (1024 * 1024))])


def many_entries(c: Ctx) -> bytes:
    return c.zip9(extra=[(f"files/e{i}", b"") for i in range(10_001)])


def with_info(name: str, content: bytes = b"x", **attributes: int) -> Callable[[Ctx], bytes]:
    def make(c: Ctx) -> bytes:
        info = zipfile.ZipInfo(name)
        for key, value in attributes.items():
            setattr(info, key, value)
        return c.zip9(extra=[(info, content)])

    return make


def zip64_markers(c: Ctx) -> bytes:
    # The end record says "see the zip64 record" (0xFFFF entries) but there is none.
    data = bytearray(c.zip9())
    end = data.rfind(b"PK\x05\x06")
    data[end + 8 : end + 12] = b"\xff\xff\xff\xff"
    data[end + 16 : end + 20] = b"\xff\xff\xff\xff"
    return bytes(data)


def fake_end_in_comment(c: Ctx) -> bytes:
    # A 60 KiB comment ending in a second end-of-central-directory record pointing nowhere.
    fake = b"PK\x05\x06" + b"\0" * 4 + b"\x01\x00\x01\x00" + b"\x10\0\0\0" + b"\xf0\xff\xff\x7f\0\0"
    return zip_of([("release.json", json.dumps(c.doc9()).encode())], comment=b"c" * 60_000 + fake)


def streamed(c: Ctx) -> bytes:
    """Return billing 9.0.0 written to a stream: every entry with a data descriptor."""

    class Unseekable:
        def __init__(self) -> None:
            self.data = bytearray()

        def write(self, chunk: bytes) -> int:
            self.data += chunk
            return len(chunk)

        def flush(self) -> None:
            return None

    out = Unseekable()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:  # type: ignore[arg-type]
        archive.writestr("release.json", json.dumps(c.doc9()).encode())
        for path, content in c.files.items():
            archive.writestr(f"files/{path}", content)
    return bytes(out.data)


def nested_json(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


ZIPS: dict[str, Case] = {
    "zip-not-a-zip": zip_case(lambda c: b"not a zip at all", "is not a readable zip file"),
    "zip-empty-file": zip_case(lambda c: b"", "is not a readable zip file"),
    "zip-truncated": zip_case(lambda c: c.good[: len(c.good) // 2], "is not a readable zip"),
    "zip-truncated-directory": zip_case(lambda c: c.good[:-30], "is not a readable zip"),
    "zip-ratio-bomb": zip_case(bomb, "refusing a possible zip bomb"),
    "zip-entry-count-bomb": zip_case(many_entries, "entries, over the limit of 10000"),
    "zip-duplicate-entries": zip_case(
        lambda c: c.zip9(extra=[("files/main.rsx", b"again")]), "more than once"
    ),
    "zip-duplicate-release-json": zip_case(
        lambda c: c.zip9(extra=[("release.json", b"{}")]), "'release.json' more than once"
    ),
    "zip-absolute-name": zip_case(lambda c: c.zip9(extra=[("/etc/passwd", b"x")]), "absolute"),
    "zip-dotdot-name": zip_case(
        lambda c: c.zip9(extra=[("files/../../escape", b"x")]), "'..' segment"
    ),
    "zip-backslash-name": zip_case(lambda c: c.zip9(extra=[("files\\..\\x", b"x")]), "backslash"),
    "zip-drive-letter-name": zip_case(lambda c: c.zip9(extra=[("C:/x", b"x")]), "drive letter"),
    "zip-nul-in-name": zip_case(
        lambda c: c.zip9(extra=[("files/aXb", b"x")]).replace(b"files/aXb", b"files/a\0b"), "NUL"
    ),
    "zip-directory-entry": zip_case(
        lambda c: c.zip9(extra=[("files/lib/", b"")]), "is a directory entry"
    ),
    "zip-unknown-top-level-entry": zip_case(
        lambda c: c.zip9(extra=[("notes.txt", b"x")]), "neither release.json nor under files/"
    ),
    "zip-file-inside-a-file": zip_case(
        lambda c: c.zip9(extra=[("files/main.rsx/x", b"x")]), "lies inside the file"
    ),
    "zip-huge-declared-size": zip_case(
        lambda c: patch(c.zip9(compression=zipfile.ZIP_STORED), "files/main.rsx", size=2**31),
        "",
    ),
    "zip-encrypted-entry": zip_case(
        lambda c: patch(c.zip9(), "files/main.rsx", flags=1), "is encrypted"
    ),
    "zip-bzip2-compression": zip_case(
        lambda c: c.zip9(compression=zipfile.ZIP_BZIP2), "uses compression method 12"
    ),
    "zip-unknown-compression-method": zip_case(
        lambda c: patch(c.zip9(), "files/main.rsx", method=99), "uses compression method 99"
    ),
    "zip-crc-mismatch": zip_case(
        lambda c: patch(c.zip9(), "files/main.rsx", crc=12345), "fails its CRC-32 check"
    ),
    "zip-symlink-entry": zip_case(
        with_info("files/link", b"/etc/passwd", external_attr=0o120777 << 16), "symbolic link"
    ),
    "zip-not-regular-file": zip_case(
        with_info("files/fifo", b"", external_attr=0o010644 << 16), "is not a regular file"
    ),
    "zip-non-ascii-name-not-utf8": zip_case(
        lambda c: patch(c.zip9(extra=[("files/caf\u00e9", b"x")]), "files/caf\u00e9", flags=0),
        "not marked as UTF-8",
    ),
    "zip-zip64-markers-without-record": zip_case(zip64_markers, "release.json"),
    "zip-huge-comment-with-fake-end-record": zip_case(fake_end_in_comment, "not a readable zip"),
    "zip-data-descriptors-crc-mismatch": zip_case(
        lambda c: patch(streamed(c), "files/main.rsx", crc=1), "fails its CRC-32 check"
    ),
    "release-json-missing": zip_case(
        lambda c: zip_of([("files/main.rsx", b"x")]), "has no release.json"
    ),
    "release-json-invalid-json": zip_case(
        lambda c: c.zip9(release_json=b"{not json"), "release.json is not valid JSON"
    ),
    "release-json-not-utf8": zip_case(
        lambda c: c.zip9(release_json=b'{"kind": "\xff"}'), "release.json is not UTF-8"
    ),
    "release-json-an-array": zip_case(
        lambda c: c.zip9(release_json=b"[]"), "holds an array, not a JSON object"
    ),
    "release-json-deeply-nested": zip_case(
        lambda c: c.zip9(release_json=nested_json(100_000), compression=zipfile.ZIP_STORED),
        "release.json is not valid JSON",
    ),
    "release-json-wrong-type": zip_case(
        lambda c: c.zip9(document=c.doc9(version=9)), "field version is a number"
    ),
    "release-json-format-2": zip_case(lambda c: c.zip9(document=c.doc9(format=2)), "has format 2"),
    "release-json-missing-field": zip_case(
        lambda c: c.zip9(document={k: v for k, v in c.doc9().items() if k != "created_by"}),
        "lacks created_by",
    ),
    "release-json-extra-field": zip_case(
        lambda c: c.zip9(document=c.doc9(extra="x")), "has unknown keys: 'extra'"
    ),
    "release-json-repeated-key": zip_case(
        lambda c: c.zip9(release_json=json.dumps(c.doc9()).encode()[:-1] + b', "kind": "app"}'),
        "repeats the key 'kind'",
    ),
    "release-json-too-large": zip_case(
        lambda c: c.zip9(
            document=c.doc9(description="d" * (1024 * 1024 + 10)), compression=zipfile.ZIP_STORED
        ),
        "release.json declares",
    ),
    "release-json-lying-version": zip_case(
        lambda c: c.zip9(document=c.doc9(version="8.0.0")), "8.0.0"
    ),
    "release-json-lying-uuid": zip_case(
        lambda c: c.zip9(document=c.doc9(uuid=c.t.crm)), "the artifact's path says"
    ),
    "release-json-lying-kind": zip_case(
        lambda c: c.zip9(document=c.doc9(kind="workflow")), "the artifact's path says"
    ),
    "release-json-invalid-name": zip_case(
        lambda c: c.zip9(document=c.doc9(name="bad name!")), "not a valid element name"
    ),
    "release-json-invalid-uuid": zip_case(
        lambda c: c.zip9(document=c.doc9(uuid="NOT-A-UUID")), "not a lowercase RFC 4122 uuid"
    ),
    "release-json-bad-created-at": zip_case(
        lambda c: c.zip9(document=c.doc9(created_at="yesterday")), "created_at 'yesterday'"
    ),
    "release-json-lying-digest": zip_case(
        lambda c: c.zip9(document=c.doc9(files_sha256="ab" * 32)), "files_sha256 in release.json"
    ),
    "artifact-over-the-size-limit": zip_case(
        lambda c: b"PK" + b"\0" * (MAX_ARTIFACT_BYTES + 20 * 1024 * 1024), "too large"
    ),
    "pinned-not-a-zip": pinned_case(lambda c: b"garbage", "is not a readable zip file"),
    "pinned-ratio-bomb": pinned_case(
        lambda c: artifact_zip(c.t.crm, "9.0.0", {"z": b"\0" * (1024 * 1024)}), "zip bomb"
    ),
    "pinned-lying-version": pinned_case(lambda c: crm9(c, version="8.0.0"), "8.0.0"),
    "pinned-submodule": Case(
        lambda c: {artifact_path(c.t.crm, "9.0.0"): (COMMIT, b"\x03" * 20)},
        CRM9,
        "is not a file",
        deploys=False,
    ),
    "pinned-lying-digest": pinned_case(
        lambda c: crm9(c, files_sha256="cd" * 32), "files_sha256 in release.json"
    ),
}


def folder_of(c: Ctx, folder: str, content: Value) -> Mapping[bytes, Value]:
    return {folder.encode(): content}


def odd_path(path: Callable[[Ctx], str], value: Callable[[Ctx], Value], names: str) -> Case:
    return Case(lambda c: {path(c).encode(): value(c)}, names)


ODD_PATHS: dict[str, Case] = {
    "dist-folder-not-a-uuid": odd_path(
        lambda c: "dist/apps/not-a-uuid/1.0.0.zip", lambda c: c.good, "dist/apps/not-a-uuid"
    ),
    "dist-version-with-leading-zero": odd_path(
        lambda c: f"dist/apps/{c.t.billing}/01.2.3.zip", lambda c: c.good, "dist/apps/{billing}/01"
    ),
    "dist-zip-that-is-a-folder": odd_path(
        lambda c: f"dist/apps/{c.t.billing}/1.2.3.zip",
        lambda c: {b"x": b"y"},
        "dist/apps/{billing}/1.2.3.zip",
    ),
    "dist-zip-that-is-a-symlink": odd_path(
        lambda c: f"dist/apps/{c.t.billing}/9.0.0.zip",
        lambda c: (LINK, c.git.create_blob(b"../../../etc/passwd").raw),
        BILLING9,
    ),
    "dist-zip-that-is-a-submodule": odd_path(
        lambda c: f"dist/apps/{c.t.billing}/9.0.0.zip", lambda c: (COMMIT, b"\x02" * 20), BILLING9
    ),
    "dist-uppercase-extension": odd_path(
        lambda c: f"dist/apps/{c.t.billing}/9.0.0.ZIP", lambda c: c.good, "dist/apps/{billing}/9"
    ),
    "dist-stray-file": odd_path(
        lambda c: f"dist/apps/{c.t.billing}/notes.txt", lambda c: b"x", "dist/apps/{billing}/notes"
    ),
    "dist-releases-of-no-element": odd_path(
        lambda c: f"dist/apps/{OTHER}/1.0.0.zip", lambda c: c.good, f"dist/apps/{OTHER}"
    ),
    "dist-app-releases-under-workflows": odd_path(
        lambda c: f"dist/workflows/{c.t.billing}/1.0.0.zip",
        lambda c: c.good,
        "dist/workflows/{billing}",
    ),
    "dist-unknown-kind-folder": odd_path(
        lambda c: "dist/widgets/x.zip", lambda c: c.good, "dist/widgets"
    ),
    "dist-release-folder-is-a-file": odd_path(
        lambda c: f"dist/apps/{NEW}", lambda c: c.good, f"dist/apps/{NEW}"
    ),
}


def manifest(name: str, text: Callable[[Ctx], bytes], says: str = "", deploys: bool = True) -> Case:
    return Case(
        lambda c: {f"manifests/{name}".encode(): text(c)}, f"manifests/{name}", says, deploys
    )


def pins(c: Ctx, release: str = "1.0.0", uuid: str | None = None) -> bytes:
    return (
        f"version: 1.0.0\nname: other\napps:\n  - uuid: {uuid or c.t.billing}\n"
        f"    release: {release}\nworkflows: []\n"
    ).encode()


LAUGHS = b"a: &a ['x','x','x','x','x','x','x','x','x']\n" + b"".join(
    b"%s: &%s [*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s]\n" % ((bytes([c]),) * 2 + (bytes([c - 1]),) * 9)
    for c in range(ord("b"), ord("k"))
)

MANIFESTS: dict[str, Case] = {
    "manifest-invalid-yaml": manifest("other.yaml", lambda c: b"apps: [\n", ""),
    "manifest-billion-laughs": manifest("other.yaml", lambda c: LAUGHS, "alias"),
    "manifest-deep-nesting": manifest("other.yaml", lambda c: b"apps: " + nested_json(50_000), ""),
    "manifest-duplicate-keys": manifest("other.yaml", lambda c: pins(c) + b"apps: []\n", "apps"),
    "manifest-wrong-types": manifest(
        "other.yaml", lambda c: b"version: 1\nname: other\napps: 12\nworkflows: []\n", ""
    ),
    "manifest-a-list": manifest("other.yaml", lambda c: b"- 1\n- 2\n", ""),
    "manifest-unknown-element": manifest("other.yaml", lambda c: pins(c, uuid=OTHER), OTHER),
    "manifest-missing-version": manifest("other.yaml", lambda c: pins(c, "7.7.7"), "7.7.7"),
    "manifest-huge": manifest("other.yaml", lambda c: b"#" * (5 * 1024 * 1024), ""),
    "manifest-not-utf8": manifest("other.yaml", lambda c: pins(c) + b"# caf\xe9\n", ""),
    "manifest-nul-byte": manifest("other.yaml", lambda c: pins(c) + b"# \0\n", ""),
    "manifest-tabs": manifest(
        "other.yaml", lambda c: pins(c).replace(b"    release", b"\t  release"), ""
    ),
    "manifest-bom": Case(lambda c: {b"manifests/other.yaml": b"\xef\xbb\xbf" + pins(c)}, None),
    "manifest-python-tag": manifest(
        "other.yaml", lambda c: b"!!python/object/apply:os.system ['true']\n", ""
    ),
    "manifest-several-documents": manifest(
        "other.yaml", lambda c: pins(c) + b"---\n" + pins(c), ""
    ),
    "manifest-name-mismatch": manifest("other.yaml", lambda c: pins(c).replace(b"other", b"x"), ""),
    "manifest-symlink": Case(
        lambda c: {b"manifests/other.yaml": (LINK, c.git.create_blob(b"prod.yaml").raw)},
        "manifests/other.yaml",
    ),
    "manifest-folder-named-yaml": Case(
        lambda c: {b"manifests/x.yaml": {b"a": b"b"}}, "manifests/x.yaml", "should be a manifest"
    ),
    "manifest-name-with-spaces": manifest("my manifest.yaml", lambda c: b"x: 1\n", "should be"),
    "manifest-not-yaml-extension": manifest("prod.yml", lambda c: b"x: 1\n", "should be"),
    "manifest-prod-invalid": manifest("prod.yaml", lambda c: b"apps: [\n", "", deploys=False),
    "manifest-prod-missing-version": Case(
        lambda c: {b"manifests/prod.yaml": pins(c, "7.7.7").replace(b"other", b"prod")},
        "manifests/prod.yaml",
        "7.7.7",
        deploys=False,
    ),
    "manifest-prod-huge": manifest(
        "prod.yaml", lambda c: b"#" * (5 * 1024 * 1024), "", deploys=False
    ),
    "manifest-prod-a-folder": Case(
        lambda c: {b"manifests/prod.yaml": {b"a": b"b"}},
        "manifests/prod.yaml",
        "should be a manifest",
        deploys=False,
    ),
}


def element(
    name: bytes, content: Callable[[Ctx], Value], names: str, says: str = "", deploys: bool = True
) -> Case:
    return Case(lambda c: {b"apps/" + name: content(c)}, names, says, deploys)


ELEMENTS: dict[str, Case] = {
    "metadata-missing": element(
        b"nometa", lambda c: {b"main.rsx": b"x"}, "apps/nometa/metadata.json", "is missing"
    ),
    "metadata-invalid-json": element(
        b"badjson",
        lambda c: {b"metadata.json": b"{"},
        "apps/badjson/metadata.json",
        "not valid JSON",
    ),
    "metadata-deeply-nested": element(
        b"deep",
        lambda c: {b"metadata.json": nested_json(200_000)},
        "apps/deep/metadata.json",
        "nests too deep",
    ),
    "metadata-not-an-object": element(
        b"arr",
        lambda c: {b"metadata.json": b"[]"},
        "apps/arr/metadata.json",
        "must be a JSON object",
    ),
    "metadata-wrong-uuid": element(
        b"wrong",
        lambda c: {b"metadata.json": metadata("wrong", "nope")},
        "apps/wrong/metadata.json",
        "must be a lowercase uuid",
    ),
    "metadata-uppercase-uuid": element(
        b"upper",
        lambda c: {b"metadata.json": metadata("upper", "ABCDEF01-ABCD-4ABC-8ABC-ABCDEF012345")},
        "apps/upper/metadata.json",
        "lowercase uuid",
    ),
    "metadata-workflow-field-in-an-app": element(
        b"field",
        lambda c: {b"metadata.json": metadata("field", NEW, "uuid")},
        "apps/field/metadata.json",
        "'pageUuid'",
    ),
    "metadata-name-mismatch": element(
        b"named",
        lambda c: {b"metadata.json": metadata("other", NEW)},
        "apps/named/metadata.json",
        "'name' is 'other'",
    ),
    "metadata-nul-in-name": element(
        b"nul",
        lambda c: {b"metadata.json": metadata("a\0b", NEW)},
        "apps/nul/metadata.json",
        "'name'",
    ),
    "metadata-bom": element(
        b"bom",
        lambda c: {b"metadata.json": b"\xef\xbb\xbf" + metadata("bom", NEW)},
        "apps/bom/metadata.json",
        "not valid JSON",
    ),
    "metadata-huge": element(
        b"huge",
        lambda c: {b"metadata.json": b" " * (2 * 1024 * 1024) + b"{}"},
        "apps/huge/metadata.json",
        "is over 1,048,576 bytes",
    ),
    "metadata-a-folder": element(
        b"metadir",
        lambda c: {b"metadata.json": {b"x": b"y"}},
        "apps/metadir/metadata.json",
        "is missing",
    ),
    "metadata-a-symlink": element(
        b"metalink",
        lambda c: {b"metadata.json": (LINK, c.git.create_blob(b"../billing/metadata.json").raw)},
        "apps/metalink/metadata.json",
    ),
    "duplicate-uuid-across-two-elements": Case(
        lambda c: {
            b"apps/dup-a": {b"metadata.json": metadata("dup-a", NEW)},
            b"apps/dup-b": {b"metadata.json": metadata("dup-b", NEW)},
        },
        "apps/dup-b/metadata.json",
        "is also used by apps/dup-a",
    ),
    "duplicate-uuid-across-kinds": Case(
        lambda c: {b"workflows/twin": {b"metadata.json": metadata("twin", c.t.crm, "uuid")}},
        "workflows/twin/metadata.json",
        "is also used by apps/crm",
    ),
    "empty-folder": element(b"empty", lambda c: {}, "apps/empty/metadata.json", "is missing"),
    # A file beside the element folders (a README) is no element and harms nothing.
    "a-file-where-a-folder-should-be": Case(lambda c: {b"apps/readme.txt": b"hello"}, None),
    "a-file-among-workflows": Case(lambda c: {b"workflows/notes.txt": b"x"}, None),
    "working-file-over-the-size-limit": element(
        b"big",
        lambda c: {
            b"metadata.json": metadata("big", NEW),
            b"blob.bin": b"\1" * (MAX_ARTIFACT_BYTES + 1),
        },
        "apps/big",
        "bytes, over the",
        deploys=False,
    ),
    "working-folder-too-many-files": element(
        b"many",
        lambda c: {
            b"metadata.json": metadata("many", NEW),
            **{b"f%d" % i: b"" for i in range(10_001)},
        },
        "apps/many",
        "more than the 10000 files",
        deploys=False,
    ),
    "working-folder-too-deep": element(
        b"nest",
        lambda c: {b"metadata.json": metadata("nest", NEW), b"d": nested_tree(c.git, 600)},
        "apps/nest/d/d/d",
        "over 1024",
        deploys=False,
    ),
    "working-folder-symlink": element(
        b"linked",
        lambda c: {
            b"metadata.json": metadata("linked", NEW),
            b"secret": (LINK, c.git.create_blob(b"/etc/passwd").raw),
        },
        "apps/linked/secret",
        "is a symbolic link",
        deploys=False,
    ),
    "working-folder-submodule": element(
        b"sub",
        lambda c: {b"metadata.json": metadata("sub", NEW), b"vendor": (COMMIT, b"\x01" * 20)},
        "apps/sub/vendor",
        "is a submodule",
        deploys=False,
    ),
    "working-file-not-utf8": element(
        b"latin",
        lambda c: {b"metadata.json": metadata("latin", NEW), b"caf\xe9.txt": b"x"},
        "apps/latin/caf",
        "not UTF-8",
        deploys=False,
    ),
    "working-file-control-character": element(
        b"ctl",
        lambda c: {b"metadata.json": metadata("ctl", NEW), b"a\x1bb": b"x"},
        "apps/ctl/a",
        "control character",
        deploys=False,
    ),
}

NAMES: dict[str, Case] = {
    "name-unicode-confusable": element(
        "b\u0456lling".encode(),
        lambda c: {b"metadata.json": metadata("b\u0456lling", NEW)},
        "apps/b\u0456lling",
        "is not a valid element name",
    ),
    "name-very-long": element(
        b"a" * 300,
        lambda c: {b"metadata.json": metadata("a" * 300, NEW)},
        "apps/aaaa",
        "is not a valid element name",
    ),
    "name-not-utf8": element(
        b"bad\xffname",
        lambda c: {b"metadata.json": metadata("bad", NEW)},
        "apps/bad\\xffname",
        "is not a valid element name",
    ),
    "name-with-space": element(
        b"my app",
        lambda c: {b"metadata.json": metadata("my app", NEW)},
        "apps/my app",
        "is not a valid element name",
    ),
    "name-with-newline": element(
        b"a\nb",
        lambda c: {b"metadata.json": metadata("a\nb", NEW)},
        "apps/a",
        "is not a valid element name",
    ),
    "name-starting-with-dash": element(
        b"-rf",
        lambda c: {b"metadata.json": metadata("-rf", NEW)},
        "apps/-rf",
        "is not a valid element name",
    ),
    "name-dot-dot": element(b"..", lambda c: {b"metadata.json": metadata("..", NEW)}, None),
    "name-with-colon": element(
        b"c:x",
        lambda c: {b"metadata.json": metadata("c:x", NEW)},
        "apps/c:x",
        "is not a valid element name",
    ),
    "name-reserved-on-windows": element(
        b"con", lambda c: {b"metadata.json": metadata("con", NEW)}, None
    ),
    "name-differs-only-in-case": element(
        b"Billing", lambda c: {b"metadata.json": metadata("Billing", NEW)}, None
    ),
}

CASES = {**ZIPS, **ODD_PATHS, **MANIFESTS, **ELEMENTS, **NAMES}


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 80
    assert len([case for case in CASES.values() if case.names is not None]) >= 80


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return build_template(tmp_path_factory.mktemp("corpus") / "template")


def check_listings(hub: Hub, t: Template, hostile: bool) -> None:
    """The healthy elements list with their releases; a release the push added lists as broken."""
    names = {element.name for element in hub.catalog.elements()}
    assert {"billing", "crm", "nightly"} <= names
    for name, good in (("billing", {"1.0.0", "1.1.0"}), ("crm", {"1.0.0"})):
        views = {str(view.version): view.problem for view in hub.catalog.releases(name)}
        assert good <= set(views)
        assert all(views[version] is None for version in good), views
        if hostile:
            assert {version for version, problem in views.items() if problem is None} == good


def listed_problems(client: Client) -> list[str]:
    """Return every problem the elements listing shows: of broken folders and of elements."""
    data = client.get("/api/v2/source_control/elements").json()["data"]
    return [p for row in data["elements"] + data["broken"] for p in row["problems"]]


def check_broken_is_listed(client: Client, where: str, hostile: list[str]) -> None:
    """A hostile element folder lists as broken with its problem, in the API and on the
    Releases tab."""
    if where.split("/")[0] not in {kind.plural for kind in KINDS}:
        return  # a release artifact or a manifest: its own listing shows it
    listed = listed_problems(client)
    assert any(problem in listed for problem in hostile), (hostile, listed)
    tab = client.get("/settings/releases")
    assert "broken" in tab.text
    assert any(str(escape(problem)) in tab.text for problem in hostile), hostile


def check_answers(client: Client, t: Template) -> None:
    """Nothing answers 5xx, and the healthy elements show with their releases."""
    found = client.get("/api/v2/source_control/elements")
    assert found.status_code == 200, found.text
    rows = {row["name"]: row for row in found.json()["data"]["elements"]}
    assert {"1.0.0", "1.1.0"} <= set(rows["billing"]["releases"])
    releases = client.get(f"/api/v2/source_control/releases/{t.billing}")
    assert releases.status_code == 200, releases.text
    versions = {item["release_version"] for item in releases.json()["data"]}
    assert {"1.0.0", "1.1.0"} <= versions
    live = client.get("/api/v2/elements")
    assert live.status_code == 200, live.text
    for path in (
        "/",
        "/settings/releases",
        "/elements/app/billing",
        "/elements/app/billing/releases",
    ):
        page = client.get(path)
        assert page.status_code == 200, (path, page.text[:2000])
        assert "billing" in page.text
        assert "1.0.0" in page.text or path == "/elements/app/billing"
    for path in ("/manifests/prod", "/manifests/other", "/settings", "/api/v2/manifests"):
        assert client.get(path).status_code < 500, path


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_hostile_push_is_named_and_the_others_read_and_deploy(
    template: Template, tmp_path: Path, name: str
) -> None:
    case = CASES[name]
    folder = copy_template(template, tmp_path / "case")
    hub, instance = open_copy(folder)
    try:
        git = pygit2.Repository(str(hub.repo.path))
        good = hub.snapshot().read(artifact_path(template.billing, "1.1.0").decode())
        assert good is not None
        push_raw(hub, case.changes(Ctx(template, git, good)))
        # 1. validate names the file
        found = [str(problem) for problem in hub.catalog.validate()]
        where = ""
        if case.names is None:
            assert found == [], found
        else:
            where = case.names.format(billing=template.billing, crm=template.crm)
            assert any(p.startswith(where) and case.says in p for p in found), found
        hostile = [p for p in found if p.startswith(where) and case.says in p]
        # 2. the healthy elements read, nothing answers 5xx
        check_listings(hub, template, case.names is not None)
        client = Client(
            create_app(instance), template.token, (cookie_name(instance), template.cookie)
        )
        try:
            check_answers(client, template)
            if where:
                check_broken_is_listed(client, where, hostile)
        finally:
            client.close()
        # 3. a deploy serves them, or fails naming the file and changes nothing
        deployment = instance.deployer.deploy("corpus")
        live = live_state(instance)
        assert "internal error" not in deployment.log, deployment.log
        if case.deploys:
            assert deployment.status == "SUCCESS", deployment.log
            assert {uuid: live[uuid] for uuid in template.live} == template.live
        else:
            assert deployment.status == "ERROR", deployment.log
            assert any(where in error for error in deployment.errors), deployment.errors
            assert live == template.live
    finally:
        instance.close()

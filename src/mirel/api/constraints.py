"""What the API's parameters and body fields may hold, as JSON Schema for the OpenAPI document.

The server's own checks refuse the rest (with messages that say what to write); these only say
the same rules in the document, so that a client, or a generator of requests, knows them:
everything the document allows is read, everything it refuses is a 400.
tests/api/test_openapi_conformance.py holds the two to each other.
"""

from typing import Any

from mirel.core.kinds import KINDS
from mirel.core.manifest import LATEST
from mirel.core.names import NAME_PATTERN, UUID_PATTERN
from mirel.core.versions import LINE_PATTERN, RANGE_PATTERN, VERSION_PATTERN
from mirel.instance.deploy.deployer import REVISION_PATTERN

Schema = dict[str, Any]

# Element and manifest names; an element's uuid is such a name too.
NAME: Schema = {"pattern": NAME_PATTERN}
# An element in a body: its name or uuid, or `kind/name` (a path segment cannot hold the slash).
_KIND_FOLDERS = "|".join(text for kind in KINDS for text in (kind.name, kind.plural))
ELEMENT: Schema = {"pattern": f"^(({_KIND_FOLDERS})/)?{NAME_PATTERN[1:]}"}
VERSION: Schema = {"pattern": VERSION_PATTERN}
LINE: Schema = {"pattern": LINE_PATTERN}
# What a pin holds: "latest" or a strict X.Y.Z.
PIN_RELEASE: Schema = {"pattern": f"^({LATEST}|{VERSION_PATTERN[1:-1]}|{RANGE_PATTERN[1:-1]})$"}
# A manifest in a body (mirel.core.manifest_reader.manifest_from_api reads it): its pins by kind,
# each uuid once. Every pin must also resolve on the default branch, which no schema can say.
_PIN = {
    "type": "object",
    "properties": {
        "uuid": {"type": "string", "pattern": UUID_PATTERN},
        "release": {"type": "string", **PIN_RELEASE},
    },
    "required": ["uuid", "release"],
    "additionalProperties": False,
}
MANIFEST: Schema = {
    "properties": {
        "name": {"type": "string", **NAME},
        **{kind.plural: {"type": "array", "items": _PIN} for kind in KINDS},
    },
    "additionalProperties": False,
}
# A commit a test deploy reads: a sha, a branch, `main~1` (mirel.instance.deploy.deployer).
REVISION: Schema = {"pattern": REVISION_PATTERN}
# No control character: the address check refuses them in any path or query (mirel.http.address).
PRINTABLE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"
PRINTABLE: Schema = {"pattern": PRINTABLE_PATTERN}
# The compatible API's elementType values.
API_TYPE: Schema = {"enum": [kind.api_type for kind in KINDS]}
# Every spelling of a kind mirel reads: its name, its folder and its API type (app, apps, PAGE).
KIND: Schema = {
    "enum": [text for kind in KINDS for text in (kind.name, kind.plural, kind.api_type)]
}
# A release is made of exactly one of a bump or an explicit version (mirel.hub.releases).
EXACTLY_ONE_OF_BUMP_OR_VERSION: Schema = {
    "oneOf": [
        {
            "required": ["bump"],
            "properties": {"bump": {"type": "string"}, "release_version": {"type": "null"}},
        },
        {
            "required": ["release_version"],
            "properties": {"release_version": {"type": "string"}, "bump": {"type": "null"}},
        },
    ]
}
# A file of an element's folder: a relative path of non-empty parts, none of them `.` or `..`,
# no backslash and no control character (mirel.git.repository.check_repo_path), and none a
# spelling of `.git` that libgit2 refuses as a tree entry: any case, with trailing dots or
# spaces, `git~1` (its short name on NTFS), or followed by a colon (an NTFS stream). It also
# refuses `.git` written with code points HFS+ ignores (zero-width joiners...): those alone are
# a 400 the document does not list.
_GIT = "[.][Gg][Ii][Tt]"
_PART = (
    r"(?!\.\.?(/|$))"
    rf"(?!{_GIT}[. ]*(/|$))(?!{_GIT}:)(?![Gg][Ii][Tt]~[0-9]+(/|$))"
    r"[^/\\\x00-\x1f\x7f]+"
)
FOLDER_PATHS: Schema = {"propertyNames": {"pattern": f"^{_PART}(/{_PART})*$"}}

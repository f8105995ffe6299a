"""Names of elements and manifests (SPEC.md §2)."""

from __future__ import annotations

import re

from mirel.errors import InvalidName

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
UUID_PATTERN = f"^{_UUID.pattern}$"


def is_valid_name(name: object) -> bool:
    """Return whether `name` is a valid element or manifest name."""
    return isinstance(name, str) and _NAME.fullmatch(name) is not None


def check_name(name: str, what: str) -> str:
    """Return `name` unchanged, or raise InvalidName saying which characters are allowed."""
    if not is_valid_name(name):
        raise InvalidName(
            f"{name!r} is not a valid {what} name; use 1 to 100 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def is_valid_uuid(text: object) -> bool:
    """Return whether `text` is a lowercase RFC 4122 uuid string."""
    return isinstance(text, str) and _UUID.fullmatch(text) is not None

"""The hub: operations on the shared repository, each write a branch plus a pull request."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from mirel.hub.hub import Hub

if TYPE_CHECKING:
    from mirel.hub.values import ChangeRequest, ReleaseView

# The hub's answer values, imported when first named: every module of the package imports this
# one first, and one that never builds an answer (the catalog listing elements) need not pay for
# the dataclasses of all of them.
_VALUES = ("ChangeRequest", "ReleaseView")


def __getattr__(name: str) -> object:
    if name in _VALUES:
        return getattr(importlib.import_module("mirel.hub.values"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ChangeRequest", "Hub", "ReleaseView"]

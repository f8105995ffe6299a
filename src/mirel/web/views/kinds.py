"""The element kinds as page addresses and list filters name them (`app`, `workflow`)."""

from __future__ import annotations

from mirel.core.kinds import KINDS, ElementKind

KIND_NAMES: tuple[str, ...] = tuple(kind.name for kind in KINDS)


def kind_filter(text: str) -> ElementKind | None:
    """Return the kind called `text`, or None (no filter) for anything else."""
    return KINDS.get(text) if text in KIND_NAMES else None

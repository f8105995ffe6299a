"""One page of a long list: which items it shows and the links to its neighbours.

Views page their lists with `paged`; templates draw the links from the `Pager` (the `pager`
macro of `_macros.html`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar


@dataclass(frozen=True)
class Pager:
    """One page of a long list: which items it shows and the links to its neighbours."""

    number: int
    size: int
    total: int

    @classmethod
    def at(cls, number: int | None, total: int, size: int = 50) -> Pager:
        """Return page `number` (1-based, clamped to the pages there are) of `total` items."""
        pages = max(1, -(-total // size))
        return cls(min(max(1, number or 1), pages), size, total)

    @property
    def offset(self) -> int:
        """Return how many items come before this page."""
        return (self.number - 1) * self.size

    @property
    def pages(self) -> int:
        """Return how many pages there are (at least one)."""
        return max(1, -(-self.total // self.size))

    @property
    def first_item(self) -> int:
        """Return the 1-based position of the first item shown (0 when there are none)."""
        return self.offset + 1 if self.total else 0

    @property
    def last_item(self) -> int:
        """Return the 1-based position of the last item shown."""
        return min(self.total, self.offset + self.size)


_Items = TypeVar("_Items")


def paged(
    fetch: Callable[[int, int], tuple[_Items, int]], number: int, size: int = 50
) -> tuple[_Items, Pager]:
    """Return page `number` of a list and its pager; `fetch(offset, limit)` gives the items and
    how many there are in all. A number past the last page shows the last page."""
    items, total = fetch((number - 1) * size, size)
    pager = Pager.at(number, total, size)
    if pager.number != number:
        items, total = fetch(pager.offset, size)
        pager = Pager.at(pager.number, total, size)
    return items, pager

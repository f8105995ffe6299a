"""The home page: this instance, its last deployment, and a page of what it serves."""

from __future__ import annotations

from dataclasses import dataclass

from mirel.instance import Instance, InstanceInfo, LiveElement
from mirel.web.paging import Pager, paged
from mirel.web.views.kinds import KIND_NAMES

HOME_PAGE = 50


@dataclass(frozen=True)
class HomePage:
    """This instance and one page of the elements it serves, filtered by name and kind."""

    info: InstanceInfo
    elements: list[LiveElement]
    pager: Pager
    kind: str  # the kind filtered by; empty: every kind
    kinds: tuple[str, ...] = KIND_NAMES


def home_page(instance: Instance, query: str, kind: str, page_number: int) -> HomePage:
    """Return page `page_number` of the elements whose name matches `query`, of `kind` (any
    other text: every kind)."""
    chosen = kind if kind in KIND_NAMES else ""
    elements, pager = paged(
        lambda offset, limit: instance.live.page(
            query=query, kind=chosen or None, offset=offset, limit=limit
        ),
        page_number,
        HOME_PAGE,
    )
    return HomePage(
        info=instance.info(),
        elements=elements,
        pager=pager,
        kind=chosen,
    )

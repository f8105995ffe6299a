"""Reading an application's routes back: their paths, methods and dependency trees.

Both faces declare who may use each route in the route's own dependencies (a scope for the API,
a role for the pages); these walkers let each face check that every route declares one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import fastapi.routing
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant


def dependencies_of(dependant: Dependant) -> Iterator[Callable[..., Any] | None]:
    """Yield the callable of every dependency in a route's tree (the route's own included)."""
    pending = [dependant]
    while pending:
        current = pending.pop()
        yield current.call
        pending.extend(current.dependencies)


def flat_routes(app: FastAPI) -> Iterable[Any]:
    """Return every route of `app`, those of included routers with their prefix applied."""
    # FastAPI 0.13x+ keeps included routers as one lazy entry of `app.routes`; its public
    # iterator yields their routes with the prefix applied. Older versions list routes flat.
    iterate = getattr(fastapi.routing, "iter_route_contexts", None)
    routes: Iterable[Any] = iterate(app.routes) if iterate is not None else app.routes
    return routes


def app_routes(app: FastAPI) -> Iterator[tuple[str, set[str], Dependant]]:
    """Yield the path, methods and dependency tree of every route, included routers too."""
    for route in flat_routes(app):
        dependant = getattr(route, "dependant", None)
        path, methods = getattr(route, "path", None), getattr(route, "methods", None)
        if isinstance(dependant, Dependant) and path is not None and methods:
            yield path, set(methods), dependant

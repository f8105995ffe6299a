"""What operations people watch: Prometheus metrics at /metrics, /healthz and /readyz.

- `/metrics` (Prometheus text format): requests by route template, method and status, with
  their durations; deployments by outcome, with their durations; the elements this instance
  serves; and the seconds since the poller last looked at the default branch.
- `/healthz` answers 200 while the process serves requests at all, naming in
  `X-Mirel-Worker-Pid` the worker process that answered.
- `/readyz` answers 200 when the instance can do its work (its database and its repository
  answer), 503 naming what does not otherwise, so a load balancer sends it no traffic.

Each application has a registry of its own, so that several instances in one process (tests,
`mirel up`) do not mix their figures. The three addresses need no sign-in, like a load
balancer's probes; they show counts and timings, nothing of the repository's content.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Mapping, Sequence

from fastapi import FastAPI
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mirel.http.routes import app_routes, flat_routes
from mirel.instance import Instance
from mirel.instance.values import Deployment

WORKER_HEADER = "X-Mirel-Worker-Pid"
_UNMATCHED = "unmatched"  # no route: its path is not a label, or one label per scanned URL


class Metrics:
    """The figures of one instance's application."""

    def __init__(self, instance: Instance) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "mirel_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "mirel_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template.",
            ["route"],
            registry=self.registry,
        )
        self.deploys = Counter(
            "mirel_deployments",
            "Deployments that ran, by outcome (SUCCESS or ERROR).",
            ["status"],
            registry=self.registry,
        )
        self.deploy_seconds = Histogram(
            "mirel_deployment_duration_seconds",
            "Time a deployment took, from its start to its verdict.",
            registry=self.registry,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
        )
        live = Gauge(
            "mirel_live_elements", "Elements this instance serves.", registry=self.registry
        )
        live.set_function(lambda: len(instance.live.rows()))
        lag = Gauge(
            "mirel_poll_lag_seconds",
            "Seconds since the poller last looked at the default branch (-1: not yet, or off).",
            registry=self.registry,
        )
        poller = instance.poller
        lag.set_function(
            lambda: -1.0 if poller.last_poll is None else time.monotonic() - poller.last_poll
        )
        instance.deploy_listeners.append(self.deployed)

    def deployed(self, deployment: Deployment, seconds: float) -> None:
        """Count one deployment that ran."""
        self.deploys.labels(status=deployment.status).inc()
        self.deploy_seconds.observe(seconds)


class RequestMetrics:
    """ASGI middleware counting and timing every HTTP request by its route template."""

    def __init__(
        self,
        app: ASGIApp,
        metrics: Metrics,
        templates: Sequence[str],
        route_templates: Mapping[int, str],
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.patterns = [(compile_path(template)[0], template) for template in templates]
        # The router leaves the route it chose in the scope (without its prefix): its full
        # template is looked up by the route's identity, not found again among every pattern.
        self.route_templates = route_templates
        # Requests the router gives no route (static files, /metrics, unknown addresses) are
        # matched against the patterns once per distinct path, in a bounded cache.
        self._scan = functools.lru_cache(maxsize=1024)(self._match)

    def _match(self, path: str) -> str:
        for pattern, template in self.patterns:
            if pattern.match(path):
                return template
        return _UNMATCHED

    def _template(self, scope: Scope) -> str:
        """Return the path template of the route that answered the request."""
        template = self.route_templates.get(id(scope.get("route")))
        if template is not None:
            return template
        path: str = scope.get("path", "")
        return self._scan(path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request, then count its status under its route's template."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            template = self._template(scope)
            self.metrics.requests.labels(template, scope.get("method", ""), str(status)).inc()
            self.metrics.request_seconds.labels(template).observe(time.perf_counter() - started)


def _ready(instance: Instance) -> list[str]:
    """Return what keeps the instance from its work (empty: ready)."""
    failing: list[str] = []
    try:
        with instance.sessions() as session:
            session.execute(text("SELECT 1"))
    except Exception as error:  # whatever the driver raises, the answer is "not ready"
        failing.append(f"the database does not answer: {type(error).__name__}")
    try:
        instance.hub.head()
    except Exception as error:
        failing.append(f"the repository cannot be read: {type(error).__name__}")
    return failing


def install_observability(app: FastAPI, instance: Instance) -> Metrics:
    """Add /metrics, /healthz and /readyz to `app`, and count its requests."""
    metrics = Metrics(instance)

    async def scrape(_: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def healthz(_: Request) -> Response:
        # Which process answered: with `mirel serve --workers N` each worker has its own.
        return JSONResponse({"status": "ok"}, headers={WORKER_HEADER: str(os.getpid())})

    def readyz(_: Request) -> Response:
        failing = _ready(instance)
        if failing:
            return JSONResponse({"status": "not ready", "failing": failing}, status_code=503)
        return JSONResponse({"status": "ready"})

    app.add_route("/metrics", scrape, include_in_schema=False)
    app.add_route("/healthz", healthz, include_in_schema=False)
    app.add_route("/readyz", readyz, include_in_schema=False)
    templates = [path for path, _, _ in app_routes(app)]
    templates += [route.path for route in app.routes if isinstance(route, Route)]
    templates += [f"{route.path}/{{path:path}}" for route in app.routes if isinstance(route, Mount)]
    app.add_middleware(
        RequestMetrics, metrics=metrics, templates=templates, route_templates=_by_route(app)
    )
    return metrics


def _by_route(app: FastAPI) -> dict[int, str]:
    """Return the full path template of each route object, by the object's id; a route object
    served under two paths (a router included twice) is left out, and found by its path."""
    found: dict[int, str] = {}
    twice: set[int] = set()
    for context in flat_routes(app):
        route = getattr(context, "original_route", context)
        path = getattr(context, "path", None)
        if not isinstance(path, str) or not isinstance(route, APIRoute):
            continue
        if found.setdefault(id(route), path) != path:
            twice.add(id(route))
    return {key: path for key, path in found.items() if key not in twice}

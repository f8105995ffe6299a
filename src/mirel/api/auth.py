"""Who may call what: bearer tokens, and one declared scope per route.

Every route under /api/v2 declares its scope once, in its decorator:
`dependencies=[require(SCOPE)]`.
The webhook instead declares `WEBHOOK_AUTH` (its signature). `route_scopes` reads the declarations
back from the application, and `check_declared` refuses to build an application with a route that
declares neither, so a new route cannot skip authorisation.

Checks run in this order: no or unknown token (401), then the scope (403), then the input (400),
so a caller without access learns nothing about the input, not even whether its JSON was valid.
"""

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from starlette.concurrency import run_in_threadpool

from mirel.api.deps import InstanceDep, get_instance
from mirel.errors import Forbidden, InvalidInput, Unauthenticated, WebhookReplayed
from mirel.git.repository import Author
from mirel.http.routes import app_routes, dependencies_of
from mirel.instance.accounts.tokens import SCOPES, TokenInfo, authenticate
from mirel.instance.webhooks import MAX_DELIVERY_ID, first_delivery
from mirel.providers.webhook_schemes import SCHEMES, delivery_id, refusal

RELEASES_READ = "source_control:releases:read"
RELEASES_WRITE = "source_control:releases:write"
READ = "source_control:read"
WRITE = "source_control:write"
DEPLOY = "source_control:deploy"
TEST_DEPLOY = "source_control:test_deploy"

WEBHOOK_AUTH = "webhook signature"

_bearer = HTTPBearer(
    auto_error=False,
    description="A token made with 'mirel token create'; each route needs one scope.",
)


def _no_token() -> Unauthenticated:
    return Unauthenticated(
        "no API token; send 'Authorization: Bearer <token>' (create one with 'mirel token create')"
    )


def _token_of(request: Request, secret: str | None) -> TokenInfo:
    """Return the token whose secret the request presents; raise Unauthenticated."""
    if not secret:
        raise _no_token()
    info = authenticate(get_instance(request).sessions, secret)
    if info is None:
        raise Unauthenticated(
            "unknown API token (revoked, or made for another instance); create one with "
            "'mirel token create'"
        )
    return info


def _bearer_secret(header: str | None) -> str | None:
    """Return the secret of an `Authorization: Bearer <secret>` header value, if it is one."""
    scheme, secret = get_authorization_scheme_param(header)
    return secret if scheme.lower() == "bearer" and secret else None


async def current_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> TokenInfo:
    """Return the token of the request; raise Unauthenticated when it has none or it is unknown.

    Asynchronous so that only the database lookup goes to a worker thread: a request without a
    token is refused without one, and every check after the lookup runs on the event loop.
    """
    secret = credentials.credentials if credentials is not None else None
    if not secret:
        raise _no_token()
    return await run_in_threadpool(_token_of, request, secret)


TokenDep = Annotated[TokenInfo, Depends(current_token)]


def _forbidden(scope: str) -> Forbidden:
    return Forbidden(
        f"this token lacks the scope {scope}; create a token with "
        f"'mirel token create --scope {scope}'"
    )


class ScopeCheck:
    """A dependency that passes only tokens holding `scope`."""

    def __init__(self, scope: str) -> None:
        if scope not in SCOPES:
            raise ValueError(f"unknown scope {scope!r}")
        self.scope = scope

    async def __call__(self, token: TokenDep) -> TokenInfo:
        """Return the token when it holds the scope; raise Forbidden naming it otherwise."""
        if not token.grants(self.scope):
            raise _forbidden(self.scope)
        return token


def require(scope: str) -> Any:
    """Return the dependency that declares (and checks) a route's scope."""
    return Depends(ScopeCheck(scope))


async def token_author(token: TokenDep) -> Author:
    """Return the git author of the changes a token makes: its name, and its id in the email."""
    return Author(token.name, f"token-{token.id}@mirel.invalid")


AuthorDep = Annotated[Author, Depends(token_author)]


# -- webhooks ------------------------------------------------------------------------------------


async def verify_signature(request: Request, instance: InstanceDep) -> None:
    """Return when the webhook carries its host's valid proof of origin (see
    mirel.providers.webhook_schemes) and is not a replay; raise Unauthenticated otherwise."""
    secret = instance.settings.webhook_secret
    if not secret:
        raise Unauthenticated(
            "webhooks are off on this instance; set MIREL_WEBHOOK_SECRET and sign each request"
        )
    provider = request.path_params.get("provider", "")
    if provider not in SCHEMES:
        raise InvalidInput(
            f"{str(provider)[:40]!r} is not a webhook provider; use one of {', '.join(SCHEMES)}"
        )
    body = await request.body()
    reason = refusal(provider, request.headers, body, secret)
    if reason is not None:
        raise Unauthenticated(reason)
    delivery = delivery_id(provider, request.headers, body)
    if delivery is not None:
        if len(delivery) > MAX_DELIVERY_ID or not delivery.isprintable():
            raise InvalidInput(
                f"the webhook delivery id is not {MAX_DELIVERY_ID} printable characters"
            )
        if not await run_in_threadpool(first_delivery, instance.sessions, delivery):
            raise WebhookReplayed(
                f"webhook delivery {delivery} was already received; a replay is not acted on"
            )


WEBHOOK = Depends(verify_signature)


# -- the declared scopes ---------------------------------------------------------------------------


def _declared(dependant: Dependant) -> list[str]:
    """Return the scopes (or WEBHOOK_AUTH) declared in a dependency tree."""
    found: list[str] = []
    for call in dependencies_of(dependant):
        if isinstance(call, ScopeCheck):
            found.append(call.scope)
        elif call is verify_signature:
            found.append(WEBHOOK_AUTH)
    return found


def _api_routes(app: FastAPI) -> Iterator[tuple[str, set[str], Dependant]]:
    """Yield the routes under /api/ (the pages declare roles instead: mirel.web.auth)."""
    for path, methods, dependant in app_routes(app):
        if path.startswith("/api/"):
            yield path, methods, dependant


def route_scopes(app: FastAPI) -> dict[tuple[str, str], str | None]:
    """Return `(method, path) -> scope` for every API route (None: declares none, a defect)."""
    table: dict[tuple[str, str], str | None] = {}
    for path, methods, dependant in _api_routes(app):
        declared = _declared(dependant)
        for method in sorted(methods):
            table[(method, path)] = declared[0] if len(declared) == 1 else None
    return table


def check_declared(app: FastAPI) -> None:
    """Raise RuntimeError unless every API route declares exactly one scope or the webhook auth."""
    missing = [
        f"{method} {path}" for (method, path), scope in route_scopes(app).items() if not scope
    ]
    if missing:
        raise RuntimeError(
            "routes without exactly one declared scope (add dependencies=[require(SCOPE)]): "
            + ", ".join(missing)
        )


def check_access(request: Request) -> None:
    """Raise Unauthenticated or Forbidden when the request may not use its route at all.

    The routes' own dependencies do this; the input error handler calls it too, because FastAPI
    reads a malformed JSON body before it runs any dependency.
    """
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    declared = _declared(route.dependant)
    if len(declared) != 1 or declared[0] == WEBHOOK_AUTH:
        return
    token = _token_of(request, _bearer_secret(request.headers.get("authorization")))
    if not token.grants(declared[0]):
        raise _forbidden(declared[0])

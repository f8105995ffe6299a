"""The repository beyond releases and manifests: elements, branch commits, hotfixes, pulls."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from pydantic import TypeAdapter

from mirel.api.auth import READ, RELEASES_READ, RELEASES_WRITE, WRITE, AuthorDep, require
from mirel.api.bodies import (
    BranchCommit,
    ElementCreate,
    HotfixClose,
    HotfixCreate,
    HotfixRelease,
)
from mirel.api.constraints import KIND, LINE, PRINTABLE
from mirel.api.deps import ElementDep, HubDep, kind_named
from mirel.api.kept_answers import kept_for
from mirel.http.envelope import ok
from mirel.http.models import (
    ChangeRequestPublic,
    Envelope,
    HotfixClosedPublic,
    HotfixList,
    HotfixPublic,
    MatrixPublic,
    PullDetail,
    PullList,
    PullPublic,
)
from mirel.hub.matrix import matrix, reports_key
from mirel.providers.base import PullState

router = APIRouter(prefix="/source_control")
# Serialises as FastAPI would the route's response model (by alias), to keep the bytes.
_MATRIX_ANSWER = TypeAdapter(Envelope[MatrixPublic])

LinePath = Annotated[
    str, Path(description="The release line major.minor, for example 1.4.", json_schema_extra=LINE)
]
Number = Annotated[int, Path(ge=1, le=2**31, description="The pull request's number.")]


# -- elements ------------------------------------------------------------------------------------


@router.get(
    "/elements",
    tags=["elements"],
    dependencies=[require(RELEASES_READ)],
    response_model=Envelope[MatrixPublic],
)
def list_elements(
    hub: HubDep,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Only elements whose name holds this.",
            json_schema_extra=PRINTABLE,
        ),
    ] = None,
    kind: Annotated[
        str | None,
        Query(description="Only elements of this kind (app, ...).", json_schema_extra=KIND),
    ] = None,
    offset: Annotated[int, Query(ge=0, le=2**31, description="Skip this many elements.")] = 0,
    limit: Annotated[
        int | None, Query(ge=1, le=10_000, description="At most this many elements.")
    ] = None,
) -> Response:
    """Return elements with their releases and their pin in each manifest (all by default)."""
    chosen = kind_named(kind) if kind is not None else None
    catalog = hub.catalog
    snapshot = catalog.snapshot()
    reports = catalog.provider.instance_reports()

    def answer() -> bytes:
        found = matrix(
            catalog,
            query=q,
            kind=chosen,
            offset=offset,
            limit=limit,
            snapshot=snapshot,
            reports=reports,
        )
        return _MATRIX_ANSWER.dump_json(ok(MatrixPublic.of(found)), by_alias=True)

    key = ("elements", snapshot.commit_sha, q, kind, offset, limit, reports_key(reports))
    return Response(kept_for(hub).get_or_make(key, answer), media_type="application/json")


@router.post(
    "/elements",
    tags=["elements"],
    dependencies=[require(WRITE)],
    response_model=Envelope[ChangeRequestPublic],
)
def create_element(
    body: ElementCreate, hub: HubDep, author: AuthorDep
) -> Envelope[ChangeRequestPublic]:
    """Return the change request putting a new element under source control."""
    files = {path: text.encode() for path, text in body.files.items()}
    return ok(
        ChangeRequestPublic.of(hub.elements.add(kind_named(body.kind), body.name, files, author))
    )


@router.post(
    "/branches/{branch:path}/commits",
    tags=["branches"],
    dependencies=[require(WRITE)],
    response_model=Envelope[ChangeRequestPublic],
)
def commit_to_branch(
    branch: Annotated[
        str,
        Path(description="The branch; it may contain slashes.", json_schema_extra=PRINTABLE),
    ],
    body: BranchCommit,
    hub: HubDep,
    author: AuthorDep,
) -> Envelope[ChangeRequestPublic]:
    """Return the change request of a commit on a branch (null content deletes a file)."""
    changes = {path: None if text is None else text.encode() for path, text in body.files.items()}
    message = body.message if body.message.endswith("\n") else body.message + "\n"
    return ok(
        ChangeRequestPublic.of(hub.branches.commit(branch, changes, message, author, body.base))
    )


# -- hotfixes ------------------------------------------------------------------------------------


@router.get(
    "/hotfixes",
    tags=["hotfixes"],
    dependencies=[require(RELEASES_READ)],
    response_model=Envelope[HotfixList],
)
def list_hotfixes(hub: HubDep) -> Envelope[HotfixList]:
    """Return the open hotfix branches."""
    return ok(HotfixList(hotfixes=[HotfixPublic.of(hotfix) for hotfix in hub.catalog.hotfixes()]))


@router.post(
    "/hotfixes",
    tags=["hotfixes"],
    dependencies=[require(RELEASES_WRITE)],
    response_model=Envelope[ChangeRequestPublic],
)
def create_hotfix(
    body: HotfixCreate, hub: HubDep, author: AuthorDep
) -> Envelope[ChangeRequestPublic]:
    """Return the hotfix branch made for a release's X.Y line (it has no pull request yet)."""
    change = hub.hotfixes.create(body.element_uuid, body.release, author)
    return ok(ChangeRequestPublic.of(change))


@router.post(
    "/hotfixes/{elementUuid}/{line}/release",
    tags=["hotfixes"],
    dependencies=[require(RELEASES_WRITE)],
    response_model=Envelope[ChangeRequestPublic],
)
def release_hotfix(
    element: ElementDep,
    line: LinePath,
    hub: HubDep,
    author: AuthorDep,
    body: HotfixRelease | None = None,
) -> Envelope[ChangeRequestPublic]:
    """Return the change request of a hotfix's patch release."""
    body = body or HotfixRelease()
    change = hub.hotfixes.release(
        element.uuid, line, author, body.release_description, allow_same=body.allow_same
    )
    return ok(ChangeRequestPublic.of(change))


@router.post(
    "/hotfixes/{elementUuid}/{line}/close",
    tags=["hotfixes"],
    dependencies=[require(RELEASES_WRITE)],
    response_model=Envelope[HotfixClosedPublic],
)
def close_hotfix(
    element: ElementDep, line: LinePath, hub: HubDep, body: HotfixClose | None = None
) -> Envelope[HotfixClosedPublic]:
    """Return the hotfix branch that was removed, commits and all (the confirmation people
    get is the page's and the CLI's to ask); only at `commit_sha` when given."""
    body = body or HotfixClose()
    closed = hub.hotfixes.close(element.uuid, line, drop_commits=True, expected_sha=body.commit_sha)
    return ok(HotfixClosedPublic.of(closed))


# -- pull requests -------------------------------------------------------------------------------


@router.get(
    "/pulls", tags=["pulls"], dependencies=[require(READ)], response_model=Envelope[PullList]
)
def list_pulls(
    hub: HubDep,
    state: Annotated[
        PullState | None, Query(description="Only pull requests in this state.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many.")] = 100,
) -> Envelope[PullList]:
    """Return pull requests, newest first (without diffs; GET /pulls/{n} has the diff)."""
    return ok(PullList(pulls=[PullPublic.of(pull) for pull in hub.pulls.list(state, limit)]))


@router.get(
    "/pulls/{number}",
    tags=["pulls"],
    dependencies=[require(READ)],
    response_model=Envelope[PullDetail],
)
def get_pull(number: Number, hub: HubDep) -> Envelope[PullDetail]:
    """Return one pull request with the files it changes, the problems that would refuse its
    merge now, and its plan: what each instance would change if it were merged now."""
    return ok(PullDetail.of_review(hub.plans.review(number)))


@router.post(
    "/pulls/{number}/merge",
    tags=["pulls"],
    dependencies=[require(WRITE)],
    response_model=Envelope[PullPublic],
)
def merge_pull(number: Number, hub: HubDep, author: AuthorDep) -> Envelope[PullPublic]:
    """Return the pull request, merged into the default branch (deploy hooks are called)."""
    return ok(PullPublic.of(hub.pulls.merge(number, author)))


@router.post(
    "/pulls/{number}/close",
    tags=["pulls"],
    dependencies=[require(WRITE)],
    response_model=Envelope[PullPublic],
)
def close_pull(number: Number, hub: HubDep, author: AuthorDep) -> Envelope[PullPublic]:
    """Return the pull request, closed without merging."""
    return ok(PullPublic.of(hub.pulls.close(number, author)))

"""`InstanceClient`: a running instance's REST API from Python, answers read into typed models.

Every call returns the `data` of the answer as the model `mirel.http.models` defines for it (the
same models the server answers with), or raises `InstanceRefused` with the server's one-line
message and status, or `InstanceUnreachable` when nothing answers. The transport is injectable, so
tests (and tools) can run it against an application in process.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, JsonValue, TypeAdapter

from mirel.errors import InstanceRefused, InstanceUnreachable, InvalidInput
from mirel.http.models import (
    API_PREFIX,
    ChangeRequestPublic,
    ConnectionPublic,
    DeploymentList,
    DeploymentPublic,
    HotfixClosedPublic,
    HotfixList,
    HotfixPublic,
    InstancePublic,
    LiveElementList,
    LiveElementPublic,
    LiveFilePublic,
    ManifestList,
    ManifestOne,
    ManifestPublic,
    MatrixPublic,
    PlanPublic,
    PullDetail,
    PullList,
    PullPublic,
    ReleaseDiffPublic,
    ReleasePublic,
    ReleasesConfig,
)

ModelT = TypeVar("ModelT", bound=BaseModel)
DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class Advice:
    """What the client's messages tell a user to check when the address is wrong: nothing answers
    there (`unreachable`), or something that is not mirel does (`not_mirel`). A program names
    where its user gave the address (the command line: --url or MIREL_URL)."""

    unreachable: str = "is it running, and is that its address?"
    not_mirel: str = "is that the address of a mirel instance?"


DEFAULT_ADVICE = Advice()


def _segment(text: str) -> str:
    """Return `text` as one path segment of a URL."""
    return quote(text, safe="")


class InstanceClient:
    """The REST API of one running instance, authenticated with one token."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        advice: Advice = DEFAULT_ADVICE,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise InvalidInput(f"{url!r} is not an http(s) URL; write it like http://host:8600")
        self.url = url.rstrip("/").removesuffix(API_PREFIX)
        self._advice = advice
        self._http = httpx.Client(
            base_url=self.url + API_PREFIX,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            transport=transport,
        )

    def __enter__(self) -> InstanceClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    # -- the envelope ------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: object = None,
        *,
        params: Mapping[str, str | int] | None = None,
        timeout: float | None = None,
    ) -> JsonValue:
        """Return the `data` of one call (a JSON value); raise InstanceRefused or
        InstanceUnreachable with one line."""
        try:
            response = self._http.request(
                method,
                path,
                json=body,
                params=params,
                timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.HTTPError as error:
            detail = (str(error).splitlines() or ["no answer"])[0]
            raise InstanceUnreachable(
                f"cannot reach the instance at {self.url} ({error.__class__.__name__}: "
                f"{detail}); {self._advice.unreachable}"
            ) from error
        return self._data(response)

    def _data(self, response: httpx.Response) -> JsonValue:
        """Return the `data` of an answer; raise InstanceRefused for a failure or a foreign one."""
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or "success" not in answer:
            raise InstanceRefused(
                f"{self.url} answered HTTP {response.status_code} without mirel's JSON; "
                f"{self._advice.not_mirel}",
                response.status_code,
            )
        if not answer["success"] or response.is_error:
            message = str(answer.get("message") or f"HTTP {response.status_code}")
            raise InstanceRefused(message.splitlines()[0], response.status_code)
        data: JsonValue = answer.get("data")
        return data

    def _get(self, model: type[ModelT], path: str, **params: str | int | None) -> ModelT:
        given = {key: value for key, value in params.items() if value is not None}
        return model.model_validate(self.request("GET", path, params=given))

    def _send(self, model: type[ModelT], method: str, path: str, body: object = None) -> ModelT:
        return model.model_validate(self.request(method, path, body))

    # -- this instance and its deploys -------------------------------------------------------

    def instance(self) -> InstancePublic:
        """Return this instance: name, selected manifest, deployed commit, last deployment."""
        return self._get(InstancePublic, "/instance")

    def deploy(self, timeout: float | None = None) -> DeploymentPublic:
        """Deploy the default branch's head now and return the deployment."""
        data = self.request("POST", "/source_control/deploy", timeout=timeout)
        return DeploymentPublic.model_validate(data)

    def deployment(self, deployment_id: str | int) -> DeploymentPublic:
        """Return one deployment, by its `id` (a uuid) or its `number`."""
        return self._get(DeploymentPublic, f"/source_control/deployment/{deployment_id}")

    def deployments(self, limit: int = 100) -> list[DeploymentPublic]:
        """Return the last `limit` deployments, newest first."""
        return self._get(DeploymentList, "/source_control/deployments", limit=limit).deployments

    def roll_back(self, deployment_id: str | int) -> ChangeRequestPublic:
        """Propose restoring what a successful deployment served, as exact pins (a pull
        request, not merged)."""
        path = f"/source_control/deployment/{deployment_id}/rollback"
        return self._send(ChangeRequestPublic, "POST", path)

    def test_deploy(self, commit_sha: str) -> PlanPublic:
        """Return what deploying a commit would change, and what would stop it."""
        body = {"deploy_params": {"commit_sha": commit_sha}}
        return self._send(PlanPublic, "POST", "/source_control/test_deploy", body)

    def test_connection(self) -> ConnectionPublic:
        """Return whether the instance can read its repository."""
        return self._get(ConnectionPublic, "/source_control/test_connection")

    def selected_manifest(self) -> str | None:
        """Return the manifest this instance publishes (None: every working version)."""
        return self._get(ReleasesConfig, "/source_control/releases_config").manifest

    def select_manifest(self, name: str | None) -> str | None:
        """Choose the manifest this instance publishes from its next deploy."""
        body = {"manifest": name}
        return self._send(ReleasesConfig, "PUT", "/source_control/releases_config", body).manifest

    def live_elements(self) -> list[LiveElementPublic]:
        """Return every element this instance serves."""
        return self._get(LiveElementList, "/elements").elements

    def live_element(self, uuid: str) -> LiveElementPublic:
        """Return what this instance serves for one element."""
        return self._get(LiveElementPublic, f"/elements/{_segment(uuid)}")

    def live_file(self, uuid: str, path: str) -> bytes:
        """Return the content of one file this instance serves."""
        found = self._get(
            LiveFilePublic, f"/elements/{_segment(uuid)}/files/{quote(path, safe='/')}"
        )
        if found.encoding == "base64":
            return base64.b64decode(found.content)
        return found.content.encode("utf-8")

    # -- the repository: manifests -----------------------------------------------------------

    def manifests(self) -> list[ManifestPublic]:
        """Return every manifest on the default branch."""
        return self._get(ManifestList, "/source_control/manifests").manifests

    def manifest(self, name: str) -> ManifestPublic:
        """Return one manifest."""
        return self._get(ManifestOne, f"/source_control/manifests/{_segment(name)}").manifest

    def put_manifest(
        self,
        name: str,
        pins: Mapping[str, Sequence[Mapping[str, str]]],
        message: str | None = None,
    ) -> ChangeRequestPublic:
        """Propose creating or overwriting a manifest: `pins` maps `apps`/`workflows` to
        `{"uuid", "release"}` entries."""
        body = {"manifest": pins, "commit_message": message}
        path = f"/source_control/manifests/{_segment(name)}"
        return self._send(ChangeRequestPublic, "PUT", path, body)

    def delete_manifest(self, name: str, message: str | None = None) -> ChangeRequestPublic:
        """Propose removing a manifest."""
        path = f"/source_control/manifests/{_segment(name)}/delete"
        return self._send(ChangeRequestPublic, "POST", path, {"commit_message": message})

    def set_pin(
        self, manifest: str, element: str, release: str, message: str | None = None
    ) -> ChangeRequestPublic:
        """Propose pinning one element (uuid or name) at `release` in a manifest."""
        path = f"/source_control/manifests/{_segment(manifest)}/{_segment(element)}"
        body = {"release": release, "commit_message": message}
        return self._send(ChangeRequestPublic, "PUT", path, body)

    def unset_pin(
        self, manifest: str, element: str, message: str | None = None
    ) -> ChangeRequestPublic:
        """Propose removing one element's pin from a manifest."""
        path = f"/source_control/manifests/{_segment(manifest)}/{_segment(element)}/delete"
        return self._send(ChangeRequestPublic, "POST", path, {"commit_message": message})

    def change_pins(
        self, changes: Sequence[tuple[str, str, str | None]], message: str | None = None
    ) -> ChangeRequestPublic:
        """Propose many pin changes `(manifest, element uuid, release or None)` at once."""
        body = {
            "changes": [
                {"manifest": manifest, "element_uuid": element, "release": release}
                for manifest, element, release in changes
            ],
            "commit_message": message,
        }
        return self._send(ChangeRequestPublic, "POST", "/source_control/manifests/_batch", body)

    # -- the repository: elements and releases -----------------------------------------------

    def matrix(
        self,
        *,
        query: str | None = None,
        kind: str | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> MatrixPublic:
        """Return elements against every manifest (the Releases tab's data)."""
        return self._get(
            MatrixPublic, "/source_control/elements", q=query, kind=kind, offset=offset, limit=limit
        )

    def add_element(self, kind: str, name: str, files: Mapping[str, str]) -> ChangeRequestPublic:
        """Propose a new element of `kind` from text files (path inside its folder -> text)."""
        body = {"kind": kind, "name": name, "files": dict(files)}
        return self._send(ChangeRequestPublic, "POST", "/source_control/elements", body)

    def commit(
        self,
        branch: str,
        files: Mapping[str, str | None],
        message: str,
        base: str | None = None,
    ) -> ChangeRequestPublic:
        """Commit files (repository path -> text, None deletes) to a branch, made if new."""
        path = f"/source_control/branches/{quote(branch, safe='/')}/commits"
        body = {"base": base, "message": message, "files": dict(files)}
        return self._send(ChangeRequestPublic, "POST", path, body)

    def releases(self, element: str) -> list[ReleasePublic]:
        """Return an element's releases, newest first."""
        data = self.request("GET", f"/source_control/releases/{_segment(element)}")
        return TypeAdapter(list[ReleasePublic]).validate_python(data)

    def create_release(
        self,
        element: str,
        *,
        bump: str | None = None,
        version: str | None = None,
        description: str = "",
        allow_same: bool = False,
    ) -> ChangeRequestPublic:
        """Propose a release of an element's working version: a bump or an explicit version.

        A release holding the files of the one before it is refused unless `allow_same`.
        """
        body = {
            "bump": bump,
            "release_version": version,
            "release_description": description,
            "allow_same": allow_same,
        }
        path = f"/source_control/releases/{_segment(element)}"
        return self._send(ChangeRequestPublic, "POST", path, body)

    def delete_release(self, element: str, version: str) -> ChangeRequestPublic:
        """Propose removing a release."""
        path = f"/source_control/releases/{_segment(element)}/{_segment(version)}/delete"
        return self._send(ChangeRequestPublic, "POST", path)

    def release_diff(
        self, element: str, version: str, against: str | None = None
    ) -> ReleaseDiffPublic:
        """Return the files that differ between two releases (default: the one before)."""
        path = f"/source_control/releases/{_segment(element)}/{_segment(version)}/diff"
        return self._get(ReleaseDiffPublic, path, against=against)

    # -- the repository: hotfixes and pull requests ------------------------------------------

    def hotfixes(self) -> list[HotfixPublic]:
        """Return the open hotfix branches."""
        return self._get(HotfixList, "/source_control/hotfixes").hotfixes

    def create_hotfix(self, element: str, release: str) -> ChangeRequestPublic:
        """Start the hotfix branch of a release's `X.Y` line."""
        body = {"element_uuid": element, "release": release}
        return self._send(ChangeRequestPublic, "POST", "/source_control/hotfixes", body)

    def release_hotfix(
        self, element: str, line: str, description: str = "", *, allow_same: bool = False
    ) -> ChangeRequestPublic:
        """Propose the patch release of an open hotfix (refused when it changes nothing,
        unless `allow_same`)."""
        path = f"/source_control/hotfixes/{_segment(element)}/{_segment(line)}/release"
        body = {"release_description": description, "allow_same": allow_same}
        return self._send(ChangeRequestPublic, "POST", path, body)

    def close_hotfix(
        self, element: str, line: str, *, commit_sha: str | None = None
    ) -> HotfixClosedPublic:
        """Drop an open hotfix branch, commits and all; with `commit_sha`, only if its tip is
        still that commit."""
        path = f"/source_control/hotfixes/{_segment(element)}/{_segment(line)}/close"
        return self._send(HotfixClosedPublic, "POST", path, {"commit_sha": commit_sha})

    def pulls(self, state: str | None = None, limit: int = 100) -> list[PullPublic]:
        """Return pull requests, newest first."""
        return self._get(PullList, "/source_control/pulls", state=state, limit=limit).pulls

    def pull(self, number: int) -> PullDetail:
        """Return one pull request with the files it changes."""
        return self._get(PullDetail, f"/source_control/pulls/{number}")

    def merge(self, number: int) -> PullPublic:
        """Merge a pull request into the default branch."""
        return self._send(PullPublic, "POST", f"/source_control/pulls/{number}/merge")

    def close_pull(self, number: int) -> PullPublic:
        """Close a pull request without merging."""
        return self._send(PullPublic, "POST", f"/source_control/pulls/{number}/close")

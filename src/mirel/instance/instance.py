"""The instance: its repository and database, and the parts that deploy and answer (SPEC.md §4).

`Instance` opens the hub and the database and wires the parts; callers use the parts directly:

- `instance.deployer`: `deploy(triggered_by, force=...)`, `test_deploy(commit_sha)`;
- `instance.deployments`: `recent(limit)`, `summaries(limit)`, `get(id)`, `last()`;
- `instance.live`: what it serves: `page(...)`, `elements()`, `element(uuid)`, `file(uuid, path)`;
- `instance.state`: `selected_manifest()`, `select_manifest(name)`, `deployed()`;
- `instance.poller`: `start()`, `stop()`; `instance.reports`: `report()`;
- `instance.source_control`: the stored connection to the host and the source control settings;
- `instance.info()`: all of the above in one value, for the home page and GET /instance.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from mirel.core.artifact import ArtifactLimits
from mirel.db.engine import Database, open_database
from mirel.errors import Conflict
from mirel.git.remote import open_repository
from mirel.git.repository import Author
from mirel.hub import ChangeRequest, Hub
from mirel.instance.connection import Connection
from mirel.instance.deploy.deployer import Deployer
from mirel.instance.deploy.lease import Lease
from mirel.instance.deploy.steps import Checkpoint, no_checkpoint
from mirel.instance.deployments import DeploymentStore
from mirel.instance.live import LiveStore
from mirel.instance.poller import Poller
from mirel.instance.reports import Reporter
from mirel.instance.source_control import SecretBox, SourceControlStore
from mirel.instance.state import StateStore
from mirel.instance.values import SUCCESS, Deployment, InstanceInfo
from mirel.providers import HostSettings, github_app, repository_path
from mirel.settings import Settings


def settings_connection(settings: Settings) -> Connection:
    """Return the connection the instance settings (MIREL_REPO and the host's) describe; with a
    GitHub App, its installation tokens serve both git and the API."""
    token = settings.git_token.get_secret_value() if settings.git_token else None
    app = github_app.from_settings(
        settings.github_app_id,
        settings.github_app_installation_id,
        settings.github_app_private_key,
        provider=settings.provider,
        api_url=settings.host_api_url,
        tokens={
            "MIREL_GIT_TOKEN": settings.git_token is not None,
            "MIREL_HOST_TOKEN": settings.host_token is not None,
        },
    )
    host = HostSettings(
        settings.provider,
        settings.host_repository or repository_path(settings.repo),
        settings.host_api_url,
        settings.host_token.get_secret_value() if settings.host_token else token,
        settings.host_username,
        token_source=app,
    )
    if app is not None:
        return Connection(settings.repo, host, github_app.GIT_USERNAME, app)
    return Connection(settings.repo, host, settings.git_username, token)


def _open_hub(settings: Settings, limits: ArtifactLimits, stored: Connection | None) -> Hub:
    """Return the hub of the repository the stored connection names (else the settings), its
    links leading to this instance."""
    connection = stored or settings_connection(settings)
    repository = open_repository(
        connection.repo,
        mirror=settings.mirror,
        token=connection.git_token,
        username=connection.git_username,
        ssh_key=settings.git_ssh_key,
    )
    # Links in answers (pull requests, branches) lead to this instance's own pages.
    return Hub.open(repository, web_url=settings.web_url, limits=limits, host=connection.host)


def _may_hold_a_connection(database_url: str) -> bool:
    """Return whether the database may exist already (and so hold a stored connection): any
    but a SQLite file that is not there yet."""
    if not database_url.startswith("sqlite:///"):
        return True
    return Path(database_url.removeprefix("sqlite:///")).exists()


class Instance:
    """One mirel instance: a repository, a database, a selected manifest and what it serves."""

    def __init__(
        self, settings: Settings, hub: Hub | None = None, *, checkpoint: Checkpoint = no_checkpoint
    ) -> None:
        self.settings = settings
        # Told of each deployment that ran and its seconds (the server's metrics listen here).
        self.deploy_listeners: list[Callable[[Deployment, float], None]] = []
        limits = ArtifactLimits(max_total_bytes=settings.max_artifact_bytes)
        if hub is None and not _may_hold_a_connection(settings.database_url):
            # No database yet, so no stored connection: the repository is opened first, and a
            # missing one leaves no new database file behind.
            hub = _open_hub(settings, limits, None)
        self.database: Database = open_database(settings.database_url)
        self.sessions: sessionmaker[Session] = self.database.sessions
        secret_key = settings.secret_key.get_secret_value() if settings.secret_key else None
        self.source_control = SourceControlStore(self.sessions, SecretBox(secret_key))
        try:
            self.hub = (
                hub
                if hub is not None
                else _open_hub(settings, limits, self.source_control.connection())
            )
        except BaseException:
            self.database.close()
            raise
        self.state = StateStore(self.sessions, self.hub, settings.manifest)
        self.deployments = DeploymentStore(self.sessions, self.state)
        self.live = LiveStore(self.sessions)
        self.reports = Reporter(
            settings.name, settings.web_url, self.sessions, self.hub.provider.report_instance
        )
        lease = Lease(self.database.engine)
        self.deployer = Deployer(
            hub=self.hub,
            sessions=self.sessions,
            lease=lease,
            state=self.state,
            deployments=self.deployments,
            live=self.live,
            reporter=self.reports,
            limits=limits,
            checkpoint=checkpoint,
            observe=self._deployed,
        )
        self.poller = Poller(
            functools.partial(self.deployer.deploy, "poller"), settings.poll_interval, settings.name
        )
        try:
            self.state.ensure_row()
            lease.ensure_row()
            self.deployer.recover()
        except SQLAlchemyError as error:
            self.database.close()
            raise self.database.unreachable(error) from error
        except BaseException:
            self.database.close()
            raise

    def roll_back(self, deployment_id: int | str, author: Author) -> ChangeRequest:
        """Propose restoring exactly what a successful deployment of this instance served: its
        manifest's pins, as exact releases, as they resolved at the deployment's commit."""
        deployment = self.deployments.get(deployment_id)
        if deployment.status != SUCCESS or not deployment.commit_sha:
            raise Conflict(
                f"deployment #{deployment.id} is {deployment.status}: only a successful one "
                "served something to go back to; pick one from the deployments"
            )
        if deployment.manifest is None:
            raise Conflict(
                f"deployment #{deployment.id} published no manifest (every element at its "
                "working version): there are no pins to restore"
            )
        return self.hub.manifests.roll_back(deployment.manifest, deployment.commit_sha, author)

    def info(self) -> InstanceInfo:
        """Return this instance: name, manifest, deployed commit, repository, last deployment."""
        deployed = self.state.deployed()
        return InstanceInfo(
            name=self.settings.name,
            manifest=self.state.selected_manifest(),
            deployed_commit=deployed.commit_sha,
            deployed_manifest=deployed.manifest,
            repository=self.hub.repo.location,
            default_branch=self.hub.default_branch,
            last_deployment=self.deployments.last(),
        )

    def _deployed(self, deployment: Deployment, seconds: float) -> None:
        for listener in self.deploy_listeners:
            listener(deployment, seconds)

    def close(self) -> None:
        """Stop the poller and close the database connections."""
        self.poller.stop()
        self.database.close()

    def __enter__(self) -> Instance:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

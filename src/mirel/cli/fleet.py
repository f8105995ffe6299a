"""`mirel up`: the embedded default — one local repository and instances dev, staging and prod.

In one folder (reused when it exists):

```
hub.git/            the shared bare repository, with demo content (mirel.hub.demo)
dev.db ...          one SQLite database per instance
logs/dev.log ...    each server's output
```

Each instance is its own process (`python -m mirel serve`) on loopback, on ports N, N+1 and N+2,
publishing the manifest of its name. All three are registered as deploy hooks of the repository
with one webhook secret, so a merge reaches them at once; their pollers catch any call missed.

The admin token is one secret whose hash is stored in each database, so one `MIREL_TOKEN` works
on all three. Only hashes are kept, so every run makes a new one and revokes the previous run's.
The web UI's first admin, `admin`, gets a new random password each run in the same way (one
password, its argon2 hash in each database), printed with the URLs.
Stopping (Ctrl-C or SIGTERM) asks each server to shut down, waits, then kills what is left. Hooks
and databases stay, so the next run picks up where this one stopped.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from rich.console import Console
from rich.markup import escape

from mirel.client import InstanceClient
from mirel.db.engine import open_database
from mirel.errors import FleetFailed, InstanceRefused, InstanceUnreachable, InvalidInput
from mirel.http.models import InstancePublic
from mirel.hub.demo import build_demo
from mirel.instance.accounts.tokens import (
    SCOPES,
    create_token,
    list_tokens,
    revoke_token,
    store_token,
)
from mirel.instance.accounts.users import Role, hash_password, put_user

INSTANCES = ("dev", "staging", "prod")
HOST = "127.0.0.1"
TOKEN_NAME = "mirel up admin"
ADMIN_USER = "admin"
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0

console = Console(highlight=False, soft_wrap=True, emoji=False)


@dataclass(frozen=True)
class Member:
    """One instance of the fleet: its name (also its manifest), port, database and log."""

    name: str
    port: int
    database_url: str
    log: Path

    @property
    def url(self) -> str:
        """Return the base URL of the instance."""
        return f"http://{HOST}:{self.port}"

    @property
    def hook_url(self) -> str:
        """Return the URL the repository calls after each merge."""
        return f"{self.url}/api/v2/webhooks/local"


def plan(folder: Path, port: int) -> list[Member]:
    """Return the three instances of a fleet in `folder` whose first port is `port`."""
    return [
        Member(
            name=name,
            port=port + index,
            database_url=f"sqlite:///{folder / f'{name}.db'}",
            log=folder / "logs" / f"{name}.log",
        )
        for index, name in enumerate(INSTANCES)
    ]


def check_ports(members: Sequence[Member]) -> None:
    """Raise InvalidInput naming the first port that something already listens on."""
    for member in members:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((HOST, member.port))
            except OSError as error:
                raise InvalidInput(
                    f"port {member.port} ({member.name}) is in use: {error.strerror}; is another "
                    "'mirel up' running? pass --port N to use N, N+1 and N+2"
                ) from error


@dataclass(frozen=True)
class Credentials:
    """What `mirel up` hands out: an API token and the web UI's admin login, valid on all three."""

    token: str
    username: str
    password: str


# What run_fleet calls once every instance has deployed: repository, members, login, instances.
Announce = Callable[[Path, Sequence[Member], Credentials, dict[str, InstancePublic]], None]


def admin_credentials(members: Sequence[Member]) -> Credentials:
    """Return a new all-scopes token and admin password valid on every member.

    Earlier runs' tokens are revoked and the `admin` user takes the new password (its other
    settings and every other user are kept).
    """
    secret: str | None = None
    password = secrets.token_urlsafe(12)
    password_hash = hash_password(password)
    for member in members:
        with open_database(member.database_url) as database:
            sessions = database.sessions
            for info in list_tokens(sessions):
                if info.name == TOKEN_NAME:
                    revoke_token(sessions, info.id)
            if secret is None:
                secret = create_token(sessions, TOKEN_NAME, list(SCOPES))
            else:
                store_token(sessions, TOKEN_NAME, list(SCOPES), secret)
            put_user(sessions, ADMIN_USER, password_hash, Role.ADMIN, replace=True)
    assert secret is not None
    return Credentials(secret, ADMIN_USER, password)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    # Linux only: if `mirel up` is killed outright (SIGKILL), its servers get SIGTERM instead of
    # living on as orphans that hold the ports.
    with contextlib.suppress(OSError, AttributeError):
        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def start(member: Member, repo: Path, secret: str) -> subprocess.Popen[bytes]:
    """Start one instance's server process, its output appended to its log."""
    member.log.parent.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "mirel",
        "serve",
        "--repo",
        str(repo),
        "--manifest",
        member.name,
        "--name",
        member.name,
        "--db",
        member.database_url,
        "--host",
        HOST,
        "--port",
        str(member.port),
    ]
    # The secret goes through the environment, not the command line that `ps` shows.
    env = {**os.environ, "MIREL_WEBHOOK_SECRET": secret, "PYTHONUNBUFFERED": "1"}
    for variable in ("MIREL_DATABASE_URL", "MIREL_PUBLIC_URL"):
        env.pop(variable, None)
    with member.log.open("ab") as log:
        log.write(f"\n--- mirel up: starting {member.name} at {datetime.now(UTC)} ---\n".encode())
        log.flush()
        # A session of its own: Ctrl-C reaches `mirel up` alone, which then stops each server
        # once, so that a second signal does not cut a server's graceful shutdown short.
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def _check_alive(members: Sequence[Member], processes: Sequence[subprocess.Popen[bytes]]) -> None:
    for member, process in zip(members, processes, strict=True):
        code = process.poll()
        if code is not None:
            raise FleetFailed(
                f"instance {member.name} stopped with exit code {code}; see {member.log}:\n"
                + _tail(member.log)
            )


def wait_ready(
    members: Sequence[Member],
    processes: Sequence[subprocess.Popen[bytes]],
    token: str,
    timeout: float = READY_TIMEOUT,
) -> dict[str, InstancePublic]:
    """Return each member's instance (GET /api/v2/instance) once it has finished its first deploy.

    Each server deploys as it starts (its poller's first round), so "ready" means serving what its
    manifest pins, not only answering. Raise FleetFailed if a server stops or takes too long.
    """
    deadline = time.monotonic() + timeout
    ready: dict[str, InstancePublic] = {}
    with contextlib.ExitStack() as stack:
        clients = {
            member.name: stack.enter_context(InstanceClient(member.url, token, timeout=2.0))
            for member in members
        }
        while len(ready) < len(members):
            _check_alive(members, processes)
            for name, client in clients.items():
                if name not in ready and (info := _deployed(client)) is not None:
                    ready[name] = info
            if len(ready) < len(members):
                if time.monotonic() > deadline:
                    names = ", ".join(m.name for m in members if m.name not in ready)
                    raise FleetFailed(
                        f"{names} did not deploy within {timeout:g} s; see their logs"
                    )
                time.sleep(0.1)
    return ready


def _deployed(client: InstanceClient) -> InstancePublic | None:
    """Return the instance once its first deploy has finished, else None (also while it starts
    and does not answer yet)."""
    # ValueError: an answer that is not an instance's (pydantic's ValidationError is one).
    with contextlib.suppress(InstanceUnreachable, InstanceRefused, ValueError):
        info = client.instance()
        last = info.last_deployment
        if last is not None and last.status in ("SUCCESS", "ERROR"):
            return info
    return None


def stop(
    members: Sequence[Member],
    processes: Sequence[subprocess.Popen[bytes]],
    timeout: float = STOP_TIMEOUT,
) -> None:
    """Ask every server to shut down, wait for them, and kill the ones that do not."""
    for process in processes:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for member, process in zip(members, processes, strict=False):
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            console.print(f"{member.name} did not stop within {timeout:g} s; killing it")
            process.kill()
            process.wait()


class _Stop(Exception):
    """SIGTERM (or SIGHUP) arrived: stop the fleet as Ctrl-C does."""


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    def handler(signum: int, _: FrameType | None) -> None:
        raise _Stop(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _show(
    repo: Path, members: Sequence[Member], login: Credentials, infos: dict[str, InstancePublic]
) -> None:
    token = login.token
    console.print(f"[green]✓[/] mirel is up: repository {escape(str(repo))}")
    for member in members:
        last = infos[member.name].last_deployment
        assert last is not None  # wait_ready returns deployed instances only
        state = f"deployed {str(last.commit_sha)[:12]}"
        if last.status != "SUCCESS":
            state = f"[red]deploy failed[/]: {escape('; '.join(last.errors)[:200])}"
        console.print(
            f"  {member.name:<8} {member.url}  manifest {member.name:<8} {state}  "
            f"[dim]log {escape(str(member.log))}[/]"
        )
    console.print(
        f"\nweb UI: open {members[0].url} and sign in as {login.username} with password "
        f"{login.password}\n"
        f"admin token (every scope, valid on all three): {token}\n"
        "  both valid on every instance and shown only now; the next 'mirel up' makes new ones\n",
        markup=False,
    )
    console.print("Try:", markup=False)
    console.print(
        f"  export MIREL_URL={members[0].url} MIREL_TOKEN={token} MIREL_REPO={repo}\n"
        "  mirel status          # what the instance serves\n"
        "  mirel matrix          # every element against every manifest\n"
        f'  curl -H "Authorization: Bearer $MIREL_TOKEN" {members[-1].url}/api/v2/elements\n',
        markup=False,
    )
    console.print("Press Ctrl-C to stop.", markup=False)
    sys.stdout.flush()


def run_fleet(
    folder: Path,
    port: int,
    *,
    ready_timeout: float = READY_TIMEOUT,
    announce: Announce = _show,
) -> None:
    """Start the fleet in `folder`, serve until Ctrl-C or SIGTERM, then stop it cleanly."""
    folder = folder.resolve()
    members = plan(folder, port)
    check_ports(members)
    hub = build_demo(folder)
    repo = hub.repo.path
    secret = secrets.token_urlsafe(32)
    hooks = hub.provider.hooks
    for member in members:
        # Registering again replaces the secret of the same URL: hooks of earlier runs on these
        # ports are reused, never duplicated.
        hooks.add(member.hook_url, secret)
    login = admin_credentials(members)
    processes: list[subprocess.Popen[bytes]] = []
    with _stop_on_signals():
        try:
            for member in members:
                processes.append(start(member, repo, secret))
            infos = wait_ready(members, processes, login.token, ready_timeout)
            announce(repo, members, login, infos)
            while True:
                _check_alive(members, processes)
                time.sleep(0.5)
        except (KeyboardInterrupt, _Stop):
            console.print("\nstopping dev, staging and prod ...", markup=False)
        finally:
            stop(members, processes)
    console.print("[green]✓[/] stopped")

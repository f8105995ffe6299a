"""`mirel serve` runs one instance (the REST API and the pages under uvicorn); `mirel up` runs
the embedded default of three (cli/fleet.py).

The application comes from the factory the installed command hands in (`Options.create_app`, set
by mirel.console): the command line never imports the server itself.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mirel.cli.base import AppFactory, common, options, stderr
from mirel.errors import InvalidInput
from mirel.settings import Settings, load_settings

if TYPE_CHECKING:
    from mirel.instance import Instance

# More workers than cores only adds memory: the limit keeps a typo from forking hundreds.
MAX_WORKERS = 64


def listen(host: str, port: int) -> socket.socket:
    """Return a socket bound to `host:port`, or raise InvalidInput saying how to free the port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, not left 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on
    # connections whose socket says TCP, and with it on, an answer written in two parts (headers,
    # then body) waits for the client's delayed acknowledgement: 40 ms per request.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    # As uvicorn does: a port left in TIME_WAIT by a stopped server can be taken again at once.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise InvalidInput(
            f"cannot listen on {host}:{port}: {error.strerror or error}; "
            "stop what uses it or pass --port with a free port"
        ) from error
    sock.set_inheritable(True)
    return sock


def _app_factory() -> AppFactory:
    """Return the server's application factory the command line was started with."""
    factory = options().create_app
    if factory is None:
        # A programming error, not a user's: only mirel.console's main can serve.
        raise RuntimeError("mirel serve needs create_app: run it through mirel.console.main")
    return factory


@click.command()
@common
@click.option("--manifest", help="The manifest to publish (or MIREL_MANIFEST).")
@click.option("--db", "database_url", metavar="URL", help="Database URL (or MIREL_DATABASE_URL).")
# Values are checked by the settings, so a bad one exits 1 with the same message as a bad
# MIREL_* variable.
@click.option("--port", help="Port to listen on (or MIREL_PORT; default 8600).")
@click.option("--host", help="Address to listen on (or MIREL_HOST; default 127.0.0.1).")
@click.option("--name", help="The instance's display name (or MIREL_NAME).")
@click.option(
    "--poll-interval",
    metavar="SECONDS",
    help="Seconds between polls of the default branch, 0 for none (or MIREL_POLL_INTERVAL).",
)
@click.option(
    "--webhook-secret",
    metavar="SECRET",
    help="Secret that signs webhooks (or MIREL_WEBHOOK_SECRET, which keeps it out of `ps`).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, MAX_WORKERS),
    default=1,
    show_default=True,
    envvar="MIREL_WORKERS",
    help="Worker processes sharing the port and the database; one of them polls "
    "(or MIREL_WORKERS).",
)
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
    envvar="MIREL_LOG_LEVEL",
    help="How much the server logs (or MIREL_LOG_LEVEL).",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    envvar="MIREL_LOG_FORMAT",
    help="Log lines for people, or one JSON object per line (or MIREL_LOG_FORMAT).",
)
def serve(
    manifest: str | None,
    database_url: str | None,
    port: str | None,
    host: str | None,
    name: str | None,
    poll_interval: str | None,
    webhook_secret: str | None,
    workers: int,
    log_level: str,
    log_format: str,
) -> None:
    """Run one instance: the REST API, deploys and the poller (settings: docs/settings.md)."""
    create_app = _app_factory()
    settings = load_settings(
        repo=options().repo,
        manifest=manifest,
        database_url=database_url,
        port=port,
        host=host,
        name=name,
        poll_interval=poll_interval,
        webhook_secret=webhook_secret,
    )
    sock = listen(settings.host, settings.port)
    try:
        # Imported once the settings are known to be good, so that bad ones fail at once.
        import logging.config

        from mirel.http.logs import log_config

        logging_setup = log_config(log_format, log_level)
        logging.config.dictConfig(logging_setup)
        server = _Server(create_app, settings, sock, (log_format, log_level), workers)
        if workers == 1:
            server.run(0)
            return
        from mirel.http.workers import run_workers

        # Each worker opens its own instance: nothing of a database, a repository or a thread
        # exists before the fork (docs/decisions.md, "Several workers").
        if run_workers(workers, server.run):
            raise SystemExit(1)
    finally:
        sock.close()


class _Server:
    """What one worker process runs: its own instance and application, under uvicorn."""

    def __init__(
        self,
        create_app: AppFactory,
        settings: Settings,
        sock: socket.socket,
        logs: tuple[str, str],
        workers: int,
    ) -> None:
        self.create_app = create_app
        self.settings = settings
        self.sock = sock
        self.log_format, self.log_level = logs
        self.workers = workers

    def run(self, index: int) -> None:
        """Serve as worker `index`: only worker 0 polls the default branch."""
        import uvicorn

        from mirel.http.logs import log_config
        from mirel.instance import Instance

        settings = self.settings
        if index > 0:
            settings = settings.model_copy(update={"poll_interval": 0.0})
        instance = Instance(settings)
        try:
            app = self.create_app(instance)
            if index == 0:
                self._announce(instance)
            config = uvicorn.Config(
                app,
                log_config=log_config(self.log_format, self.log_level),
                log_level=self.log_level,
                access_log=False,
                lifespan="on",
            )
            uvicorn.Server(config).run(sockets=[self.sock])
        finally:
            instance.close()

    def _announce(self, instance: Instance) -> None:
        settings = self.settings
        bound_port = self.sock.getsockname()[1]
        publishing = instance.state.selected_manifest() or "(no manifest)"
        workers = f" ({self.workers} workers)" if self.workers > 1 else ""
        started = (
            f"mirel instance {settings.name} on http://{settings.host}:{bound_port}{workers} "
            f"publishing {publishing} from {instance.hub.repo.location}"
        )
        if self.log_format == "json":
            import logging

            logging.getLogger("mirel.serve").info(started)
        else:
            stderr.print(started, markup=False)


@click.command()
@common
@click.option(
    "--dir",
    "folder",
    default="mirel-up",
    show_default=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Where the repository, databases and logs live (reused when it exists).",
)
@click.option(
    "--port",
    type=click.IntRange(1, 65533),
    default=8600,
    show_default=True,
    help="Port of dev; staging and prod take the next two.",
)
def up(folder: Path, port: int) -> None:
    """Run the embedded default: a demo repository and instances dev, staging and prod."""
    from mirel.cli.fleet import run_fleet

    run_fleet(folder, port)

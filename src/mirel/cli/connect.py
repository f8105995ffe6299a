"""`mirel connect PROVIDER`: store the connection to the repository's host in an instance's
database, as `PUT /api/v2/source_control/config` does (used from the instance's next start).

Secrets are never taken as arguments (they would stay in the shell's history and show in `ps`):
each `--secret NAME` is read from the terminal without echo, or, with `--secrets-stdin`, from
standard input as `NAME=VALUE` lines. They are stored encrypted with MIREL_SECRET_KEY.
"""

from __future__ import annotations

import getpass
import os
import sys

import click

from mirel.cli.admin import _database_url, database_option
from mirel.cli.base import common, emit, stdout
from mirel.errors import InvalidInput
from mirel.instance.connection import SECRET_FIELDS, SEED_PROVIDERS

# mirel's provider names -> the seed API's.
PROVIDERS = {kind: seed for seed, kind in SEED_PROVIDERS.items()}


def _pairs(given: tuple[str, ...], what: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for number, item in enumerate(given, 1):
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            # Never quoted: the line may be a secret written without its name.
            raise InvalidInput(f"{what} {number} is not NAME=VALUE")
        found[name.strip()] = value
    return found


def _secrets(names: tuple[str, ...], from_stdin: bool) -> dict[str, str]:
    if from_stdin:
        found = _pairs(tuple(line.strip() for line in sys.stdin if line.strip()), "secret line")
    else:
        found = {name: getpass.getpass(f"{name}: ") for name in names}
    unknown = sorted(set(found) - SECRET_FIELDS)
    if unknown:
        raise InvalidInput(
            f"{', '.join(unknown)} is not a secret field (those are "
            f"{', '.join(sorted(SECRET_FIELDS))}); give other fields with --field"
        )
    return found


def _fields(given: tuple[str, ...]) -> dict[str, str]:
    found = _pairs(given, "field")
    secret = sorted(set(found) & SECRET_FIELDS)
    if secret:
        raise InvalidInput(
            f"{', '.join(secret)} is a secret: give it with --secret NAME (asked for) or "
            "--secrets-stdin, never as an argument, which the shell's history and ps keep"
        )
    return found


@click.command()
@common
@database_option
@click.argument("provider", type=click.Choice(sorted(PROVIDERS)))
@click.option("--org", default="", help="The owner, group, workspace or organization.")
@click.option("--name", "repo_name", default="", help="The repository's name on the host.")
@click.option("--default-branch", default="main", show_default=True)
@click.option(
    "--field",
    "fields",
    multiple=True,
    metavar="NAME=VALUE",
    help="A field of the provider's `config` that is not a secret (url, project, region...).",
)
@click.option(
    "--secret",
    "secrets",
    multiple=True,
    metavar="NAME",
    help="A secret field (personal_access_token, project_access_token...), asked for.",
)
@click.option("--secrets-stdin", is_flag=True, help="Read the secrets from stdin, NAME=VALUE.")
def connect(
    database_url: str | None,
    provider: str,
    org: str,
    repo_name: str,
    default_branch: str,
    fields: tuple[str, ...],
    secrets: tuple[str, ...],
    secrets_stdin: bool,
) -> None:
    """Connect an instance to its repository's host (docs/remote.md lists each provider's
    fields); the instance uses it from its next start."""
    from mirel.db.engine import open_database
    from mirel.instance.source_control import SecretBox, SourceControlStore

    config: dict[str, str] = {**_fields(fields), **_secrets(secrets, secrets_stdin)}
    if provider == "github":
        config.setdefault("type", "Personal")
    body = {
        "provider": PROVIDERS[provider],
        "org": org,
        "repo": repo_name,
        "default_branch": default_branch,
        "config": config,
    }
    box = SecretBox(os.environ.get("MIREL_SECRET_KEY") or None)
    with open_database(_database_url(database_url)) as database:
        stored = SourceControlStore(database.sessions, box).put_config(body)

    def human() -> None:
        where = "/".join(part for part in (org, repo_name) if part) or config.get("url", "")
        stdout.print(
            f"connected to {PROVIDERS[provider]} {where}; restart the instance to use it",
            markup=False,
        )

    emit(stored, human)

"""The CLI reference (docs/cli.md), generated from the commands' own `--help`."""

from __future__ import annotations

import click

from mirel.cli.main import cli

HEADER = (
    "# Command-line reference\n\n"
    "Generated from `mirel --help` by `python -m mirel.cli.reference > docs/cli.md`; a test checks "
    "that this file is up to date.\n"
)


def _walk(command: click.Command, path: list[str]) -> list[tuple[list[str], click.Command]]:
    found = [(path, command)]
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            found.extend(_walk(command.commands[name], [*path, name]))
    return found


def render() -> str:
    """Return the whole reference as Markdown."""
    parts = [HEADER]
    for path, command in _walk(cli, ["mirel"]):
        with click.Context(command, info_name=" ".join(path), terminal_width=100) as ctx:
            text = command.get_help(ctx)
        parts.append(f"\n## {' '.join(path)}\n\n```\n{text}\n```\n")
    return "".join(parts)


if __name__ == "__main__":
    print(render(), end="")

"""The CLI reference (docs/cli.md), generated from the commands' own `--help`."""

from __future__ import annotations

import click

from mirel.cli.main import cli

HEADER = (
    "# Command-line reference\n\n"
    "Generated from `mirel --help` by `python -m mirel.cli.reference > docs/cli.md`; a test checks "
    "that this file is up to date.\n"
)


def _render(
    command: click.Command, path: list[str], parent: click.Context | None, parts: list[str]
) -> None:
    # Each context has its parent, as when the command runs, so that inherited settings (`-h`
    # as a help option) show, and the text does not depend on what ran before in this process.
    settings = {**command.context_settings, "terminal_width": 100}
    with click.Context(command, info_name=path[-1], parent=parent, **settings) as ctx:
        parts.append(f"\n## {' '.join(path)}\n\n```\n{command.get_help(ctx)}\n```\n")
        if isinstance(command, click.Group):
            # Through the group's own listing: the root loads its commands when asked.
            for name in sorted(command.list_commands(ctx)):
                found = command.get_command(ctx, name)
                assert found is not None
                _render(found, [*path, name], ctx, parts)


def render() -> str:
    """Return the whole reference as Markdown."""
    parts = [HEADER]
    _render(cli, ["mirel"], None, parts)
    return "".join(parts)


if __name__ == "__main__":
    print(render(), end="")

"""`python -m mirel` runs the command line."""

from mirel.cli.main import run

run()

"""`python -m mirel` runs the command line, as the installed `mirel` command does."""

from mirel.console import run

run()

"""`mirel init` without --author or MIREL_AUTHOR takes the author of the user's git configuration.

Run in a child process: libgit2 reads where the global configuration is once per process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pygit2


def _init(home: Path, repo: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "MIREL_AUTHOR"}
    env |= {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    return subprocess.run(
        [sys.executable, "-m", "mirel", "init", str(repo)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_init_takes_the_author_from_the_global_git_configuration(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("[user]\n\tname = Gal Author\n\temail = gal@example.org\n")
    result = _init(home, tmp_path / "hub.git")
    assert result.returncode == 0, result.stderr
    head = pygit2.Repository(str(tmp_path / "hub.git")).head.peel(pygit2.Commit)
    assert (head.author.name, head.author.email) == ("Gal Author", "gal@example.org")


def test_init_without_any_author_says_how_to_give_one(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    result = _init(home, tmp_path / "hub.git")
    assert result.returncode == 1
    assert (
        result.stderr
        == "error: no author known; pass --author 'Name <email>' or set MIREL_AUTHOR\n"
    )
    assert not (tmp_path / "hub.git").exists()

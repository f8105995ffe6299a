"""Large blobs cost nothing before they are refused (issue 11, item 4): a 300 MiB file in a
working folder and a 300 MiB non-zip at a release path, pushed with plain git, make a real
`mirel serve` fail its deploy naming each file, and `mirel validate` name them, with the peak
memory of each process within 50 MB of what the same work costs on a healthy repository.

The limit is MIREL_MAX_ARTIFACT_BYTES (256 MiB by default): a blob over it is refused from its
git object header, never read."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pygit2
import pytest
from e2e_support import Api, child_environment, start_server, stop
from test_body_limits_live import MB, peak_rss

from mirel.db.engine import open_database
from mirel.hub.demo import build_demo
from mirel.instance.accounts.tokens import SCOPES, create_token

pytestmark = pytest.mark.slow

HUGE_BYTES = 300 * 1024 * 1024  # zeros: almost nothing in git, 300 MiB once inflated
ALLOWED_GROWTH = 50 * MB

# Runs `mirel validate` and prints the process's peak memory (Linux's VmHWM, in kB) at exit.
VALIDATE = """
import atexit, sys
from mirel.console import main
def peak():
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM:'):
            print('PEAK', line.split()[1], file=sys.stderr)
atexit.register(peak)
sys.exit(main(['validate', '--repo', sys.argv[1]]))
"""


def push(repo: Path, files: dict[str, bytes], message: str) -> None:
    """Commit `files` on main as a plain `git push` would: no mirel check runs."""
    git = pygit2.Repository(str(repo))
    head = git.references["refs/heads/main"].peel(pygit2.Commit)
    index = pygit2.Index()
    index.read_tree(head.tree)
    for path, data in files.items():
        index.add(pygit2.IndexEntry(path, git.create_blob(data), pygit2.GIT_FILEMODE_BLOB))
    author = pygit2.Signature("Pusher", "pusher@example.com")
    git.create_commit("refs/heads/main", author, author, message, index.write_tree(git), [head.id])


def validate(repo: Path) -> tuple[int, str, int]:
    """Return `mirel validate`'s exit code, its output and its peak memory in bytes."""
    done = subprocess.run(
        [sys.executable, "-c", VALIDATE, str(repo)],
        capture_output=True,
        text=True,
        env=child_environment(),
        timeout=300,
    )
    peaks = [line.split()[1] for line in done.stderr.splitlines() if line.startswith("PEAK ")]
    assert peaks, done.stderr
    return done.returncode, done.stdout + done.stderr, int(peaks[-1]) * 1024


def test_huge_blobs_are_refused_unread_by_deploys_and_validate(tmp_path: Path) -> None:
    huge = bytes(HUGE_BYTES)  # made here, not at import: collecting the suite costs nothing
    hub = build_demo(tmp_path / "demo")
    repo = hub.repo.path
    billing = hub.catalog.element("billing").uuid
    artifact = f"dist/apps/{billing}/9.9.9.zip"
    healthy_code, healthy_output, healthy_peak = validate(repo)
    assert healthy_code == 0, healthy_output
    database_url = f"sqlite:///{tmp_path / 'prod.db'}"
    with open_database(database_url) as database:
        token = create_token(database.sessions, "e2e", list(SCOPES))
    process, output, url = start_server(repo, database_url, extra=("--poll-interval", "0"))
    api = Api(url, token)
    try:
        assert api.post("/source_control/deploy")["status"] == "SUCCESS"
        before = peak_rss(process.pid)
        # status-board is in no manifest: it is served at its working version.
        push(repo, {"apps/status-board/video.bin": huge}, "a huge working file")
        failed = api.post("/source_control/deploy")
        assert failed["status"] == "ERROR", failed
        assert any("apps/status-board" in error for error in failed["errors"]), failed["errors"]
        prod = (hub.snapshot().read("manifests/prod.yaml") or b"").decode()
        pinned = prod.replace(
            f"uuid: {billing}\n    release: 0.1.0", f"uuid: {billing}\n    release: 9.9.9"
        )
        assert pinned != prod
        push(repo, {artifact: huge, "manifests/prod.yaml": pinned.encode()}, "a huge artifact")
        failed = api.post("/source_control/deploy")
        assert failed["status"] == "ERROR", failed
        assert any(artifact in error for error in failed["errors"]), failed["errors"]
        assert all("internal error" not in error for error in failed["errors"])
        grown = peak_rss(process.pid) - before
        assert grown < ALLOWED_GROWTH, f"the server grew by {grown / MB:.0f} MB"
        # Nothing changed: the instance serves what it served before either push.
        assert api.get(f"/elements/{billing}")["live_release"] == "0.1.0"
    finally:
        api.close()
        stop(process, output)
    assert "Traceback" not in output.text()
    code, said, peak = validate(repo)
    assert code != 0
    assert "apps/status-board: holds 314,572,998 bytes, over the" in said, said
    assert artifact in said, said
    assert peak - healthy_peak < ALLOWED_GROWTH, (
        f"validate grew by {(peak - healthy_peak) / MB:.0f} MB"
    )

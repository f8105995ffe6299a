"""Memory of a real instance: the resident size of `mirel serve` after the benchmark's requests.

    python benchmarks/memory.py REPO DATABASE_URL UUID

`measure_memory` starts `mirel serve` (one worker) over a repository and an instance database,
waits for its first deploy, then asks what the benchmark asks in process: the whole matrix
(`GET /source_control/elements`, three times), one element's releases and what is live, and the
pages people open most (the home page, the Releases tab, one element's page, the pull requests),
signed in. It then reads the server's resident set size (VmRSS) and its peak (VmHWM) from
/proc. The goal of issue 12: under 300 MB at the design size.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
from serving import _mirel_command, _plain_env, _token, _wait_for, _wait_served, free_port

from mirel.db.engine import open_database
from mirel.instance.accounts.sessions import open_session
from mirel.instance.accounts.users import create_user

NAME = "memory"
MANIFEST = "prod"
GOAL_MB = 300


def _resident_mb(pid: int) -> tuple[float, float]:
    """Return the resident set size of a process and its peak, in MB (10^6 bytes)."""
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) * 1024 / 1e6
    return fields["VmRSS"], fields["VmHWM"]


def _session_cookie(database_url: str) -> dict[str, str]:
    with open_database(database_url) as database:
        user = create_user(database.sessions, "memory-bench", "memory-bench-password", "viewer")
        # cookie_name() needs an Instance; its rule is mirel_session_<name> for a plain name.
        return {f"mirel_session_{NAME}": open_session(database.sessions, user)}


def _ask(base: str, token: str, cookies: dict[str, str], uuid: str, element_page: str) -> None:
    bearer = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, timeout=600) as client:
        api = [
            *(["/api/v2/source_control/elements"] * 3),
            f"/api/v2/source_control/releases/{uuid}",
            *([f"/api/v2/elements/{uuid}"] * 20),
        ]
        for path in api:
            client.get(path, headers=bearer).raise_for_status()
        for path in ("/", "/settings/releases", element_page, "/pulls"):
            client.get(path, cookies=cookies).raise_for_status()


def measure_memory(
    repo: Path, database_url: str, uuid: str, element_page: str
) -> list[dict[str, object]]:
    """Return the resident size of `mirel serve` after the requests, and its peak.

    `uuid` must be an element `prod` pins and `element_page` its page (`/elements/app/<name>`).
    """
    token = _token(database_url)
    cookies = _session_cookie(database_url)
    port = free_port()
    env = {
        **_plain_env(),
        "MIREL_REPO": str(repo),
        "MIREL_DATABASE_URL": database_url,
        "MIREL_MANIFEST": MANIFEST,
        "MIREL_PORT": str(port),
        "MIREL_NAME": NAME,
        "MIREL_POLL_INTERVAL": "3600",
    }
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="mirel-memory-") as folder:
        log = Path(folder) / "serve.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [*_mirel_command(), "serve"], env=env, stdout=output, stderr=output
            )
        try:
            _wait_for(f"{base}/healthz", process, log)
            _wait_served(f"{base}/api/v2/elements/{uuid}", token)
            _ask(base, token, cookies, uuid, element_page)
            resident, peak = _resident_mb(process.pid)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
    note = "mirel serve after the benchmark's requests (VmRSS, MB)"
    return [
        {
            "what": "memory of an instance, resident",
            "value": resident,
            "unit": "MB",
            "note": note,
            "goal": f"< {GOAL_MB} MB",
        },
        {
            "what": "memory of an instance, peak",
            "value": peak,
            "unit": "MB",
            "note": "its highest resident size (VmHWM)",
        },
    ]


def main(argv: list[str] | None = None) -> int:
    """Print the memory rows for a repository, a database and an element."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 4:
        print(__doc__.split("\n\n", 1)[0] + "\nusage: memory.py REPO DB_URL UUID ELEMENT_PAGE")
        return 2
    for row in measure_memory(Path(args[0]), args[1], args[2], args[3]):
        print(f"{row['what']}: {row['value']:.0f} {row['unit']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

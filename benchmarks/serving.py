"""Requests per second through real `mirel serve` processes, beside a bare FastAPI route.

    python benchmarks/serving.py              # a small generated repository, workers 1 and 2
    python benchmarks/serving.py --workers 2 --seconds 10
    python benchmarks/serving.py --workers 2 --rounds 3   # best of three, each after the floor

`measure_serving` starts `mirel serve --workers N` on loopback over a repository and an instance
database, creates an API token in that database, and runs wrk (16 connections) against
- GET /api/v2/elements/{uuid} with the token (a route reading the database and the live state);
- the same address without a token (a 401 answer: the auth and error path alone);
- GET /static/mirel.css (a static file: the middleware stack and nothing else).

The floor is a bare FastAPI route (a sync `def` answering a small JSON object, so it pays the
thread-pool hop mirel's routes pay) under the same uvicorn with the same worker count, measured
in the same run, right before each address. mirel logs at its default level (info: one access
line per request, to a file), since that is what an operator runs.

Each figure is a row: `value` with `unit` "req/s" for rates, `seconds` for latencies (p50, p99),
and `floor` the bare route's figure measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi import FastAPI

HERE = Path(__file__).resolve().parent
CONNECTIONS = 16
MANIFEST = "prod"

floor_app = FastAPI()


@floor_app.get("/floor")
def floor_route() -> dict[str, object]:
    """The floor: a route doing no work of its own."""
    return {"data": {"status": "ok"}, "errors": []}


@dataclass(frozen=True)
class Load:
    """What wrk measured for one address."""

    requests_per_second: float
    p50: float
    p99: float
    failed: int  # answers that were not 2xx/3xx


_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def _seconds(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"wrk printed an unknown latency {text!r}")
    return float(match[1]) * _UNITS[match[2]]


def parse_wrk(output: str) -> Load:
    """Return the rate, p50, p99 and failed answers of wrk --latency's report."""
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    if rate is None or p50 is None or p99 is None:
        raise RuntimeError(f"wrk's report is not understood:\n{output}")
    failed = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors:.*?timeout (\d+)", output)
    return Load(
        requests_per_second=float(rate[1]),
        p50=_seconds(p50[1]),
        p99=_seconds(p99[1]),
        failed=(int(failed[1]) if failed else 0) + (int(errors[1]) if errors else 0),
    )


def wrk(url: str, seconds: float, headers: dict[str, str] | None = None) -> Load:
    """Return what wrk measures at `url` with CONNECTIONS connections for `seconds`."""
    command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{max(1, round(seconds))}s", "--latency"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    done = subprocess.run(
        [*command, url], capture_output=True, text=True, check=True, timeout=seconds + 60
    )
    return parse_wrk(done.stdout)


def free_port() -> int:
    """Return a loopback port free at the time of asking."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _wait_for(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited ({process.returncode}):\n{log.read_text()}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"no answer 200 at {url} within 120 s:\n{log.read_text()}")


@contextmanager
def running(command: list[str], env: dict[str, str], ready: str, log: Path) -> Iterator[None]:
    """Run `command` until the block ends (SIGTERM, then SIGKILL), once `ready` answers 200."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, env=env, stdin=subprocess.DEVNULL, stdout=output, stderr=output
        )
    try:
        _wait_for(ready, process, log)
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _mirel_command() -> list[str]:
    installed = Path(sys.executable).with_name("mirel")
    return [str(installed)] if installed.exists() else [sys.executable, "-m", "mirel"]


def _plain_env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith("MIREL_")}


def _token(database_url: str) -> str:
    from mirel.db.engine import open_database
    from mirel.instance.accounts.tokens import SCOPES, create_token

    with open_database(database_url) as database:
        return create_token(database.sessions, "serving benchmark", list(SCOPES))


def _rows(what: str, load: Load, floor: Load, note: str) -> list[dict[str, object]]:
    return [
        {
            "what": f"{what}: rate",
            "value": load.requests_per_second,
            "unit": "req/s",
            "floor": floor.requests_per_second,
            "note": note,
        },
        {"what": f"{what}: p50", "seconds": load.p50, "floor": floor.p50, "note": note},
        {"what": f"{what}: p99", "seconds": load.p99, "floor": floor.p99, "note": note},
    ]


def _floor_command(port: int, workers: int) -> list[str]:
    command = [sys.executable, "-m", "uvicorn", "--app-dir", str(HERE), "serving:floor_app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    return [*command, "--no-access-log", *(["--workers", str(workers)] if workers > 1 else [])]


def measure_floor(workers: int, seconds: float, work: Path) -> Load:
    """Return wrk's figures for the bare route under uvicorn with `workers` processes."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/floor"
    with running(_floor_command(port, workers), _plain_env(), url, work / f"floor-{workers}.log"):
        wrk(url, 1)  # warm-up
        return wrk(url, seconds)


def measure_serving(
    repo: Path,
    database_url: str,
    uuid: str,
    workers: int,
    *,
    seconds: float = 5.0,
    manifest: str = MANIFEST,
    rounds: int = 1,
) -> list[dict[str, object]]:
    """Return the rows of three requests through `mirel serve --workers N` and the floor.

    `uuid` must be an element `manifest` pins; the server deploys it when it starts (its
    poller's first poll) and the measure waits until it is served. The floor's server runs
    beside mirel's and each address is measured right after the floor, `rounds` times, keeping
    the best of each: on a shared machine the load changes within seconds, and a floor
    measured once, before everything, made the ratios tell more about the load than about mirel.
    """
    token = _token(database_url)
    work = Path(tempfile.mkdtemp(prefix="mirel-serving-"))
    try:
        floor_port, port = free_port(), free_port()
        floor = f"http://127.0.0.1:{floor_port}/floor"
        env = {
            **_plain_env(),
            "MIREL_REPO": str(repo),
            "MIREL_DATABASE_URL": database_url,
            "MIREL_MANIFEST": manifest,
            "MIREL_PORT": str(port),
            "MIREL_NAME": "serving",
            # The first poll deploys; later ones would only add noise.
            "MIREL_POLL_INTERVAL": "3600",
        }
        command = [*_mirel_command(), "serve"]
        if workers != 1:
            command += ["--workers", str(workers)]
        base = f"http://127.0.0.1:{port}"
        element = f"{base}/api/v2/elements/{uuid}"
        floor_log = work / f"floor-{workers}.log"
        with (
            running(_floor_command(floor_port, workers), _plain_env(), floor, floor_log),
            running(command, env, f"{base}/healthz", work / "serve.log"),
        ):
            _wait_served(element, token)
            addresses = _Addresses(base, element, token, floor)
            return _measure_three(addresses, workers, seconds, max(1, rounds))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _wait_served(element: str, token: str) -> None:
    deadline = time.monotonic() + 600
    headers = {"Authorization": f"Bearer {token}"}
    while httpx.get(element, headers=headers, timeout=30).status_code != 200:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{element} is not served after the first deploy")
        time.sleep(0.2)


@dataclass(frozen=True)
class _Addresses:
    base: str
    element: str
    token: str
    floor: str


def _best(loads: list[Load]) -> Load:
    return max(loads, key=lambda load: load.requests_per_second)


def _measure_three(
    addresses: _Addresses, workers: int, seconds: float, rounds: int
) -> list[dict[str, object]]:
    bearer = {"Authorization": f"Bearer {addresses.token}"}
    asks = [
        ("GET /api/v2/elements/{uuid}", addresses.element, bearer, False),
        ("a 401 answer (no token)", addresses.element, None, True),
        ("GET /static/mirel.css", f"{addresses.base}/static/mirel.css", None, False),
    ]
    rows: list[dict[str, object]] = []
    note = f"mirel serve --workers {workers}, wrk {CONNECTIONS} connections, {seconds:g} s"
    if rounds > 1:
        note += f", best of {rounds} (each after the floor)"
    wrk(addresses.floor, 1)  # warm-up
    for what, url, headers, refused in asks:
        wrk(url, 1, headers)  # warm-up
        floors: list[Load] = []
        loads: list[Load] = []
        for _ in range(rounds):
            floors.append(wrk(addresses.floor, seconds))
            loads.append(wrk(url, seconds, headers))
        load = _best(loads)
        if not refused and load.failed:
            raise RuntimeError(f"{what}: {load.failed} failed answers")
        plural = "s" if workers > 1 else ""
        rows += _rows(f"{what}, {workers} worker{plural}", load, _best(floors), note)
    return rows


def demo(work: Path, elements: int) -> tuple[Path, str, str]:
    """Return a generated repository, a new SQLite database URL and an element prod pins."""
    from generate import generate

    generated = generate(work / "hub.git", elements=elements, releases=5, manifests=3)
    return generated.hub.repo.path, f"sqlite:///{work / 'instance.db'}", generated.elements[0].uuid


def table(rows: list[dict[str, object]]) -> str:
    """Return the rows as a Markdown table."""
    lines = ["| what | mirel | floor | ratio |", "|---|---:|---:|---:|"]
    for row in rows:
        floor = float(str(row["floor"]))
        if "value" in row:
            value = float(str(row["value"]))
            shown, floor_shown, ratio = f"{value:,.0f} req/s", f"{floor:,.0f}", value / floor
        else:
            value = float(str(row["seconds"]))
            shown, floor_shown, ratio = (
                f"{value * 1000:.1f} ms",
                f"{floor * 1000:.1f}",
                value / floor,
            )
        lines.append(f"| {row['what']} | {shown} | {floor_shown} | {ratio:.2f}× |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--workers", type=int, action="append", help="Worker counts (default 1 and 2)."
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="Seconds of load per address.")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="Measures of each address (and the floor) to keep the best of.",
    )
    parser.add_argument("--elements", type=int, default=50, help="Elements of the demo repository.")
    parser.add_argument("--json", action="store_true", help="Print the rows as JSON.")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mirel-serving-demo-") as folder:
        repo, database_url, uuid = demo(Path(folder), args.elements)
        rows: list[dict[str, object]] = []
        for workers in args.workers or [1, 2]:
            rows += measure_serving(
                repo, database_url, uuid, workers, seconds=args.seconds, rounds=args.rounds
            )
    print(json.dumps(rows, indent=2) if args.json else table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())

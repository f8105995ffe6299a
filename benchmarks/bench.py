"""mirel's benchmark: the costs SPEC.md §9 cares about, on a generated repository of a chosen size.

    python benchmarks/bench.py                       # the design size: 2,000 × 50 × 20
    python benchmarks/bench.py --quick               # 200 elements × 10 releases × 5 manifests
    python benchmarks/bench.py --quick --postgres postgresql://postgres@127.0.0.1:5432/postgres

It generates the repository (benchmarks/generate.py writes git objects directly), then measures,
on a new instance database (a SQLite file, or with --postgres a database created on that server and
dropped afterwards):

- a cold deploy: a new instance publishing `prod`, which unpacks one artifact per element;
- a deploy of an unchanged commit (nothing to do);
- a deploy after one pin changed (one artifact to unpack);
- GET /api/v2/source_control/elements (every element, its releases and pins), in process through
  httpx's ASGI transport, cold then warm;
- GET /api/v2/source_control/releases/{uuid} and GET /api/v2/elements/{uuid}: one element's
  requests, which must not grow with the repository;
- the web pages people open most, signed in, in process: the home page (a page of 50 elements),
  one element's Releases and history, the Releases tab (a page of 50 elements against every
  manifest, then filtered by one name) and the pull requests;
- creating one release (Hub.create_release: build the artifact, branch, pull request).

It prints a table (and --json a JSON document) of wall-clock seconds. Figures are for comparing
changes on one machine; docs/benchmarks.md keeps the ones measured when it was last run.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import platform
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import floors
import httpx
import memory
import merge_to_live
import serving
import startup
from generate import AUTHOR, Generated, GeneratedElement, generate

from mirel.core.manifest import LATEST
from mirel.core.versions import Bump
from mirel.instance import Deployment, Instance
from mirel.instance.accounts.sessions import open_session
from mirel.instance.accounts.tokens import SCOPES, create_token
from mirel.instance.accounts.users import create_user
from mirel.server import create_app
from mirel.settings import load_settings
from mirel.web.auth import cookie_name

MANIFEST = "prod"


@dataclass
class Row:
    """One measured figure, with the floor of the same work measured in the same run."""

    what: str
    seconds: float  # the figure: seconds, or another unit's value (see `unit`)
    note: str = ""
    floor: float | None = None
    goal: str = ""
    unit: str = "s"

    @property
    def ratio(self) -> float | None:
        """Return the figure over its floor (for a rate, the floor over the figure: either way
        1.0 is as fast as the floor and more is slower)."""
        if self.floor is None or self.floor <= 0 or self.seconds <= 0:
            return None
        return self.floor / self.seconds if self.unit == "req/s" else self.seconds / self.floor

    def shown(self, value: float | None) -> str:
        """Return a value of this row as the table shows it."""
        if value is None:
            return ""
        if self.unit == "s":
            return f"{value:.3f}"
        return f"{value:,.0f} {self.unit}"


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    """Return the seconds `function` took and what it returned."""
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def _instance(repo: Path, database_url: str) -> Instance:
    settings = load_settings(
        repo=str(repo),
        database_url=database_url,
        manifest=MANIFEST,
        poll_interval=0,
        name="bench",
    )
    return Instance(settings)


def _deploy(instance: Instance) -> Deployment:
    deployment = instance.deployer.deploy("bench")
    if deployment.status != "SUCCESS":
        raise SystemExit(f"deploy failed: {deployment.errors[:3]}")
    return deployment


async def _get(client: httpx.AsyncClient, path: str) -> float:
    start = time.perf_counter()
    answer = await client.get(path)
    took = time.perf_counter() - start
    if answer.status_code != 200:
        raise SystemExit(f"GET {path}: HTTP {answer.status_code}: {answer.text[:300]}")
    return took


def _pin_other_release(generated: Generated, element: GeneratedElement) -> None:
    """Merge a change of `element`'s pin in the benchmark's manifest to another release."""
    hub = generated.hub
    current = hub.catalog.manifest(MANIFEST).find(element.uuid)
    assert current is not None
    # Another release than the one served: `latest` serves the highest, so the lowest differs.
    other = next(v for v in element.versions if v != current[1].release)
    if current[1].release == LATEST:
        other = element.versions[0]
    pull = hub.manifests.set_pin(MANIFEST, element.uuid, other, AUTHOR).pull_request
    assert pull is not None
    hub.pulls.merge(pull.number, AUTHOR)


def measure_one_pin(instance: Instance, generated: Generated, repeat: int) -> list[Row]:
    """Return the median deploy after one pin changed (each time another element's) and the
    median merge of that change, with the floor of the last one."""
    deploys: list[float] = []
    merges: list[float] = []
    notes: set[str] = set()
    for element in generated.elements[: max(1, min(repeat, len(generated.elements) - 2))]:
        merges.append(timed(functools.partial(_pin_other_release, generated, element))[0])
        unpacked = instance.deployer.unpacked_count
        took, deployment = timed(lambda: _deploy(instance))
        deploys.append(took)
        notes.add(
            f"{len(deployment.changes)} element switched, "
            f"{instance.deployer.unpacked_count - unpacked} artifact unpacked"
        )
    path = str(generated.hub.repo.path)
    floor = floors.one_pin(path, MANIFEST, element.kind.plural, element.uuid)
    return [
        Row(
            "deploy, one pin changed",
            statistics.median(deploys),
            f"median of {len(deploys)}; " + "; ".join(sorted(notes)),
            floor=floor,
            goal="≤ 2× floor",
        ),
        Row(
            "change one pin and merge it",
            statistics.median(merges),
            f"median of {len(merges)}; branch, pull request, merge (local)",
        ),
    ]


def measure_api(
    instance: Instance, generated: Generated, repeat: int, matrix_floor: float
) -> list[Row]:
    """Return the timings of the API requests, in process."""
    token = create_token(instance.sessions, "bench", list(SCOPES))
    app = create_app(instance)
    uuid = generated.elements[0].uuid
    matrix = "/api/v2/source_control/elements"

    async def run() -> list[Row]:
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", headers=headers, timeout=None
        ) as client:
            rows = [
                Row(
                    "GET /source_control/elements, first of the process",
                    await _get(client, matrix),
                    "every element, release and pin",
                    floor=matrix_floor,
                )
            ]
            warm = [await _get(client, matrix) for _ in range(repeat)]
            rows.append(
                Row(
                    "GET /source_control/elements, warm",
                    statistics.median(warm),
                    "median: the same commit, answered as computed",
                    goal="p50 < 0.1 s",
                )
            )
            _pin_other_release(generated, generated.elements[1])
            rows.append(
                Row(
                    "GET /source_control/elements, first after a change",
                    await _get(client, matrix),
                    "after a merge changed one pin",
                    floor=matrix_floor,
                    goal="≤ 1.5× floor",
                )
            )
            for label, path in (
                ("GET /source_control/releases/{uuid}", f"/api/v2/source_control/releases/{uuid}"),
                ("GET /elements/{uuid}", f"/api/v2/elements/{uuid}"),
            ):
                await _get(client, path)
                times = [await _get(client, path) for _ in range(repeat)]
                rows.append(Row(label, statistics.median(times), "median, one element"))
            return rows

    return asyncio.run(run())


def measure_pages(instance: Instance, element: GeneratedElement, repeat: int) -> list[Row]:
    """Return the timings of the pages, in process, for a signed-in viewer."""
    user = create_user(instance.sessions, "bench", "bench-password", "viewer")
    cookies = {cookie_name(instance): open_session(instance.sessions, user)}
    app = create_app(instance)
    base = f"/elements/{element.kind.name}/{element.name}"

    async def run() -> list[Row]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", cookies=cookies, timeout=None
        ) as client:
            rows = []
            for label, path, note in (
                ("page /", "/", "the instance and 50 of its elements"),
                (f"page {base}/releases", f"{base}/releases", "one element, its releases"),
                ("page /settings/releases", "/settings/releases", "50 elements × every manifest"),
                (
                    "page /settings/releases?q=",
                    f"/settings/releases?q={element.name}",
                    "filtered to one element",
                ),
                ("page /pulls", "/pulls", "the newest 50 pull requests"),
            ):
                await _get(client, path)
                times = [await _get(client, path) for _ in range(repeat)]
                rows.append(
                    Row(
                        label.replace(base, "/elements/{kind}/{name}"),
                        statistics.median(times),
                        f"median; {note}",
                        goal="p50 < 0.05 s" if path == "/settings/releases" else "",
                    )
                )
            return rows

    return asyncio.run(run())


def run(args: argparse.Namespace) -> list[Row]:
    """Generate the repository, measure, and return the rows."""
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="mirel-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    say: Callable[[str], None] = (lambda _: None) if args.json else _progress
    rows: list[Row] = []
    try:
        repo = work / "hub.git"
        if repo.exists():
            shutil.rmtree(repo)
        took, generated = timed(
            lambda: generate(
                repo,
                elements=args.elements,
                releases=args.releases,
                manifests=args.manifests,
                progress=say,
            )
        )
        artifacts = args.elements * args.releases
        rows.append(Row("generate the repository", took, f"{artifacts} artifacts (not mirel)"))

        with fresh_database(args.postgres, work) as database_url:
            rows += measure_instance(generated, database_url, args.repeat, say)
            if not args.skip_servers:
                rows += measure_servers(args, generated, database_url, work, say)

        say("create a release")
        element = generated.elements[-1]
        took, _ = timed(
            lambda: generated.hub.releases.create(
                element.name, AUTHOR, bump=Bump.MINOR, allow_same=True
            )
        )
        rows.append(Row("create one release", took, "artifact, branch and pull request"))
        return rows
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


@contextmanager
def fresh_database(postgres: str | None, work: Path) -> Iterator[str]:
    """Yield the URL of a new, empty instance database, removed afterwards."""
    if postgres is None:
        path = work / "bench.db"
        for leftover in work.glob("bench.db*"):
            leftover.unlink()
        yield f"sqlite:///{path}"
        return
    import psycopg

    name = f"mirel_bench_{secrets.token_hex(4)}"
    admin = postgres.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def measure_instance(
    generated: Generated, database_url: str, repeat: int, say: Callable[[str], None]
) -> list[Row]:
    """Return the timings of the deploys and API requests of a new instance publishing prod."""
    hub = generated.hub
    say("cold deploy")
    # The floor first: both then read git objects the system's page cache already holds (a cold
    # deploy is one on an empty database, not one on a machine that never read the repository).
    cold_floor = floors.cold_deploy(str(hub.repo.path), MANIFEST)
    instance = _instance(hub.repo.path, database_url)
    try:
        took, deployment = timed(lambda: _deploy(instance))
        rows = [
            Row(
                "deploy, cold",
                took,
                f"{len(deployment.changes)} elements switched, "
                f"{instance.deployer.unpacked_count} artifacts unpacked",
                floor=cold_floor,
                goal="≤ 2× floor",
            )
        ]
        say("deploy of an unchanged commit")
        took, _ = timed(lambda: _deploy(instance))
        rows.append(Row("deploy, unchanged commit", took, "nothing to do"))

        say("deploy after one pin changed")
        rows += measure_one_pin(instance, generated, repeat)

        say("API requests")
        matrix_floor = floors.matrix(str(hub.repo.path))
        rows.extend(measure_api(instance, generated, repeat, matrix_floor))
        say("pages")
        rows.extend(measure_pages(instance, generated.elements[0], repeat))
        return rows
    finally:
        instance.close()


def measure_merge_to_live(merges: int, work: Path) -> list[Row]:
    """Return merge-to-live across three `mirel serve` processes on a loopback git host."""
    folder = work / "merge-to-live"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    results = merge_to_live.run(argparse.Namespace(merges=merges, poll_interval=1.0), folder)
    note = f"{merges} merges, three instances; "
    webhook, polling = results["webhook"], results["polling"]
    return [
        Row("merge-to-live, deploy hook, p50", webhook["p50"], note + "webhook", goal="< 0.5 s"),
        Row("merge-to-live, deploy hook, p99", webhook["p99"], note + "webhook", goal="< 1.5 s"),
        Row("merge-to-live, polling every 1 s, p50", polling["p50"], note + "no webhook"),
        Row("merge-to-live, polling every 1 s, p99", polling["p99"], note + "no webhook"),
    ]


def measure_servers(
    args: argparse.Namespace,
    generated: Generated,
    database_url: str,
    work: Path,
    say: Callable[[str], None],
) -> list[Row]:
    """Return the figures of real processes: requests per second through `mirel serve`, its
    memory, merge-to-live across three instances and the command line's start-up."""
    element = generated.elements[0]
    repo = generated.hub.repo.path
    say("requests per second (mirel serve --workers 2, wrk)")
    served = serving.measure_serving(repo, database_url, element.uuid, 2, seconds=args.seconds)
    say("memory of mirel serve")
    page = f"/elements/{element.kind.name}/{element.name}"
    rows = [
        _row_of(row)
        for row in served + memory.measure_memory(repo, database_url, element.uuid, page)
    ]
    say("merge-to-live")
    rows += measure_merge_to_live(args.merges, work)
    say("command-line start-up")
    rows += [_row_of(row) for row in startup.measure_startup(args.runs)]
    return rows


# The goals of issue 12 for the figures of the helper modules, by the start of their name.
_GOALS = {
    "GET /api/v2/elements/{uuid}, 2 workers: rate": "≥ 2,000 req/s",
    "a 401 answer (no token), 2 workers: rate": "≤ 1.3× floor",
    "GET /static/mirel.css, 2 workers: rate": "≤ 1.3× floor",
    "mirel --help": "< 0.15 s",
    "mirel element list": "< 0.25 s",
}


def _row_of(found: dict[str, object]) -> Row:
    """Return a helper module's row (a dict) as a Row."""
    what = str(found["what"])
    value = found.get("seconds", found.get("value"))
    floor = found.get("floor")
    return Row(
        what,
        float(str(value)),
        str(found.get("note", "")),
        floor=None if floor is None else float(str(floor)),
        goal=str(found.get("goal") or _GOALS.get(what, "")),
        unit=str(found.get("unit", "s")),
    )


def _progress(message: str) -> None:
    print(f"  … {message}", file=sys.stderr, flush=True)


def machine() -> str:
    """Return a one-line description of this machine."""
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )


def table(rows: list[Row], args: argparse.Namespace) -> str:
    """Return the rows as a Markdown table."""
    lines = [
        f"{args.elements} elements × {args.releases} releases × {args.manifests} manifests "
        f"({'PostgreSQL' if args.postgres else 'SQLite'}); "
        f"{machine()}; seconds unless a unit is given",
        "",
        "| measure | mirel | floor | ratio | goal | note |",
        "|---|---:|---:|---:|---|---|",
    ]
    for row in rows:
        ratio = row.ratio
        lines.append(
            f"| {row.what} | {row.shown(row.seconds)} | {row.shown(row.floor)} | "
            f"{'' if ratio is None else f'{ratio:.2f}×'} | {row.goal} | {row.note} |"
        )
    return "\n".join(lines)


def parse(argv: list[str] | None) -> argparse.Namespace:
    """Return the command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--elements", type=int, default=2000)
    parser.add_argument("--releases", type=int, default=50)
    parser.add_argument("--manifests", type=int, default=20)
    parser.add_argument(
        "--quick", action="store_true", help="200 elements × 10 releases × 5 manifests"
    )
    parser.add_argument(
        "--huge",
        action="store_true",
        help="10,000 elements × 100 releases × 50 manifests (by hand: ~5 GB, a quarter hour)",
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="Measure on a new database of this PostgreSQL server (default: a SQLite file).",
    )
    parser.add_argument("--repeat", type=int, default=5, help="Timings per warm request.")
    parser.add_argument(
        "--skip-servers",
        action="store_true",
        help="Measure in process only: no `mirel serve`, wrk, merge-to-live or start-up runs.",
    )
    parser.add_argument("--merges", type=int, default=20, help="Merges timed to live.")
    parser.add_argument("--seconds", type=float, default=10.0, help="Seconds of each wrk run.")
    parser.add_argument("--runs", type=int, default=10, help="Runs of each command timed.")
    parser.add_argument("--keep", metavar="DIR", help="Work in DIR and keep it afterwards.")
    parser.add_argument("--json", action="store_true", help="Print JSON instead of a table.")
    args = parser.parse_args(argv)
    if args.quick:
        args.elements, args.releases, args.manifests = 200, 10, 5
    if args.huge:
        args.elements, args.releases, args.manifests = 10_000, 100, 50
    if args.elements < 1 or args.releases < 2 or args.manifests < 3:
        parser.error("use at least 1 element, 2 releases and 3 manifests")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    args = parse(argv)
    rows = run(args)
    if args.json:
        print(
            json.dumps(
                {
                    "elements": args.elements,
                    "releases": args.releases,
                    "manifests": args.manifests,
                    "machine": machine(),
                    "rows": [{**row.__dict__, "ratio": row.ratio} for row in rows],
                },
                indent=2,
            )
        )
    else:
        print(table(rows, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())

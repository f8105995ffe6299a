"""The benchmark script still runs (at a tiny size), so that it cannot rot between real runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from support import needs_wrk

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
@needs_wrk()
def test_the_benchmark_runs_and_reports_every_measure(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench.py"),
            "--elements",
            "6",
            "--releases",
            "3",
            "--manifests",
            "4",
            "--repeat",
            "1",
            "--merges",
            "2",
            "--seconds",
            "1",
            "--runs",
            "2",
            "--keep",
            str(tmp_path / "work"),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    notes = {row["what"]: row["note"] for row in report["rows"]}
    in_process = {
        "generate the repository",
        "deploy, cold",
        "deploy, unchanged commit",
        "deploy, one pin changed",
        "change one pin and merge it",
        "GET /source_control/elements, first of the process",
        "GET /source_control/elements, warm",
        "GET /source_control/elements, first after a change",
        "GET /source_control/releases/{uuid}",
        "GET /elements/{uuid}",
        "page /",
        "page /elements/{kind}/{name}/releases",
        "page /settings/releases",
        "page /settings/releases?q=",
        "page /pulls",
        "create one release",
        "merge-to-live, deploy hook, p50",
        "merge-to-live, deploy hook, p99",
        "merge-to-live, polling every 1 s, p50",
        "merge-to-live, polling every 1 s, p99",
    }
    # Figures of real processes: requests through `mirel serve --workers 2` beside the bare
    # route, its memory, and the command line's start-up beside `git --version`.
    served = {
        f"{request}, 2 workers: {figure}"
        for request in (
            "GET /api/v2/elements/{uuid}",
            "a 401 answer (no token)",
            "GET /static/mirel.css",
        )
        for figure in ("rate", "p50", "p99")
    }
    processes = {
        "memory of an instance, resident",
        "memory of an instance, peak",
        "git --version",
        "mirel --help",
        "mirel element list",
    }
    assert in_process | served | processes <= set(notes)
    rates = [row for row in report["rows"] if row["what"].endswith(": rate")]
    assert {row["unit"] for row in rates} == {"req/s"}
    assert all(row["seconds"] > 0 and row["floor"] > 0 for row in rates)
    assert notes["deploy, cold"] == "6 elements switched, 6 artifacts unpacked"
    assert notes["deploy, one pin changed"].endswith("; 1 element switched, 1 artifact unpacked")
    assert all(row["seconds"] >= 0 for row in report["rows"])
    # Each figure with a goal relative to its floor has that floor, measured in the same run.
    floors = {row["what"]: row["floor"] for row in report["rows"] if row["floor"] is not None}
    assert {
        "deploy, cold",
        "deploy, one pin changed",
        "GET /source_control/elements, first of the process",
        "GET /source_control/elements, first after a change",
        "mirel --help",
    } <= set(floors)
    assert all(floor > 0 for floor in floors.values())


@pytest.mark.slow
def test_the_merge_to_live_benchmark_runs_and_reports_both_paths() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "merge_to_live.py"), "--merges", "2", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["merges"] == 2
    assert set(report["results"]) == {"webhook", "polling"}
    for figures in report["results"].values():
        assert set(figures) == {"p50", "p99", "max"}
        assert 0 < figures["p50"] <= figures["p99"] <= figures["max"]

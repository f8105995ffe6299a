"""benchmarks/serving.py still runs against real `mirel serve` processes (at a tiny size, for a
second per address), and reads wrk's report; the figures themselves are for the benchmark."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from support import needs_wrk

ROOT = Path(__file__).resolve().parent.parent.parent
WRK_REPORT = """Running 1s test @ http://127.0.0.1:8600/healthz
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     7.12ms    3.01ms  40.10ms   90.00%
  Latency Distribution
     50%  650.00us
     75%    7.50ms
     90%    9.00ms
     99%    1.20s
  2034 requests in 1.00s, 300.00KB read
  Non-2xx or 3xx responses: 2034
Requests/sec:   2031.50
"""


def test_the_report_of_wrk_is_read() -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from serving import parse_wrk
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    load = parse_wrk(WRK_REPORT)
    assert load.requests_per_second == 2031.5
    assert load.p50 == pytest.approx(0.00065)
    assert load.p99 == pytest.approx(1.2)
    assert load.failed == 2034


@pytest.mark.slow
@needs_wrk()
def test_the_serving_benchmark_runs_with_two_workers() -> None:
    command = [sys.executable, str(ROOT / "benchmarks" / "serving.py"), "--workers", "2"]
    result = subprocess.run(
        [*command, "--seconds", "1", "--elements", "5", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert len(rows) == 9  # three addresses, each: rate, p50, p99
    for row in rows:
        measured = row["value"] if "value" in row else row["seconds"]
        assert measured > 0, row
        assert row["floor"] > 0, row
        assert "mirel serve --workers 2" in row["note"]

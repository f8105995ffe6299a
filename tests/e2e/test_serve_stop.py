"""A clean stop of `mirel serve` on SQLite leaves the database in one file: the write-ahead log
is folded back, so the file can be copied, backed up or opened read-only on its own."""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path

import pytest
from e2e_support import Server

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_a_clean_stop_folds_the_write_ahead_log_back(
    server: Server, stop_signal: signal.Signals
) -> None:
    database = Path(server.database_url.removeprefix("sqlite:///"))
    deployment = server.api().post("/source_control/deploy")
    assert deployment["status"] == "SUCCESS"
    server.close_clients()
    # While it runs, what it wrote may be in the log only.
    assert Path(f"{database}-wal").exists()

    server.process.send_signal(stop_signal)
    server.process.wait(timeout=30)
    assert "Application shutdown complete" in server.output.text()

    assert not Path(f"{database}-wal").exists()
    assert not Path(f"{database}-shm").exists()
    # The file alone holds what the server wrote.
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        rows = connection.execute(
            "SELECT uuid, id, status, triggered_by FROM deployments"
        ).fetchall()
        tokens = connection.execute("SELECT name FROM tokens").fetchall()
    connection.close()
    assert rows == [(deployment["id"], deployment["number"], "SUCCESS", "e2e (token 1)")]
    assert tokens == [("e2e",)]

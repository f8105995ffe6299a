"""One deploy at a time per database (SPEC.md §4, acceptance 6): the lease and its users."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from instance_support import (
    Repo,
    open_instance,
    read_line,
    start_deploy_process,
    successes,
)
from sqlalchemy import Engine, select, update

from mirel.db.engine import open_database
from mirel.db.models import Lock
from mirel.errors import LeaseLost
from mirel.git.snapshot import CommitSnapshot
from mirel.instance import Deployment, Instance
from mirel.instance.deploy.lease import Lease, Request, holder_is_dead, make_holder
from mirel.instance.deploy.planner import DesiredState
from support import AUTHOR, merge


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    with open_database(database_url) as database:
        yield database.engine


class FakeClock:
    """A clock that moves only when the test says so (both its wall and monotonic times)."""

    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _expires_at(engine: Engine) -> float:
    with engine.connect() as connection:
        value = connection.scalar(select(Lock.expires_at).where(Lock.name == "deploy"))
    return float(value or 0)


def _wait_for_renewal(engine: Engine, until: float) -> None:
    """Wait until the heartbeat has renewed the lease to expire at `until` (or later)."""
    deadline = time.monotonic() + 30  # only reached when no renewal ever comes: a failure
    while _expires_at(engine) < until:
        assert time.monotonic() < deadline, "the heartbeat did not renew the lease"
        time.sleep(0.005)


def _set_holder(engine: Engine, holder: str, expires_in: float) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(Lock)
            .where(Lock.name == "deploy")
            .values(holder=holder, expires_at=time.time() + expires_in)
        )


def test_a_lease_has_one_holder_until_it_is_released(engine: Engine) -> None:
    lease = Lease(engine)
    first = lease.acquire()
    assert first is not None
    assert lease.holder() == first
    assert lease.acquire() is None

    lease.renew(first)
    assert lease.release(first) is None
    assert lease.holder() is None
    second = lease.acquire()
    assert second is not None
    assert second != first
    with pytest.raises(LeaseLost):
        lease.renew(first)


def test_an_expired_lease_is_taken_and_its_old_holder_told(engine: Engine) -> None:
    clock = FakeClock()
    short = Lease(engine, ttl=0.05, clock=clock)
    first = short.acquire()
    assert first is not None
    clock.advance(0.1)

    second = Lease(engine, clock=clock).acquire()

    assert second is not None
    with pytest.raises(LeaseLost):
        short.renew(first)
    assert short.release(first) is None  # releasing a lease one lost changes nothing
    assert Lease(engine, clock=clock).holder() == second


def test_a_request_made_while_held_is_handed_to_the_holder(engine: Engine) -> None:
    lease = Lease(engine)
    assert lease.request("nobody holds it") is False
    token = lease.acquire()
    assert token is not None

    assert lease.request("webhook") is True
    assert lease.request("poller") is True  # requests fold into one run

    assert lease.release(token) == Request(triggered_by="poller")
    assert lease.holder() == token
    assert lease.release(token) is None
    assert lease.holder() is None


def test_the_lease_of_a_process_that_is_gone_is_taken_over_at_once(engine: Engine) -> None:
    command = [sys.executable, "-c", "import os; print(os.getpid())"]
    finished = subprocess.run(command, capture_output=True, text=True, check=True)
    host, namespace, _, _, _ = make_holder().split("|")
    dead = "|".join((host, namespace, finished.stdout.strip(), "12345", "feedface"))
    assert holder_is_dead(dead)
    Lease(engine).ensure_row()
    _set_holder(engine, dead, expires_in=3600)

    assert Lease(engine).acquire() is not None


@pytest.mark.parametrize("who", ["another machine", "this very process", "garbage"])
def test_a_lease_that_may_be_alive_is_not_taken(engine: Engine, who: str) -> None:
    holder = {
        "another machine": "another-host|1|1|1|token",  # only its expiry frees it
        "this very process": "|".join([*make_holder().split("|")[:4], "other-thread"]),
        "garbage": "garbage",
    }[who]
    assert not holder_is_dead(holder)
    Lease(engine).ensure_row()
    _set_holder(engine, holder, expires_in=3600)

    assert Lease(engine).acquire() is None


def test_the_heartbeat_keeps_a_slow_holder_s_lease(engine: Engine) -> None:
    clock = FakeClock()
    lease = Lease(engine, ttl=0.3, clock=clock, beat=0.001)
    token = lease.acquire()
    assert token is not None
    with lease.heartbeat(token) as lost:
        for _ in range(8):  # 0.8 s on the lease's clock: well past the time to live
            clock.advance(0.1)
            _wait_for_renewal(engine, clock.time() + 0.3)
        assert Lease(engine, clock=clock).acquire() is None
    assert not lost.is_set()
    lease.renew(token)


def test_two_instances_asked_at_once_run_one_deploy(repo: Repo, database_url: str) -> None:
    instances = [open_instance(repo.hub, database_url, manifest="prod") for _ in range(2)]
    barrier = threading.Barrier(len(instances))
    results: list[Deployment] = []

    def deploy(instance: Instance, name: str) -> None:
        barrier.wait()
        results.append(instance.deployer.deploy(name))

    threads = [
        threading.Thread(target=deploy, args=(instance, f"caller-{n}"))
        for n, instance in enumerate(instances)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert successes(instances[0], repo.hub.head()) == 1
        assert len(instances[0].deployments.recent()) == 1
        assert len({view.id for view in results}) == 1
        assert sum(instance.deployer.unpacked_count for instance in instances) == 4
    finally:
        for instance in instances:
            instance.close()


def test_a_deploy_asked_for_during_another_runs_once_that_one_ends(
    repo: Repo, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A merge's hook while the poller deploys: the hook's commit must not wait for a poll."""
    with open_instance(repo.hub, database_url, manifest="prod") as instance:
        first_commit = repo.hub.head()
        resolving = threading.Event()
        proceed = threading.Event()
        desired = instance.deployer.planner.desired

        def slow_desired(snapshot: CommitSnapshot, manifest: str | None) -> DesiredState:
            resolving.set()
            assert proceed.wait(30)
            return desired(snapshot, manifest)

        monkeypatch.setattr(instance.deployer.planner, "desired", slow_desired)
        results: list[Deployment] = []
        running = threading.Thread(
            target=lambda: results.append(instance.deployer.deploy("poller"))
        )
        running.start()
        assert resolving.wait(30)

        merge(repo.hub, repo.hub.manifests.set_pin("prod", "billing", "1.1.0", AUTHOR))
        answer = instance.deployer.deploy("hook")
        proceed.set()
        running.join()

        assert (answer.status, answer.commit_sha, answer.triggered_by) == (
            "RUNNING",
            first_commit,
            "poller",
        )
        assert results[0].status == "SUCCESS"
        latest = instance.deployments.recent()[0]
        assert (latest.status, latest.commit_sha, latest.triggered_by) == (
            "SUCCESS",
            repo.hub.head(),
            "hook",
        )
        assert instance.info().deployed_commit == repo.hub.head()


@pytest.mark.slow
def test_two_server_processes_asked_at_once_run_one_deploy(
    repo: Repo, database_url: str, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    processes = [
        start_deploy_process(
            repo.hub, database_url, manifest="prod", trigger=f"process-{n}", go_file=go
        )
        for n in range(2)
    ]
    for process in processes:
        assert read_line(process) == "READY"
    go.touch()
    answers = [json.loads(read_line(process)) for process in processes]
    for process in processes:
        _, errors = process.communicate(timeout=60)
        assert process.returncode == 0, errors

    ids = {answer["deployment"]["id"] for answer in answers}
    assert len(ids) == 1
    assert sum(answer["unpacked"] for answer in answers) == 4
    with open_instance(repo.hub, database_url, manifest="prod") as instance:
        assert successes(instance, repo.hub.head()) == 1
        assert len(instance.deployments.recent()) == 1

"""Issue 10, acceptance 8: mirel answers as the seed API's own published document says.

schemathesis generates requests from the seed API's OpenAPI document (its `/source_control/`
paths, config and settings included: tests/specs/retool-source-control.json) and sends them to
mirel, in process and, once, to a real `mirel serve` over loopback. Positive mode only: every
request is one the seed API documents as valid. On every answer: no 5xx (not_a_server_error),
and an answer whose status the document describes has the body it describes
(response_schema_conformance), so a script written for the seed API reads every field it
expects with the type it expects. Each operation is run twice: with generated path values
(mostly unknown names: 404s) and with names of the seeded repository, so that generation
reaches the routes' logic.

status_code_conformance is not one of the checks: the seed document lists few statuses (most
operations a 200 and a 400), while mirel answers 401, 403, 404 and 409 as SPEC.md §5 and the
seed API's own behaviour do (an unknown manifest is a 404, a taken version a 409); the test of
the statuses is that none of them is a 5xx.
"""

from __future__ import annotations

import collections
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from api_support import SECRET_KEY, Api, Seed, TokenMaker
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import overrides
from schemathesis.generation.hypothesis.builder import (
    HypothesisTestConfig,
    HypothesisTestMode,
    create_test,
)
from schemathesis.specs.openapi import checks

from mirel.db.engine import open_database
from mirel.instance import Instance
from mirel.instance.accounts.tokens import SCOPES, create_token

SPEC = Path(__file__).resolve().parents[1] / "specs" / "retool-source-control.json"
CHECKS: list[Callable[..., Any]] = [not_a_server_error, checks.response_schema_conformance]
MAX_EXAMPLES = 10
MODES = [HypothesisTestMode.EXAMPLES, HypothesisTestMode.COVERAGE, HypothesisTestMode.FUZZING]


def test_the_subset_holds_every_source_control_path_of_the_seed_document() -> None:
    document = json.loads(SPEC.read_text())
    source = document["info"]["x-source"]
    assert source["commit"] == "924bf2d7bc51861fd30628bb89bf7fb7f784a4c0"
    assert source["licence"] == "MIT"
    assert document["servers"] == [{"url": "/api/v2"}]
    assert all(path.startswith("/source_control/") for path in document["paths"])
    assert {"/source_control/config", "/source_control/settings"} <= set(document["paths"])
    assert len(document["paths"]) == 16


class Findings:
    """The failures of the checks, by check and operation, with a few examples each."""

    def __init__(self) -> None:
        self.cases = 0
        self.statuses: collections.Counter[int] = collections.Counter()
        self.found: dict[str, list[str]] = collections.defaultdict(list)

    def validate(self, case: Any, response: Any) -> None:
        """Run the checks on one answer, keeping what fails."""
        self.cases += 1
        self.statuses[response.status_code] += 1
        label = f"{case.operation.method.upper()} {case.operation.path}"
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            for failure in group.exceptions:
                self.found[f"{type(failure).__name__} on {label}"].append(
                    f"{response.status_code} for {case.method} {case.formatted_path} "
                    f"query={case.query!r} body={str(case.body)[:120]!r}: "
                    f"{response.text[:200]} -- {str(failure).splitlines()[0:3]}"
                )

    def report(self) -> str:
        """Return every kind of failure with its count and first examples."""
        lines = [f"{len(self.found)} kinds of failure in {self.cases} requests:"]
        for key, examples in sorted(self.found.items()):
            lines.append(f"- {key}: {len(examples)}")
            lines.extend(f"    {example}" for example in examples[:2])
        return "\n".join(lines)


def load_schema(token: str) -> Any:
    """Return the seed document for schemathesis, positive mode, sending `token`."""
    config = SchemathesisConfig.from_dict(
        {
            "seed": 10,
            "generation": {"mode": "positive", "max-examples": MAX_EXAMPLES, "database": "none"},
            "headers": {"Authorization": f"Bearer {token}"},
        }
    )
    return schemathesis.openapi.from_path(str(SPEC), config=config)


def real_values(seed: Seed, instance: Instance) -> dict[str, str]:
    """Return, per path parameter of the seed document, a value naming something real."""
    last = instance.deployments.last()
    assert last is not None
    return {
        "manifestName": "dev",
        "elementUuid": seed.billing,
        "appUuid": seed.billing,
        "id": last.uuid,
    }


def run_operations(
    schema: Any, findings: Findings, send: Callable[[Any], Any], values: dict[str, str] | None
) -> None:
    """Run every operation's generated positive cases through the checks."""
    project = schema.config
    for result in schema.get_all_operations():
        operation = result.ok()
        override = overrides.with_config_headers(project, operation=operation)
        if values is not None:
            names = [parameter.name for parameter in operation.path_parameters]
            if not names:
                continue  # the first pass ran it already
            override.path_parameters = {name: values[name] for name in names}

        def run(case: Any) -> None:
            findings.validate(case, send(case))

        create_test(
            operation=operation,
            test_func=run,
            config=HypothesisTestConfig(
                project=project,
                modes=MODES,
                settings=project.get_hypothesis_settings(operation=operation, phase="fuzzing"),
                seed=project.seed,
                override=override,
            ),
        )()


@pytest.fixture
def deployed(instance: Instance) -> Instance:
    """Return the instance after a deploy, so that a deployment exists."""
    instance.deployer.deploy("seed-document")
    return instance


def test_mirel_answers_as_the_seed_document_says(
    api: Api, make_token: TokenMaker, seed: Seed, deployed: Instance
) -> None:
    schema = load_schema(make_token(name="seed-document"))
    schema.app = api.app
    findings = Findings()
    run_operations(schema, findings, lambda case: case.call(), None)
    run_operations(schema, findings, lambda case: case.call(), real_values(seed, deployed))
    assert findings.cases > 300
    # Generation reached the routes' logic, not only their refusals.
    assert findings.statuses[200] > 50, findings.statuses
    assert not findings.found, f"{findings.report()}\nstatuses: {dict(findings.statuses)}"


# -- against a real server --------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def server(seed: Seed, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Return the URL of a running `mirel serve` over the seeded repository, and a token of
    every scope; stop it afterwards."""
    database_url = f"sqlite:///{tmp_path / 'served.db'}"
    with open_database(database_url) as database:
        token = create_token(database.sessions, "seed-document", list(SCOPES))
    port = _free_port()
    environment = {key: value for key, value in os.environ.items() if not key.startswith("MIREL_")}
    environment["MIREL_SECRET_KEY"] = SECRET_KEY
    # A server of the seeded repository publishing dev, polling off.
    command = [sys.executable, "-m", "mirel", "serve", "--repo", str(seed.hub.repo.path)]
    command += ["--db", database_url, "--manifest", "dev", "--port", str(port)]
    command += ["--name", "seed-document", "--poll-interval", "0"]
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=environment
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while not _answers(url):
            assert process.poll() is None, (tmp_path / "server.log").read_text()
            assert time.monotonic() < deadline, "the server did not answer in 90 s"
            time.sleep(0.1)
        yield url, token
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.mark.slow
def test_a_real_server_answers_as_the_seed_document_says(
    server: tuple[str, str], seed: Seed
) -> None:
    url, token = server
    base = f"{url}/api/v2"
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as client:
        deployment = client.post("/source_control/deploy").json()["data"]
    values = {
        "manifestName": "dev",
        "elementUuid": seed.billing,
        "appUuid": seed.billing,
        "id": deployment["id"],
    }
    schema = load_schema(token)
    findings = Findings()
    run_operations(schema, findings, lambda case: case.call(base_url=base), None)
    run_operations(schema, findings, lambda case: case.call(base_url=base), values)
    assert findings.cases > 300
    assert findings.statuses[200] > 50, findings.statuses
    assert not findings.found, f"{findings.report()}\nstatuses: {dict(findings.statuses)}"

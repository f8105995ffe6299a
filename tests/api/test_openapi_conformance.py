"""Issue 11, acceptance 3: the OpenAPI document describes exactly what the server accepts.

schemathesis generates requests from /api/v2/openapi.json, in process, and runs its own checks on
every answer: schema-valid requests are not refused as invalid (positive_data_acceptance),
schema-invalid ones are refused (negative_data_rejection), statuses, content types, headers and
bodies are the documented ones, a 405 lists every method of its path in `Allow`
(unsupported_method, allow_header_conformance), a request without its token is refused
(ignored_auth). Each operation is run twice: with generated path values (mostly unknown names, so
404s) and with names of the seeded repository, so that generation reaches the routes' logic.
Then stateful sequences follow the links schemathesis infers between operations (a manifest
listed, then pinned; a deployment read, then its element's files), under the same checks.

Failures are collected over every operation and reported together, each with an example.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from api_support import Api, Seed, TokenMaker, path_values
from hypothesis import HealthCheck, Phase, seed, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import overrides
from schemathesis.generation.hypothesis.builder import (
    HypothesisTestConfig,
    HypothesisTestMode,
    create_test,
)
from schemathesis.specs.openapi import checks

from mirel.instance import Instance

# Hypothesis examples per operation and pass, beyond the coverage phase's boundary cases.
MAX_EXAMPLES = 8
MODES = [HypothesisTestMode.EXAMPLES, HypothesisTestMode.COVERAGE, HypothesisTestMode.FUZZING]

BRANCH_COMMITS = "POST /api/v2/source_control/branches/{branch}/commits"
PUT_MANIFEST = "PUT /api/v2/source_control/manifests/{name}"

# Checks left out for one operation, each with the reason no schema can carry.
EXCLUDED: dict[str, list[Callable[..., Any]]] = {
    # A commit's branch and file paths follow git's rules, which libgit2 applies beyond what a
    # pattern can say (`.GIT`, `GIT~1` and the NTFS and HFS spellings of `.git` are refused as a
    # tree entry), and the repository's state: the default branch and mirel's own `mirel/`
    # branches take no commit, and `base` must name a commit. Those are 400s for schema-valid
    # requests; negative_data_rejection still holds.
    BRANCH_COMMITS: [checks.positive_data_acceptance],
    # Every pin of a whole manifest must resolve on the default branch (an element with that
    # uuid, a release it has): the document says the manifest's shape, the repository says the
    # rest, with the 400 of an invalid manifest that SPEC.md §5 gives it.
    PUT_MANIFEST: [checks.positive_data_acceptance],
    # A configuration's `config` holds each provider's own fields (docs/remote.md), which the
    # store checks per provider (a GitHub one needs its token, a CodeCommit one its keys...).
    **{
        f"{method} /api/v2/source_control/config": [checks.positive_data_acceptance]
        for method in ("POST", "PUT")
    },
}


class Findings:
    """The failures of every check, by check and operation, with a few examples each."""

    def __init__(self) -> None:
        self.cases = 0
        self.found: dict[str, list[str]] = collections.defaultdict(list)

    def validate(
        self, case: Any, response: Any, label: str, excluded: list[Callable[..., Any]]
    ) -> None:
        """Run schemathesis's checks on one answer, but `excluded`, keeping what fails."""
        self.cases += 1
        try:
            case.validate_response(response, excluded_checks=EXCLUDED.get(label, []) + excluded)
        except FailureGroup as group:
            request = response.request
            for failure in group.exceptions:
                self.found[f"{type(failure).__name__} on {label}"].append(
                    f"{response.status_code} for {request.method} {request.url} "
                    f"body={str(case.body)[:120]!r}: {response.text[:160]}"
                )

    def report(self) -> str:
        """Return every kind of failure with its count and first examples."""
        lines = [f"{len(self.found)} kinds of failure in {self.cases} requests:"]
        for key, examples in sorted(self.found.items()):
            lines.append(f"- {key}: {len(examples)}")
            lines.extend(f"    {example}" for example in examples[:2])
        return "\n".join(lines)


@pytest.fixture
def deployed(instance: Instance) -> Instance:
    """Return the instance after a deploy, so that its live elements and files exist."""
    instance.deployer.deploy("conformance")
    return instance


@pytest.fixture
def schema(api: Api, make_token: TokenMaker, deployed: Instance) -> Any:
    """Return the application's OpenAPI document for schemathesis, with a token of every scope."""
    del deployed
    config = SchemathesisConfig.from_dict(
        {
            "seed": 11,
            "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "database": "none"},
            "headers": {"Authorization": f"Bearer {make_token(name='conformance')}"},
        }
    )
    return schemathesis.openapi.from_asgi("/api/v2/openapi.json", api.app, config=config)


def checked(
    findings: Findings, label: str, excluded: list[Callable[..., Any]]
) -> Callable[[Any], None]:
    """Return the test of one operation: send the case, check the answer."""

    def run(case: Any) -> None:
        findings.validate(case, case.call(), label, excluded)

    return run


def run_operations(schema: Any, findings: Findings, path_values: dict[str, str] | None) -> None:
    """Run every operation's generated cases (positive and negative) through every check."""
    project = schema.config
    for result in schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        override = overrides.with_config_headers(project, operation=operation)
        # With real path values, a case made negative by its path value alone is sent with the
        # real one, so it is positive: negative_data_rejection is the first pass's to check.
        excluded = [] if path_values is None else [checks.negative_data_rejection]
        if path_values is not None:
            names = [parameter.name for parameter in operation.path_parameters]
            if not names:
                continue  # the first pass ran it already
            override.path_parameters = {name: path_values[name] for name in names}

        test = create_test(
            operation=operation,
            test_func=checked(findings, label, excluded),
            config=HypothesisTestConfig(
                project=project,
                modes=MODES,
                settings=project.get_hypothesis_settings(operation=operation, phase="fuzzing"),
                seed=project.seed,
                override=override,
            ),
        )
        test()


def test_every_operation_answers_as_its_document_says(schema: Any, seed: Seed) -> None:
    findings = Findings()
    run_operations(schema, findings, None)
    run_operations(schema, findings, path_values(seed, "feature/x"))
    assert findings.cases > 1000
    assert not findings.found, findings.report()


# Stateful runs: sequences of calls where a call's answer gives the next one's parameters (the
# links schemathesis infers from the document: an element listed, then its releases read, a pull
# request opened, then read, merged or closed).
STATEFUL_SCENARIOS = 40
STATEFUL_SEED = 20261204


def test_stateful_sequences_answer_as_the_document_says(schema: Any) -> None:
    findings = Findings()

    linked: collections.Counter[str] = collections.Counter()

    class Sequences(schema.as_state_machine()):  # type: ignore[misc]
        def step(self, input: Any) -> Any:
            if input.transition is not None:
                linked[input.transition.id] += 1
            return super().step(input)

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            label = f"{case.operation.method.upper()} {case.operation.path}"
            findings.validate(case, response, label, [])

    # One scenario per run: the server's state carries over from one scenario to the next (a
    # merge, a pin removed), which Hypothesis would take for a flaky strategy within one run.
    # Each scenario has a seed of its own: where CI is set, Hypothesis loads its `ci` profile,
    # which derandomizes, and every scenario would otherwise run the very same sequence.
    for scenario in range(STATEFUL_SCENARIOS):
        seed(STATEFUL_SEED + scenario)(Sequences)
        Sequences.run(
            settings=settings(
                max_examples=1,
                stateful_step_count=8,
                deadline=None,
                database=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
        )
    assert findings.cases > STATEFUL_SCENARIOS
    # The sequences did follow links: many kinds of step took a value from an earlier answer.
    assert len(linked) >= 10, linked
    assert not findings.found, findings.report()

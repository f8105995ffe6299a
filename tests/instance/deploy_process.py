"""Run one deploy in a process of its own, for the tests that kill it or race two of them.

usage: deploy_process.py REPO DATABASE_URL TRIGGER [--manifest NAME] [--go-file PATH] [--pause STEP]

Prints `READY` once the instance is open, waits for --go-file to exist when given, deploys, and
prints the deployment as one line of JSON. With --pause, the deploy's checkpoint prints
`MIREL_TEST_PAUSED <step>` when the deploy reaches that step and sleeps until the test kills the
process.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from mirel.http.models import DeploymentPublic
from mirel.instance import Instance
from mirel.instance.deploy.steps import STEPS, Checkpoint, no_checkpoint
from mirel.settings import Settings

PAUSE_MARKER = "MIREL_TEST_PAUSED"


def pause_at(wanted: str) -> Checkpoint:
    """Return a checkpoint that, at step `wanted`, says so on stdout and sleeps for ever."""

    def checkpoint(step: str) -> None:
        if step == wanted:
            print(f"{PAUSE_MARKER} {step}", flush=True)
            while True:
                time.sleep(3600)

    return checkpoint


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("repo")
    parser.add_argument("database_url")
    parser.add_argument("trigger")
    parser.add_argument("--manifest")
    parser.add_argument("--go-file", type=Path)
    parser.add_argument("--pause", choices=STEPS)
    arguments = parser.parse_args()
    settings = Settings(
        repo=arguments.repo,
        database_url=arguments.database_url,
        manifest=arguments.manifest,
        poll_interval=0,
    )
    checkpoint = no_checkpoint if arguments.pause is None else pause_at(arguments.pause)
    with Instance(settings, checkpoint=checkpoint) as instance:
        print("READY", flush=True)
        if arguments.go_file is not None:
            while not arguments.go_file.exists():
                time.sleep(0.001)
        view = instance.deployer.deploy(arguments.trigger)
        print(
            json.dumps(
                {
                    "deployment": DeploymentPublic.of(view).model_dump(by_alias=True),
                    "unpacked": instance.deployer.unpacked_count,
                }
            )
        )


if __name__ == "__main__":
    main()

"""Run one deploy in a process of its own, for the tests that kill it or race two of them.

usage: deploy_process.py REPO DATABASE_URL TRIGGER [--manifest NAME] [--go-file PATH]

Prints `READY` once the instance is open, waits for --go-file to exist when given, deploys, and
prints the deployment as one line of JSON. With MIREL_TEST_DEPLOY_PAUSE set, the deploy prints
`MIREL_TEST_PAUSED <step>` at that step and sleeps until the test kills the process.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from mirel.instance import Instance
from mirel.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("repo")
    parser.add_argument("database_url")
    parser.add_argument("trigger")
    parser.add_argument("--manifest")
    parser.add_argument("--go-file", type=Path)
    arguments = parser.parse_args()
    settings = Settings(
        repo=arguments.repo,
        database_url=arguments.database_url,
        manifest=arguments.manifest,
        poll_interval=0,
    )
    with Instance(settings) as instance:
        print("READY", flush=True)
        if arguments.go_file is not None:
            while not arguments.go_file.exists():
                time.sleep(0.001)
        view = instance.deploy(arguments.trigger)
        print(json.dumps({"deployment": view.to_json(), "unpacked": instance.unpacked_count}))


if __name__ == "__main__":
    main()

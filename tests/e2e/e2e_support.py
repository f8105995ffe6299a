"""Helpers of the end-to-end tests: free ports, server processes, their output, their API."""

from __future__ import annotations

import contextlib
import os
import queue
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

STARTUP_TIMEOUT = 90.0


def port_is_free(port: int) -> bool:
    """Return whether nothing listens on 127.0.0.1:`port`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(count: int = 1) -> int:
    """Return the first of `count` consecutive free ports (random, so parallel tests differ)."""
    for _ in range(200):
        base = random.randint(20_000, 60_000)
        if all(port_is_free(base + offset) for offset in range(count)):
            return base
    raise RuntimeError("no free ports found")


def child_environment() -> dict[str, str]:
    """Return the environment of a server process: this one's, minus the instance settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("MIREL_") or key in ("MIREL_AUTHOR",)
    }
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Output:
    """A child process's output, read by a thread so the test can wait for lines with a timeout."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        assert process.stdout is not None
        self._stream = process.stdout

        def pump() -> None:
            for line in self._stream:
                self._queue.put(line.rstrip("\n"))
            self._queue.put(None)

        self._thread = threading.Thread(target=pump, daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Read to the end (the process has exited) and close the pipe."""
        self._thread.join(timeout=10)
        self._stream.close()

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        """Return the first match of `pattern` in a line, waiting up to `timeout` seconds."""
        for line in self.lines:
            if found := re.search(pattern, line):
                return found
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
            if found := re.search(pattern, line):
                return found
        raise AssertionError(f"no line matching {pattern!r}; output:\n" + "\n".join(self.lines))

    def text(self) -> str:
        """Return what has been read so far, and whatever is waiting."""
        with contextlib.suppress(queue.Empty):
            while (line := self._queue.get_nowait()) is not None:
                self.lines.append(line)
        return "\n".join(self.lines)


def stop(
    process: subprocess.Popen[Any], output: Output | None = None, timeout: float = 30.0
) -> int:
    """Stop a process with SIGTERM (SIGKILL if it lingers) and return its exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError(f"process {process.pid} ignored SIGTERM for {timeout} s") from None
    finally:
        if output is not None:
            output.close()


class Api:
    """One instance's REST API, with a token; calls return the answer's `data`."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.client = httpx.Client(
            base_url=f"{url}/api/v2", headers={"Authorization": f"Bearer {token}"}, timeout=30.0
        )

    def close(self) -> None:
        """Close the connections."""
        self.client.close()

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """Return the `data` of a call that must succeed."""
        answer = self.client.request(method, path, **kwargs)
        body = answer.json()
        assert answer.status_code == 200, (method, path, answer.status_code, body)
        assert body["success"] is True, body
        return body["data"]

    def get(self, path: str) -> Any:
        """Return the `data` of a GET."""
        return self.call("GET", path)

    def post(self, path: str, body: object = None) -> Any:
        """Return the `data` of a POST with a JSON body."""
        return self.call("POST", path, json=body)

    def put(self, path: str, body: object) -> Any:
        """Return the `data` of a PUT with a JSON body."""
        return self.call("PUT", path, json=body)


def wait_until(
    condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.05
) -> Any:
    """Return the first truthy value of `condition()`, polling for at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = condition()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s (last: {last!r})")
        time.sleep(interval)


@dataclass
class Fleet:
    """A running `mirel up`: its folder, repository, instances and token."""

    folder: Path
    repo: Path
    token: str
    process: subprocess.Popen[str]
    output: Output
    urls: dict[str, str] = field(default_factory=dict)
    admin_password: str = ""
    apis: dict[str, Api] = field(default_factory=dict)

    def api(self, name: str) -> Api:
        """Return the API of one instance (dev, staging or prod)."""
        if name not in self.apis:
            self.apis[name] = Api(self.urls[name], self.token)
        return self.apis[name]

    def close_clients(self) -> None:
        """Close the API clients."""
        for api in self.apis.values():
            api.close()

    def stop(self) -> int:
        """Stop `mirel up` and return its exit code."""
        self.close_clients()
        return stop(self.process, self.output)


@dataclass
class Server:
    """One running `mirel serve` over a demo repository."""

    url: str
    repo: Path
    database_url: str
    token: str
    process: subprocess.Popen[str]
    output: Output

    _api: Api | None = None

    def api(self) -> Api:
        """Return its API with the admin token."""
        if self._api is None:
            self._api = Api(self.url, self.token)
        return self._api

    def close_clients(self) -> None:
        """Close the API client."""
        if self._api is not None:
            self._api.close()


def start_server(
    repo: Path | None,
    database_url: str | None,
    *,
    manifest: str = "prod",
    extra: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> tuple[subprocess.Popen[str], Output, str]:
    """Start `mirel serve` and return it once it answers; the caller stops it.

    With `repo` and `database_url` None, the server takes everything from `env` (MIREL_*),
    MIREL_PORT included.
    """
    environment = {**child_environment(), **(env or {})}
    args = [sys.executable, "-m", "mirel", "serve", *extra]
    if repo is not None and database_url is not None:
        port = free_ports(1)
        args += ["--repo", str(repo), "--db", database_url, "--manifest", manifest]
        args += ["--port", str(port), "--name", f"e2e-{manifest}"]
    else:
        port = int(environment["MIREL_PORT"])
    process = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env=environment,
    )
    output = Output(process)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: process.poll() is not None or _answers(url),
            STARTUP_TIMEOUT,
            "the server answers",
            interval=0.1,
        )
        assert process.poll() is None, output.text()
    except BaseException:
        stop(process, output)
        raise
    return process, output, url


def _answers(url: str) -> bool:
    try:
        httpx.get(f"{url}/api/v2/openapi.json", timeout=1.0)
    except httpx.HTTPError:
        return False
    return True


def start_fleet(folder: Path, port: int) -> Fleet:
    """Start `mirel up` in `folder` on ports `port`..`port + 2` and return it once it is up."""
    process = subprocess.Popen(
        [sys.executable, "-m", "mirel", "up", "--dir", str(folder), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env=child_environment(),
    )
    output = Output(process)
    try:
        output.wait_for(r"Press Ctrl-C to stop", STARTUP_TIMEOUT)
        token = output.wait_for(r"admin token .*: (mirel_\S+)", 1).group(1)
        password = output.wait_for(r"sign in as admin with password (\S+)", 1).group(1)
        urls = {
            found.group(1): found.group(2)
            for line in output.lines
            if (found := re.match(r"\s+(dev|staging|prod)\s+(http://\S+)", line))
        }
        assert sorted(urls) == ["dev", "prod", "staging"], output.text()
    except BaseException:
        stop(process, output)
        raise
    return Fleet(folder, folder / "hub.git", token, process, output, urls, password)

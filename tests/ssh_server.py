"""A git server over SSH on loopback for the tests: OpenSSH's sshd on a free port, run with a
configuration of its own (its own host key, one authorized client key, no password sign-in),
serving the bare repositories under a folder through git's own `git-upload-pack` and
`git-receive-pack`, which sshd runs for the client as any git host's does.

It needs Debian's openssh-server (`.ci/run` installs it) and root, which sshd needs to switch to
the signed-in user; `reason_missing()` says why it cannot run here.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import BinaryIO

SSHD = "/usr/sbin/sshd"


def reason_missing() -> str | None:
    """Return why the SSH server cannot run on this machine, or None when it can."""
    if not Path(SSHD).exists():
        return f"OpenSSH's server is not installed ({SSHD}: apt-get install openssh-server)"
    if os.geteuid() != 0:
        return "sshd must run as root to sign users in"
    if shutil.which("git-upload-pack") is None:
        return "git's git-upload-pack is not on PATH"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


class GitSshServer:
    """sshd on 127.0.0.1 serving the repositories under `root` to the holder of `client_key`."""

    def __init__(self, root: Path, folder: Path) -> None:
        self.root = root
        self.folder = folder
        self.user = getpass.getuser()
        self.client_key = folder / "client_key"
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log: BinaryIO | None = None

    def url(self, name: str) -> str:
        """Return the ssh:// URL of repository `name` (a bare `<name>.git` under the root)."""
        return f"ssh://{self.user}@127.0.0.1:{self.port}{self.root / name}.git"

    def known_hosts_line(self) -> str:
        """Return the line of ~/.ssh/known_hosts that makes this server's host key known."""
        kind, key = (self.folder / "host_key.pub").read_text().split()[:2]
        return f"[127.0.0.1]:{self.port} {kind} {key}\n"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        _keygen(self.folder / "host_key")
        _keygen(self.client_key)
        authorized = self.folder / "authorized_keys"
        shutil.copy(f"{self.client_key}.pub", authorized)
        authorized.chmod(0o600)
        self.port = _free_port()
        config = self.folder / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {self.folder / 'host_key'}",
                    f"PidFile {self.folder / 'sshd.pid'}",
                    f"AuthorizedKeysFile {authorized}",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "PubkeyAuthentication yes",
                    "UsePAM no",
                    "StrictModes no",
                    "PermitRootLogin prohibit-password",
                    f"AllowUsers {self.user}",
                    "",
                ]
            )
        )
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # its privilege separation folder
        self._log = open(self.folder / "sshd.log", "wb")  # noqa: SIM115 - closed by stop()
        self._process = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=self._log
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self._process.poll() is not None:
                    break
                time.sleep(0.05)
        raise RuntimeError(f"sshd did not start: {(self.folder / 'sshd.log').read_text()}")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

"""Run `mirel ARGS...` and kill the process (SIGKILL) right after its K-th reference write.

Usage: python crash_writer.py K ARGS...   (K = 0 never kills; the exit code is then mirel's)

Every reference write of mirel goes through three methods of GitRepository (`create_refs`, which
`create_ref` and `create_branch` use, `update_ref` and `delete_ref`): each is wrapped so that the
process dies, as a `kill -9` would make it, just after the write the test chose. Before exiting
normally it prints `writes=N` on stderr, so the test knows how many kill points the command has.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from mirel.cli.main import main
from mirel.git.repository import GitRepository

_writes = 0


def _killing_after(method: Callable[..., Any], kill_after: int) -> Callable[..., Any]:
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        global _writes
        result = method(*args, **kwargs)
        _writes += 1
        if _writes == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    return wrapped


if __name__ == "__main__":
    kill_after = int(sys.argv[1])
    for name in ("create_refs", "update_ref", "delete_ref"):
        setattr(GitRepository, name, _killing_after(getattr(GitRepository, name), kill_after))
    code = main(sys.argv[2:])
    print(f"writes={_writes}", file=sys.stderr)
    sys.exit(code)

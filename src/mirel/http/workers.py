"""Several worker processes of one server, forked from one parent that owns the listening socket.

`run_workers(count, work)` forks `count` children, each calling `work(index)` (0 to count-1), and
waits for them. The parent holds nothing but the socket the children inherit: it forwards
SIGTERM and SIGINT to every child as SIGTERM (a second SIGINT would make uvicorn skip its
graceful shutdown, and a terminal's Ctrl-C already reaches the whole process group), and
when a child ends that it did not stop, it stops the others and reports the failure: one
instance's workers stand or fall together, and whoever supervises the instance (systemd,
Kubernetes, a shell) restarts it whole. A restarted child would have to be the poller again
if the poller died, and a crash loop would hide behind a live parent.

Forking happens before anything opens a database, a repository or a thread: each child opens
its own.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import traceback
from collections.abc import Callable
from types import FrameType
from typing import NoReturn

from mirel.errors import MirelError

log = logging.getLogger("mirel.serve")

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _child(index: int, work: Callable[[int], None]) -> NoReturn:
    """Run one worker in a forked child and end the child with its exit status."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    code = 0
    try:
        work(index)
    except SystemExit as error:
        code = error.code if isinstance(error.code, int) else 1
    except KeyboardInterrupt:
        code = 0  # a Ctrl-C before the server took the signal over: a stop, not a failure
    except MirelError as error:
        # What the command line says of a user's error (a database that cannot be reached):
        # one line, no traceback.
        hint = f"; {error.cli_hint}" if error.cli_hint else ""
        print(f"error: {error.message}{hint}", file=sys.stderr)
        code = error.exit_code
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    # Not sys.exit: the parent's atexit handlers and buffers are not the child's to run.
    os._exit(code)


def _described(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


def _stopped_cleanly(status: int) -> bool:
    """Return whether a child the parent stopped ended as a stopped server does."""
    if os.WIFSIGNALED(status):
        return os.WTERMSIG(status) in _STOP_SIGNALS
    return os.waitstatus_to_exitcode(status) == 0


def run_workers(count: int, work: Callable[[int], None]) -> int:
    """Fork `count` workers running `work(index)`; return 0 when a signal stopped them all, 1
    when one ended by itself (the others are then stopped) or ended badly once stopped."""
    children: dict[int, int] = {}
    stopping = False

    def stop_all(_signum: int = signal.SIGTERM, _frame: FrameType | None = None) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            with contextlib.suppress(ProcessLookupError):  # ended, not yet waited for
                os.kill(pid, signal.SIGTERM)

    # Blocked while forking, so that a signal cannot reach a child before it sets its own
    # handlers, nor the parent before it knows every child.
    signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    previous = {number: signal.signal(number, stop_all) for number in _STOP_SIGNALS}
    try:
        for index in range(count):
            pid = os.fork()
            if pid == 0:
                _child(index, work)
            children[pid] = index
    except BaseException:
        stop_all()  # a fork refused: the workers already started do not outlive the parent
        for pid in children:
            os.waitpid(pid, 0)
        for number, handler in previous.items():
            signal.signal(number, handler)
        raise
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    failed = False
    try:
        while children:
            pid, status = os.wait()
            if pid not in children:
                continue
            index = children.pop(pid)
            if not stopping:
                log.error(
                    "worker %d (pid %d) ended by itself (%s): stopping the other workers",
                    index,
                    pid,
                    _described(status),
                )
                failed = True
                stop_all()
            elif not _stopped_cleanly(status):
                log.error("worker %d (pid %d) stopped badly (%s)", index, pid, _described(status))
                failed = True
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    return 1 if failed else 0

"""The poller: a background thread that deploys now and then every few seconds."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from mirel.errors import MirelError

log = logging.getLogger(__name__)


class Poller:
    """Calls `deploy` every `interval` seconds in a thread of its own (an interval of 0: never)."""

    def __init__(self, deploy: Callable[[], object], interval: float, name: str) -> None:
        self._deploy = deploy
        self._interval = interval
        self._name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # time.monotonic() when the last poll ended; None: none yet (or polling off).
        self.last_poll: float | None = None

    def start(self) -> None:
        """Deploy now and then every interval in a background thread, unless it already runs."""
        if self._interval <= 0:
            return
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._poll, name=f"mirel-poller-{self._name}", daemon=True
        )
        self._thread.start()
        # One line per process that polls: with several workers, exactly one writes it.
        log.info("poller started: the default branch every %g s", self._interval)

    def stop(self) -> None:
        """Stop the thread, waiting for a deploy it runs to finish (up to 60 s)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=60)

    def _poll(self) -> None:
        reported: str | None = None
        while True:
            try:
                self._deploy()
                reported = None
            except MirelError as error:
                # The same failure every few seconds (an unreachable repository) is logged once.
                if str(error) != reported:
                    log.warning("poller: %s", error)
                    reported = str(error)
            except Exception:
                log.exception("poller: deploy failed")
            self.last_poll = time.monotonic()
            if self._stop.wait(self._interval):
                return

"""Large answers kept whole while what they are computed from has not changed.

`GET /source_control/elements` answers every element with every release and its pin in every
manifest: 4.5 MB at the design size, a second of work. Its inputs are the default branch's commit
(git objects never change), the request's parameters and the instance reports; keyed by all
three, an answer is computed once and then served as the bytes it was, until one of them moves.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from weakref import WeakKeyDictionary

_KEPT_PER_OWNER = 8


class KeptAnswers:
    """The last few answers of one owner (a hub), by key."""

    def __init__(self, size: int = _KEPT_PER_OWNER) -> None:
        self._size = size
        self._answers: OrderedDict[Hashable, bytes] = OrderedDict()
        self._lock = threading.Lock()  # guards the two dicts, never held while computing
        # One computation per key at a time: sixteen clients asking at once after a merge wait
        # for the first answer instead of computing it sixteen times; other keys are not held up.
        self._making: dict[Hashable, threading.Lock] = {}

    def get_or_make(self, key: Hashable, make: Callable[[], bytes]) -> bytes:
        """Return the answer kept for `key`, made (and kept) by `make` when there is none."""
        found = self._kept(key)
        if found is not None:
            return found
        with self._lock:
            making = self._making.setdefault(key, threading.Lock())
        with making:
            found = self._kept(key)  # made meanwhile by whoever held `making`
            if found is None:
                found = make()
                with self._lock:
                    self._answers[key] = found
                    while len(self._answers) > self._size:
                        self._answers.popitem(last=False)
            with self._lock:
                self._making.pop(key, None)
            return found

    def _kept(self, key: Hashable) -> bytes | None:
        with self._lock:
            found = self._answers.get(key)
            if found is not None:
                self._answers.move_to_end(key)
            return found


_OWNERS: WeakKeyDictionary[object, KeptAnswers] = WeakKeyDictionary()
_OWNERS_LOCK = threading.Lock()


def kept_for(owner: object) -> KeptAnswers:
    """Return the answers kept for `owner`, forgotten with it."""
    with _OWNERS_LOCK:
        found = _OWNERS.get(owner)
        if found is None:
            found = _OWNERS[owner] = KeptAnswers()
        return found

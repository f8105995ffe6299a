"""Kept answers: made once per key however many ask at once, and never held up by another key."""

from __future__ import annotations

import threading

from mirel.api.kept_answers import KeptAnswers


def test_sixteen_at_once_make_one_answer() -> None:
    kept = KeptAnswers()
    made: list[int] = []
    release = threading.Event()

    def make() -> bytes:
        made.append(1)
        release.wait(10)
        return b"answer"

    answers: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: answers.append(kept.get_or_make("a", make)))
        for _ in range(16)
    ]
    for thread in threads:
        thread.start()
    release.set()
    for thread in threads:
        thread.join(10)
    assert answers == [b"answer"] * 16
    assert made == [1]


def test_a_kept_answer_is_not_held_up_by_another_being_made() -> None:
    kept = KeptAnswers()
    kept.get_or_make("kept", lambda: b"old")
    started, release = threading.Event(), threading.Event()

    def slow() -> bytes:
        started.set()
        release.wait(10)
        return b"new"

    making = threading.Thread(target=lambda: kept.get_or_make("new", slow))
    making.start()
    assert started.wait(10)
    # While "new" is being made (until `release`), "kept" is answered.
    found: list[bytes] = []
    hit = threading.Thread(target=lambda: found.append(kept.get_or_make("kept", bytes)))
    hit.start()
    hit.join(10)
    assert found == [b"old"]
    release.set()
    making.join(10)
    assert kept.get_or_make("new", lambda: b"made again") == b"new"


def test_only_the_newest_answers_are_kept() -> None:
    kept = KeptAnswers(size=2)
    for key in ("a", "b", "c"):
        kept.get_or_make(key, key.encode)
    assert kept.get_or_make("a", lambda: b"again") == b"again"
    assert kept.get_or_make("c", lambda: b"again") == b"c"

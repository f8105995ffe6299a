"""Small helpers for the words of messages, so that every face says them alike."""

from __future__ import annotations


def with_article(noun: str) -> str:
    """Return `noun` with its indefinite article: `an app`, `a workflow`, `an editor`."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"

"""How each host proves that a webhook comes from it, checked in constant time, and how it
names each delivery (so that a replay is refused).

- `local` and `git` (mirel's own deploy hooks, and any remote without webhooks of its own, such
  as CodeCommit, whose events reach the world through SNS or EventBridge): `X-Mirel-Signature:
  sha256=<hex HMAC-SHA256 of the body>`; delivery `X-Mirel-Delivery`.
- `github`: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256>`; delivery `X-GitHub-Delivery`.
- `gitlab`: the secret token itself in `X-Gitlab-Token`; delivery `X-Gitlab-Event-UUID`.
- `bitbucket` (Cloud): `X-Hub-Signature: sha256=<hex HMAC-SHA256>`; delivery `X-Request-UUID`.
- `azure` (Azure DevOps service hooks): HTTP basic authentication, any user name, the secret as
  the password; delivery: the event's `id` in the body.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

SIGNATURE_HEADER = "X-Mirel-Signature"
DELIVERY_HEADER = "X-Mirel-Delivery"


def sign(body: bytes, secret: str) -> str:
    """Return the value of an HMAC-SHA256 signature header: `sha256=<hex digest>`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _same(given: str, expected: str) -> bool:
    """Compare in constant time: how long it takes says nothing of the expected value."""
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


@dataclass(frozen=True)
class Scheme:
    """One host's proof of origin: where it is, how to say it is missing, how to check it."""

    header: str  # the header that carries the proof
    how: str  # what a sender must send, for the message of a refusal
    check: Callable[[str, bytes, str], bool]  # (header value, body, secret) -> valid
    delivery_header: str | None  # the header naming the delivery, if the host sends one


def _hmac(value: str, body: bytes, secret: str) -> bool:
    return _same(value, sign(body, secret))


def _token(value: str, body: bytes, secret: str) -> bool:
    del body
    return _same(value, secret)


def _basic(value: str, body: bytes, secret: str) -> bool:
    del body
    scheme, _, encoded = value.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        _, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return _same(password, secret)


_MIREL = Scheme(
    SIGNATURE_HEADER,
    f"{SIGNATURE_HEADER}: sha256=<hex HMAC-SHA256 of the body with the webhook secret>",
    _hmac,
    DELIVERY_HEADER,
)

SCHEMES: Mapping[str, Scheme] = {
    "local": _MIREL,
    "git": _MIREL,
    "codecommit": _MIREL,
    "github": Scheme(
        "X-Hub-Signature-256",
        "X-Hub-Signature-256 (set the webhook's secret on GitHub to this instance's)",
        _hmac,
        "X-GitHub-Delivery",
    ),
    "gitlab": Scheme(
        "X-Gitlab-Token",
        "X-Gitlab-Token (set the webhook's secret token on GitLab to this instance's secret)",
        _token,
        "X-Gitlab-Event-UUID",
    ),
    "bitbucket": Scheme(
        "X-Hub-Signature",
        "X-Hub-Signature (set the webhook's secret on Bitbucket to this instance's)",
        _hmac,
        "X-Request-UUID",
    ),
    "azure": Scheme(
        "Authorization",
        "basic authentication with the webhook secret as the password (the service hook's "
        "'Basic authentication password' on Azure DevOps)",
        _basic,
        None,
    ),
}


def refusal(provider: str, headers: Mapping[str, str], body: bytes, secret: str) -> str | None:
    """Return why a webhook from `provider` is refused (its proof missing or wrong), else None.
    `provider` is one of SCHEMES."""
    scheme = SCHEMES[provider]
    value = headers.get(scheme.header)
    if not value:
        return f"the webhook carries no proof of origin; {provider} sends {scheme.how}"
    if not scheme.check(value, body, secret):
        return (
            f"the webhook's {scheme.header} does not match this instance's webhook secret; "
            f"check the secret configured on {provider}"
        )
    return None


def delivery_id(provider: str, headers: Mapping[str, str], body: bytes) -> str | None:
    """Return the id the host gives this delivery (None when it gives none)."""
    scheme = SCHEMES[provider]
    if scheme.delivery_header is not None:
        return headers.get(scheme.delivery_header) or None
    try:
        found = json.loads(body).get("id")  # Azure DevOps: the event's id
    except (ValueError, AttributeError, RecursionError):
        return None
    return found if isinstance(found, str) and found else None

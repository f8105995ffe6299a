"""AWS Signature Version 4, by hand: the signature every AWS API call carries (CodeCommit's
among them), made with hmac and hashlib. botocore would bring a whole SDK (and its own HTTP
stack) for one signature; the algorithm is short and AWS publishes a test suite for it, which
tests/remote/test_codecommit.py runs.

The secret access key only ever goes into the HMAC: never into a header, a message or a repr.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote, unquote

ALGORITHM = "AWS4-HMAC-SHA256"
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Credentials:
    """An AWS access key: its id (public) and its secret (never shown)."""

    access_key_id: str
    secret_access_key: str = field(repr=False)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def _encode(text: str, safe: str = "") -> str:
    """URI-encode as SigV4 asks: every byte but the unreserved characters (RFC 3986)."""
    return quote(text, safe="-_.~" + safe)


def canonical_query(query: str) -> str:
    """Return the query string's parameters encoded and sorted by name, then value."""
    pairs = []
    for part in query.split("&") if query else []:
        name, _, value = part.partition("=")
        pairs.append((_encode(unquote(name)), _encode(unquote(value))))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def canonical_request(
    method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
) -> tuple[str, str]:
    """Return the canonical request of a call, and its signed headers (`host;x-amz-date`):
    every header given is signed, its name lower-cased, its value trimmed."""
    values = {name.lower(): _SPACES.sub(" ", value.strip()) for name, value in headers.items()}
    signed = ";".join(sorted(values))
    lines = "".join(f"{name}:{values[name]}\n" for name in sorted(values))
    payload = hashlib.sha256(body).hexdigest()
    request = "\n".join(
        [method.upper(), _encode(path or "/", "/"), canonical_query(query), lines, signed, payload]
    )
    return request, signed


def scope(amz_date: str, region: str, service: str) -> str:
    """Return the credential scope: `20150830/us-east-1/codecommit/aws4_request`."""
    return f"{amz_date[:8]}/{region}/{service}/aws4_request"


def string_to_sign(amz_date: str, credential_scope: str, request: str) -> str:
    """Return what is signed: the algorithm, the time, the scope and the request's hash."""
    digest = hashlib.sha256(request.encode()).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{credential_scope}\n{digest}"


def signature(secret: str, credential_scope: str, text: str) -> str:
    """Return the hex signature of `text` with the key derived from the secret for the scope."""
    key = f"AWS4{secret}".encode()
    for part in credential_scope.split("/"):
        key = _hmac(key, part)
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def amz_date(now: datetime | None = None) -> str:
    """Return the time as X-Amz-Date has it: `20150830T123600Z` (UTC)."""
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def authorization(
    credentials: Credentials,
    *,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    region: str,
    service: str,
) -> str:
    """Return the Authorization header of a call whose `headers` (with Host and X-Amz-Date,
    as they will be sent) are all signed."""
    date = next(value for name, value in headers.items() if name.lower() == "x-amz-date")
    request, signed = canonical_request(method, path, query, headers, body)
    where = scope(date, region, service)
    proof = signature(credentials.secret_access_key, where, string_to_sign(date, where, request))
    return (
        f"{ALGORITHM} Credential={credentials.access_key_id}/{where}, "
        f"SignedHeaders={signed}, Signature={proof}"
    )

"""The addresses of the pages, in one place: routes are declared with these shapes and the
templates build every link through these functions."""

from __future__ import annotations

from urllib.parse import quote, urlencode, urlsplit

from mirel.core.catalog import Element


def _q(text: str) -> str:
    return quote(text, safe="")


def element(kind: str, name: str, *, releases: bool = False) -> str:
    """Return the page of one element (with Releases and history open when `releases`)."""
    base = f"/elements/{_q(kind)}/{_q(name)}"
    return base + "/releases" if releases else base


def of(item: Element) -> str:
    """Return the page of an element of the catalog."""
    return element(item.kind.name, item.name)


def release(kind: str, name: str, version: str, action: str = "") -> str:
    """Return the address of an action on one release (publish, hotfix, compare, delete)."""
    return f"{element(kind, name)}/releases/{_q(version)}" + (f"/{action}" if action else "")


def hotfix(kind: str, name: str, line: str, action: str) -> str:
    """Return the address of an action on an element's open hotfix (release, close)."""
    return f"{element(kind, name)}/hotfixes/{_q(line)}/{action}"


def live_file(kind: str, name: str, path: str) -> str:
    """Return the page of one file this instance serves."""
    return f"{element(kind, name)}/files/{quote(path, safe='/')}"


def pull(number: int, action: str = "") -> str:
    """Return the page of a pull request, or the address of an action on it."""
    return f"/pulls/{number}" + (f"/{action}" if action else "")


def branch(name: str) -> str:
    """Return the page of a branch."""
    return f"/branches/{quote(name, safe='/')}"


def edit(branch_name: str | None, kind: str, name: str, path: str = "") -> str:
    """Return the editor of one element file, on a branch (or a new branch from main)."""
    query = {"element": f"{kind}/{name}", "path": path}
    if branch_name:
        query["branch"] = branch_name
    return "/edit?" + urlencode(query)


def deployment(number: int) -> str:
    """Return the page of one deployment."""
    return f"/deployments/{number}"


def manifest(name: str) -> str:
    """Return the page of one manifest."""
    return f"/manifests/{_q(name)}"


def releases_tab(q: str = "", kind: str = "", page: int = 1) -> str:
    """Return the Releases tab, filtered and paged as it was (where its picker goes back to)."""
    return query("/settings/releases", q=q, kind=kind, page=page if page > 1 else None)


def query(path: str, **params: object) -> str:
    """Return `path` with the non-empty `params` as its query string."""
    kept = {key: str(value) for key, value in params.items() if value not in (None, "", 0)}
    return path + ("?" + urlencode(kept) if kept else "")


def safe_next(target: str | None, default: str = "/") -> str:
    """Return `target` when it is a path on this site, else `default`.

    The sign-in page sends people back where they were; a `next` pointing to another site
    (`//evil.example`, `https://...`, `/\\evil`) would make it an open redirect.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return default
    if any(char in target for char in "\\\r\n\t") or any(ord(char) < 32 for char in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target

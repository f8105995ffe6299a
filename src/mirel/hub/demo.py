"""Demo content: a repository with apps, workflows, releases and manifests dev, staging and prod.

Used by `mirel demo` and `mirel up`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from mirel.core.kinds import APP, WORKFLOW, ElementKind
from mirel.core.versions import Bump
from mirel.git.repository import Author
from mirel.hub.hub import Hub
from mirel.hub.values import ChangeRequest

DEMO_AUTHOR = Author("mirel demo", "demo@mirel.invalid")

# (kind, name, versions of main.rsx / flow.json, one per release)
_ELEMENTS: list[tuple[ElementKind, str, list[str]]] = [
    (APP, "billing", ["Invoices v1", "Invoices v2 with totals", "Invoices v3 with PDF export"]),
    (APP, "crm", ["Contacts list", "Contacts with search"]),
    (APP, "status-board", []),
    (WORKFLOW, "nightly-sync", ["sync every night", "sync with retries"]),
]


def _files(kind: ElementKind, name: str, text: str) -> dict[str, bytes]:
    if kind is APP:
        return {
            "main.rsx": f'<App title="{name}">\n  <Text value="{text}" />\n</App>\n'.encode(),
            "lib/query1.sql": b"select * from invoices order by created_at desc;\n",
        }
    return {"flow.json": json.dumps({"name": name, "steps": [text]}, indent=2).encode() + b"\n"}


def build_demo(folder: Path, progress: Callable[[str], None] = lambda _: None) -> Hub:
    """Return the hub of `folder/hub.git`, creating it with demo content if it does not exist."""
    path = folder / "hub.git"
    if path.exists():
        return Hub.open(path)
    folder.mkdir(parents=True, exist_ok=True)
    hub = Hub.init(path, DEMO_AUTHOR)

    def merged(change: ChangeRequest) -> None:
        assert change.pull_request is not None
        hub.pulls.merge(change.pull_request.number, DEMO_AUTHOR)

    for kind, name, texts in _ELEMENTS:
        progress(f"adding {kind.name} {name}")
        merged(
            hub.elements.add(
                kind, name, _files(kind, name, texts[0] if texts else name), DEMO_AUTHOR
            )
        )
        for index, text in enumerate(texts):
            if index:
                merged(hub.elements.push(name, _files(kind, name, text), DEMO_AUTHOR))
            progress(f"releasing {name}")
            merged(hub.releases.create(name, DEMO_AUTHOR, bump=Bump.MINOR, description=text))
    progress("writing manifests")
    pins = {
        "dev": [("billing", "latest"), ("crm", "latest"), ("nightly-sync", "latest")],
        "staging": [("billing", "0.2.0"), ("crm", "latest"), ("nightly-sync", "0.2.0")],
        "prod": [("billing", "0.1.0"), ("crm", "0.1.0"), ("nightly-sync", "0.1.0")],
    }
    for manifest, entries in pins.items():
        merged(
            hub.manifests.change_pins(
                [(manifest, name, release) for name, release in entries],
                DEMO_AUTHOR,
                f"Create manifest {manifest}",
            )
        )
    return hub

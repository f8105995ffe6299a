"""The element-kind registry: apps and workflows, and room for more without touching the core.

A kind says where its sources and releases live, which metadata.json field holds the uuid, which
manifest key lists its pins, and how the compatible API names it (`elementType`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from mirel.errors import InvalidInput


@dataclass(frozen=True)
class ElementKind:
    """One kind of element (app, workflow, ...)."""

    name: str  # "app": used in CLI arguments, branch names and release.json
    plural: str  # "apps": the source folder, the dist folder and the manifest key
    uuid_field: str  # the metadata.json field holding the uuid
    api_type: str  # the compatible API's `elementType` value

    @property
    def source_root(self) -> str:
        """Return the folder holding the sources of every element of this kind."""
        return self.plural

    @property
    def dist_root(self) -> str:
        """Return the folder holding the release artifacts of this kind."""
        return f"dist/{self.plural}"

    def source_dir(self, element_name: str) -> str:
        """Return the source folder of one element."""
        return f"{self.plural}/{element_name}"

    def release_dir(self, uuid: str) -> str:
        """Return the folder holding one element's release artifacts."""
        return f"dist/{self.plural}/{uuid}"

    def artifact_path(self, uuid: str, version: str) -> str:
        """Return the repository path of one release artifact."""
        return f"dist/{self.plural}/{uuid}/{version}.zip"


APP = ElementKind(name="app", plural="apps", uuid_field="pageUuid", api_type="PAGE")
WORKFLOW = ElementKind(name="workflow", plural="workflows", uuid_field="uuid", api_type="WORKFLOW")


class KindRegistry:
    """The kinds mirel knows, looked up by name, plural or API type."""

    def __init__(self, *kinds: ElementKind) -> None:
        self._kinds: tuple[ElementKind, ...] = kinds

    def __iter__(self) -> Iterator[ElementKind]:
        return iter(self._kinds)

    def get(self, name: str) -> ElementKind:
        """Return the kind called `name` ("app" or "apps"), or raise InvalidInput listing kinds."""
        for kind in self._kinds:
            if name in (kind.name, kind.plural):
                return kind
        known = ", ".join(kind.name for kind in self._kinds)
        raise InvalidInput(f"unknown element kind {name!r}; use one of: {known}")

    def by_api_type(self, api_type: str) -> ElementKind:
        """Return the kind whose compatible-API `elementType` is `api_type`."""
        for kind in self._kinds:
            if kind.api_type == api_type:
                return kind
        known = ", ".join(kind.api_type for kind in self._kinds)
        raise InvalidInput(f"unknown elementType {api_type!r}; use one of: {known}")

    def by_plural(self, plural: str) -> ElementKind | None:
        """Return the kind whose folder and manifest key is `plural`, if any."""
        for kind in self._kinds:
            if kind.plural == plural:
                return kind
        return None


KINDS = KindRegistry(APP, WORKFLOW)

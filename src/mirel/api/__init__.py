"""The REST API of an instance (SPEC.md §5): `install_api(app)` adds its routes under /api/v2."""

from mirel.api.install import describe_invalid_input_as_400, install_api

__all__ = ["describe_invalid_input_as_400", "install_api"]

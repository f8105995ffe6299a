"""The REST API of an instance: `create_app(instance)` builds the FastAPI application."""

from mirel.api.app import create_app
from mirel.api.envelope import API_PREFIX

__all__ = ["API_PREFIX", "create_app"]

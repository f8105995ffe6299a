"""The REST API of an instance: `create_app(instance)` builds the FastAPI application."""

from mirel.api.app import API_PREFIX, create_app

__all__ = ["API_PREFIX", "create_app"]

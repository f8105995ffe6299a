"""The server: one instance's application, assembled from both faces (`app.create_app`)."""

from mirel.server.app import create_app

__all__ = ["create_app"]

"""The Python client of a running instance's REST API."""

from mirel.client.client import InstanceClient

__all__ = ["InstanceClient"]

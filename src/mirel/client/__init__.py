"""The Python client of a running instance's REST API."""

from mirel.client.client import Advice, InstanceClient

__all__ = ["Advice", "InstanceClient"]

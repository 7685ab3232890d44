"""Fixtures of the service tests: the real Redis server of the router-layer tests."""

from abkit.tests.adapters.conftest import redis_url

__all__ = ["redis_url"]

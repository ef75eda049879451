"""Fixtures of the console tests: the API tests' seeded store, keys and clients (re-exported),
and the browser fixtures (browser.py)."""

from tests.api.conftest import api_keys, app, bus, gql, seed

__all__ = ["api_keys", "app", "bus", "gql", "seed"]

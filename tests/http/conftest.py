"""Fixtures of the http tests."""

from tests.helpers.loader import dlt_env  # noqa: F401 - autouse fixture

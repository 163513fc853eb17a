"""Fixtures of the fields tests."""

from tests.helpers.loader import dlt_env  # noqa: F401 - autouse fixture

"""Fixtures of the fields tests."""

from tests.helpers.loader import dlt_env, make_loader  # noqa: F401 - fixtures (dlt_env autouse)

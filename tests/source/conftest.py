"""Fixtures of the source tests (shared with other folders through `tests/helpers/loader.py`)."""

from tests.helpers.loader import dlt_env, make_loader  # noqa: F401 - fixtures

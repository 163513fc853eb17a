"""Helpers shared by the test folders (one place: no test module imports another folder's
conftest)."""

"""Token cost of a Pipedrive API operation, from the spec-generated table in `cost_table.py`."""

from __future__ import annotations

from .cost_table import TOKEN_COSTS

__all__ = ["TOKEN_COSTS", "token_cost"]


def token_cost(api: str, method: str, path_template: str) -> int:
    """Return the daily-budget token cost of one API operation.

    Args:
        api: ``"v1"`` or ``"v2"``.
        method: HTTP method, any case (only GET operations are tabulated).
        path_template: path template exactly as in the spec, e.g. ``"/deals/{id}/flow"``.

    Returns:
        The operation's ``x-token-cost``.

    Raises:
        KeyError: the operation is not in the table.
    """
    key = (api, method.upper(), path_template)
    try:
        return TOKEN_COSTS[key]
    except KeyError:
        raise KeyError(f"no token cost for {key!r}") from None

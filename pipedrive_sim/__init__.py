"""Pipedrive API simulator: a deterministic fake company account served over HTTP."""

from .account import Account
from .clock import VirtualClock

from .server import SimServer

__all__ = ["Account", "SimServer", "VirtualClock"]

"""Pipedrive API simulator: a deterministic fake company account served over HTTP.

`pipedrive_sim.data` is the account (records, history, mutations, virtual clock) and
`pipedrive_sim.http` serves it (`SimServer`); see docs/sim-api.md.
"""

from .data import Account, VirtualClock
from .http import SimServer

__all__ = ["Account", "SimServer", "VirtualClock"]

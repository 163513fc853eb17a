"""Virtual clock of a simulated Pipedrive account.

All timestamps the simulator writes come from this clock, so tests can move time forward
(for example past the 30-day retention of deleted deals) without sleeping.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

#: The instant every generated account starts at. Generated history lies before it.
START = datetime(2026, 11, 1, 12, 0, 0, tzinfo=timezone.utc)


class VirtualClock:
    """A manually advanced UTC clock with one-second resolution.

    Args:
        start: The initial instant (aware datetime). Defaults to `START`.
    """

    def __init__(self, start: datetime = START) -> None:
        self._ts = int(start.timestamp())

    def now(self) -> datetime:
        """Return the current virtual instant as an aware UTC datetime."""
        return datetime.fromtimestamp(self._ts, tz=timezone.utc)

    def timestamp(self) -> int:
        """Return the current virtual instant as integer epoch seconds."""
        return self._ts

    def advance(self, seconds: float = 0, minutes: float = 0, hours: float = 0, days: float = 0) -> datetime:
        """Move the clock forward and return the new instant.

        Args:
            seconds: Seconds to add.
            minutes: Minutes to add.
            hours: Hours to add.
            days: Days to add.

        Returns:
            The new current instant.

        Raises:
            ValueError: If the total is negative (the clock never goes back).
        """
        delta = timedelta(seconds=seconds, minutes=minutes, hours=hours, days=days).total_seconds()
        if delta < 0:
            raise ValueError("the virtual clock cannot go backwards")
        self._ts += int(delta)
        return self.now()

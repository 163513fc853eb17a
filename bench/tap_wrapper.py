"""Runs Singer `tap-pipedrive` (2.1.0) against the simulator. Executed by `.venv-tap/bin/python`.

The tap's API host is the module constant `tap_pipedrive.tap.BASE_URL`; this wrapper overrides
it (and, when the simulator lacks the removed v1 `/deals/{id}/products` endpoint, points the
tap's deal-products stream at the v2 equivalent), then calls the tap's own `main()`.
It must not import anything from this repository: it runs in the tap's virtualenv.

The tap reads the wall clock twice: `users`/`files` switch from a full listing to `/recents`
when their bookmark is younger than one month (`pendulum.now()`), and `dealflow` visits deals
added or moved before the sync started (`datetime.now()`). The simulator's data lives on its
own virtual clock, so with `TAP_NOW` set both calls return that instant instead: the tap then
sees the account as a tap deployed at the account's present would, whatever the real date.

Environment:
    TAP_BASE_URL: simulator base URL, e.g. http://127.0.0.1:8765
    TAP_DEAL_PRODUCTS_V2: "1" to read deal products from /api/v2/deals/{id}/products
    TAP_NOW: optional ISO 8601 UTC instant the tap takes as "now" (the simulator's clock)
"""

import os
from datetime import datetime, timezone

import pendulum
import tap_pipedrive.stream as stream_module
import tap_pipedrive.tap as tap_module
from tap_pipedrive.cli import main
from tap_pipedrive.streams.deal_products import DealsProductsStream

tap_module.BASE_URL = os.environ["TAP_BASE_URL"].rstrip("/")
if os.environ.get("TAP_DEAL_PRODUCTS_V2") == "1":
    DealsProductsStream.api_version = "api/v2"

if os.environ.get("TAP_NOW"):
    _NOW = datetime.fromisoformat(os.environ["TAP_NOW"].replace("Z", "+00:00")).astimezone(timezone.utc)

    class _PinnedDatetime(datetime):
        """`datetime` whose `now()` is `TAP_NOW` (naive UTC, as the tap's `datetime.now()` on a UTC host)."""

        @classmethod
        def now(cls, tz=None):
            moment = cls.fromtimestamp(_NOW.timestamp(), tz or timezone.utc)
            return moment if tz else moment.replace(tzinfo=None)

    class _PinnedPendulum:
        """The `pendulum` module as `tap_pipedrive.stream` sees it, with `now()` = `TAP_NOW`."""

        def __getattr__(self, name):
            return getattr(pendulum, name)

        @staticmethod
        def now(tz="UTC"):
            return pendulum.instance(_NOW).in_timezone(tz)

    stream_module.datetime = _PinnedDatetime
    stream_module.pendulum = _PinnedPendulum()

if __name__ == "__main__":
    main()

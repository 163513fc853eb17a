"""Runs Singer `tap-pipedrive` (2.1.0) against the simulator. Executed by `.venv-tap/bin/python`.

The tap's API host is the module constant `tap_pipedrive.tap.BASE_URL`; this wrapper overrides
it (and, when the simulator lacks the removed v1 `/deals/{id}/products` endpoint, points the
tap's deal-products stream at the v2 equivalent), then calls the tap's own `main()`.
It must not import anything from this repository: it runs in the tap's virtualenv.

Environment:
    TAP_BASE_URL: simulator base URL, e.g. http://127.0.0.1:8765
    TAP_DEAL_PRODUCTS_V2: "1" to read deal products from /api/v2/deals/{id}/products
"""

import os

import tap_pipedrive.tap as tap_module
from tap_pipedrive.cli import main
from tap_pipedrive.streams.deal_products import DealsProductsStream

tap_module.BASE_URL = os.environ["TAP_BASE_URL"].rstrip("/")
if os.environ.get("TAP_DEAL_PRODUCTS_V2") == "1":
    DealsProductsStream.api_version = "api/v2"

if __name__ == "__main__":
    main()

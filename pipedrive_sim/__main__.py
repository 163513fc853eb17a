"""Run the simulator: ``python -m pipedrive_sim --size medium --port 8765``.

Prints the base URL and the accepted token, then serves until Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import orjson

from .data import Account
from .http.faults import FAULT_KINDS
from .http.rate_limits import BURST_LIMITS
from .http import SimServer


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m pipedrive_sim", description=__doc__)
    parser.add_argument("--size", default="small", choices=("tiny", "small", "medium", "large"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--token", default="sim-token", help="accepted API token")
    parser.add_argument("--oauth-token", action="append", default=[], help="accepted OAuth bearer token (repeatable)")
    parser.add_argument("--oauth-client", action="append", default=[], metavar="ID:SECRET",
                        help="OAuth client accepted by POST /oauth/token (repeatable)")
    parser.add_argument("--oauth-refresh-token", action="append", default=[], help="accepted refresh token (repeatable)")
    parser.add_argument("--oauth-code", action="append", default=[], help="single-use authorization code (repeatable)")
    parser.add_argument("--oauth-expires-in", type=float, default=3599, help="access-token lifetime in seconds")
    parser.add_argument("--rotate-refresh-tokens", action="store_true", help="new refresh token on every refresh")
    parser.add_argument("--plan", default="growth", choices=sorted(BURST_LIMITS))
    parser.add_argument("--seats", type=int, default=10)
    parser.add_argument("--daily-budget", type=int, default=None, help="override the daily token budget")
    parser.add_argument("--burst-limit", type=int, default=None, help="override requests per 2 s per API token")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--jitter-ms", type=float, default=0.0)
    parser.add_argument("--abuse-threshold", type=int, default=50, help="429s within the window before the 403 block")
    parser.add_argument("--abuse-window-s", type=float, default=10.0)
    parser.add_argument("--abuse-cooldown-s", type=float, default=60.0)
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="JSON",
        help=f'fault rule as JSON, e.g. \'{{"kind": "error", "path": "/deals", "count": 3}}\'; kinds: {sorted(FAULT_KINDS)}',
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Generate the account, start the server and serve until interrupted."""
    args = parse_args(argv)
    account = Account.generate(size=args.size, seed=args.seed)
    server = SimServer(
        account,
        token=args.token,
        oauth_tokens=args.oauth_token,
        oauth_clients=dict(client.split(":", 1) for client in args.oauth_client),
        oauth_refresh_tokens=args.oauth_refresh_token,
        oauth_codes=args.oauth_code,
        oauth_expires_in=args.oauth_expires_in,
        rotate_refresh_tokens=args.rotate_refresh_tokens,
        plan=args.plan,
        seats=args.seats,
        daily_budget=args.daily_budget,
        burst_limit=args.burst_limit,
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        host=args.host,
        port=args.port,
        seed=args.seed,
        abuse_threshold=args.abuse_threshold,
        abuse_window_s=args.abuse_window_s,
        abuse_cooldown_s=args.abuse_cooldown_s,
        faults=[orjson.loads(f) for f in args.fault],
    )
    server.start()
    print(f"Pipedrive simulator ({args.size}, seed {args.seed}, plan {args.plan}) at {server.base_url}", flush=True)
    print(f"  v1: {server.base_url}/v1 and {server.base_url}/api/v1   v2: {server.base_url}/api/v2", flush=True)
    print(f"  token: {server.token}   (header x-api-token)", flush=True)
    if args.oauth_client:
        print(f"  oauth: POST {server.base_url}/oauth/token (Basic client auth)", flush=True)
    print(f"  control: {server.base_url}/_sim/stats   Ctrl-C to stop", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""pytest fixtures that run the simulator in-process on a free port.

Load with ``pytest_plugins = ["pipedrive_sim.pytest_plugin"]``.

Fixtures:
    sim_account: a fresh ``tiny`` account (seed 1) per test.
    sim_server: a started :class:`SimServer` over ``sim_account`` (burst limit lifted, so tests are not
        throttled unless they ask to be), stopped after the test.
    make_sim: factory ``make_sim(size="tiny", seed=1, account=None, **server_kwargs) -> SimServer``;
        every server it starts is stopped after the test.
    sim_session: a ``requests.Session`` with the ``x-api-token`` header of ``sim_server``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .data import Account
from .http import SimServer

TEST_TOKEN = "sim-token"
UNTHROTTLED = 1_000_000


@pytest.fixture
def sim_account() -> Account:
    """A fresh deterministic ``tiny`` account."""
    return Account.generate(size="tiny", seed=1)


@pytest.fixture
def make_sim() -> Iterator[Callable[..., SimServer]]:
    """Factory that starts simulators and stops them after the test."""
    started: list[SimServer] = []

    def factory(size: str = "tiny", seed: int = 1, account: Account | None = None, **server_kwargs: Any) -> SimServer:
        server_kwargs.setdefault("token", TEST_TOKEN)
        server_kwargs.setdefault("seed", seed)
        server = SimServer(account if account is not None else Account.generate(size=size, seed=seed), **server_kwargs)
        started.append(server.start())
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture
def sim_server(sim_account: Account, make_sim: Callable[..., SimServer]) -> SimServer:
    """A started simulator over ``sim_account`` without burst throttling."""
    return make_sim(account=sim_account, burst_limit=UNTHROTTLED)


@pytest.fixture
def sim_session(sim_server: SimServer) -> Iterator[Any]:
    """A ``requests.Session`` authenticated for ``sim_server``."""
    import requests

    with requests.Session() as session:
        session.headers["x-api-token"] = sim_server.token
        yield session

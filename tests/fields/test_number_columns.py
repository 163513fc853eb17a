"""Number columns stay one column whatever JSON number arrives first: a whole price (`100`) would
make dlt type the column bigint and put the next `99.5` into a variant column `item_price__v_double`."""

from __future__ import annotations

from typing import Any, Callable

from pipedrive_sim.data.account import Account
from tests.helpers.loader import Loader


def whole_prices(account: Account) -> None:
    """Every deal product's numbers whole, as JSON renders 100.0 (product prices are a json column)."""
    for row in account.records("deal_products"):
        account.update("deal_products", row["id"], {"item_price": 100, "sum": 200, "quantity": 2, "discount": 0})


def test_whole_numbers_first_then_fractions_share_one_column(
    sim_account: Account, make_sim: Callable[..., Any], make_loader: Callable[..., Loader]
) -> None:
    whole_prices(sim_account)
    server = make_sim(account=sim_account)
    loader = make_loader(server)
    loader.run("deals", "deal_products")

    sim_account.clock.advance(hours=1)
    row = sim_account.records("deal_products")[0]
    sim_account.update("deal_products", row["id"], {"item_price": 99.5, "sum": 199.25, "quantity": 1.5})
    loader.run("deals", "deal_products")

    columns = loader.columns("deal_products")
    assert not [c for c in columns if "__v_" in c], sorted(columns)
    assert all(columns[name] == "double" for name in ("item_price", "sum", "quantity", "discount")), columns
    assert loader.rows(
        f"select item_price, sum, quantity from deal_products where id = {row['id']}"
    ) == [(99.5, 199.25, 1.5)]

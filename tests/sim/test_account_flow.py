"""Deal flow kinds, `items`/`all_changes` selection, and follower/participant mutations."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from pipedrive_sim import Account
from pipedrive_sim.data import deal_flow
from pipedrive_sim.http import flow_filter


@pytest.fixture()
def account() -> Account:
    return Account.generate("tiny", seed=5)


@pytest.fixture(scope="module")
def small() -> Account:
    return Account.generate("small", seed=3)


def _now_v2(account: Account) -> str:
    return account.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")


def _now_v1(account: Account) -> str:
    return account.clock.now().strftime("%Y-%m-%d %H:%M:%S")


def _open_deal(account: Account) -> dict[str, Any]:
    return next(d for d in account.records("deals") if not d["is_deleted"] and not d["is_archived"])


def test_small_flows_have_every_kind_newest_first(small: Account) -> None:
    counts: Counter[str] = Counter()
    deals = small.records("deals")
    for deal in deals:
        flow = small.deal_flow(deal["id"])
        counts.update(i["object"] for i in flow)
        stamps = [i["timestamp"] for i in flow]
        assert stamps == sorted(stamps, reverse=True), deal["id"]
    assert set(counts) == set(deal_flow.KINDS), counts
    assert counts["deal"] == len(deals)  # one creation item per deal
    assert 8 <= sum(counts.values()) / len(deals) <= 12  # about 10 flow items per deal


def test_flow_is_deterministic_and_consistent_with_records(small: Account) -> None:
    again = Account.generate("small", seed=3)
    deal_ids = [d["id"] for d in small.records("deals")[:40]]
    assert [small.deal_flow(i) for i in deal_ids] == [again.deal_flow(i) for i in deal_ids]
    activities = {a["id"]: a for a in small.records("activities")}
    for deal_id in deal_ids:
        for item in small.deal_flow(deal_id):
            if item["object"] in ("activity", "plannedActivity"):
                activity = activities[item["data"]["id"]]
                assert activity["deal_id"] == deal_id
                assert activity["done"] is (item["object"] == "activity")
            elif item["object"] in ("note", "file", "call", "follower"):
                assert item["data"]["deal_id"] == deal_id


def test_matches_items_aliases_and_all_changes() -> None:
    change = {"object": "dealChange", "data": {"field_key": "value"}}
    custom = {"object": "dealChange", "data": {"field_key": "a" * 40}}
    follower = {"object": "follower", "data": {}}
    plain_mail = {"object": "mailMessage", "data": {"has_attachments_flag": 0}}
    attached_mail = {"object": "mailMessage", "data": {"has_attachments_flag": 1}}
    everything = flow_filter.wanted_kinds("")
    assert everything is None
    assert flow_filter.matches(change, None, False) and not flow_filter.matches(custom, None, False)
    assert flow_filter.matches(custom, None, True)
    assert flow_filter.matches(change, flow_filter.wanted_kinds("change"), False)
    assert flow_filter.matches(follower, flow_filter.wanted_kinds("note, dealFollower"), False)
    assert not flow_filter.matches(follower, flow_filter.wanted_kinds("note"), False)
    with_attachment = flow_filter.wanted_kinds("mailMessageWithAttachment")
    assert flow_filter.matches(attached_mail, with_attachment, False)
    assert not flow_filter.matches(plain_mail, with_attachment, False)
    assert flow_filter.matches(plain_mail, flow_filter.wanted_kinds("mailMessage"), False)


def test_follower_add_and_remove(account: Account) -> None:
    deal = _open_deal(account)
    followed = {r["user_id"] for r in account.deal_followers(deal["id"])}
    user = next(u["id"] for u in account.records("users") if u["id"] not in followed)
    versions = {e: account.version(e) for e in ("deals", "deal_followers", "deal_flow")}
    account.clock.advance(hours=3)
    row = account.create("deal_followers", {"deal_id": deal["id"], "user_id": user})
    assert row == {"user_id": user, "add_time": _now_v2(account), "deal_id": deal["id"]}
    assert all(account.version(e) > v for e, v in versions.items())
    assert account.deal_followers(deal["id"])[-1] == {"user_id": user, "add_time": _now_v2(account)}
    stored = next(d for d in account.records("deals") if d["id"] == deal["id"])
    assert stored["update_time"] == _now_v2(account)  # counts changed: the deal is touched
    item = next(i for i in account.deal_flow(deal["id"]) if i["object"] == "follower" and i["data"]["user_id"] == user)
    assert item["timestamp"] == _now_v1(account) and item["data"]["deal_id"] == deal["id"]
    truth = account.ground_truth()["deal_followers"]
    assert {"deal_id": deal["id"], "user_id": user, "add_time": _now_v2(account)} in truth
    with pytest.raises(ValueError):
        account.create("deal_followers", {"deal_id": deal["id"], "user_id": user})
    account.clock.advance(minutes=1)
    account.delete("deal_followers", f"{deal['id']}:{user}")
    assert user not in {r["user_id"] for r in account.deal_followers(deal["id"])}
    assert not [i for i in account.deal_flow(deal["id"]) if i["object"] == "follower" and i["data"]["user_id"] == user]
    owner = deal["owner_id"]  # a generated follower can be removed too
    account.delete("deal_followers", (deal["id"], owner))
    assert owner not in {r["user_id"] for r in account.deal_followers(deal["id"])}
    with pytest.raises(KeyError):
        account.delete("deal_followers", (deal["id"], owner))


def test_participant_add_and_remove(account: Account) -> None:
    deal = _open_deal(account)
    taken = {r["person"]["id"] for r in account.deal_participants(deal["id"])}
    person = next(p for p in account.records("persons") if p["id"] not in taken)
    account.clock.advance(hours=1)
    before = account.version("deal_participants")
    row = account.create("deal_participants", {"deal_id": deal["id"], "person_id": person["id"]})
    assert account.version("deal_participants") > before
    assert row["deal_id"] == deal["id"] and row["person"]["id"] == person["id"]
    assert row["add_time"] == _now_v1(account) and row["related_item_id"] == deal["id"]
    rows = account.deal_participants(deal["id"])
    assert rows[-1] == {k: v for k, v in row.items() if k != "deal_id"}
    flow_ids = [i["data"]["id"] for i in account.deal_flow(deal["id"]) if i["object"] == "participant"]
    assert row["id"] in flow_ids
    assert next(d for d in account.records("deals") if d["id"] == deal["id"])["update_time"] == _now_v2(account)
    with pytest.raises(ValueError):
        account.create("deal_participants", {"deal_id": deal["id"], "person_id": person["id"]})
    account.delete("deal_participants", (deal["id"], row["id"]))
    assert row["id"] not in {r["id"] for r in account.deal_participants(deal["id"])}
    with pytest.raises(KeyError):
        account.create("deal_participants", {"deal_id": deal["id"], "person_id": 10**9})


def test_control_api_adds_and_removes_followers(account: Account) -> None:
    import requests  # noqa: PLC0415

    from pipedrive_sim import SimServer  # noqa: PLC0415

    deal = _open_deal(account)
    user = next(u["id"] for u in account.records("users")
                if u["id"] not in {r["user_id"] for r in account.deal_followers(deal["id"])})
    with SimServer(account, token="t") as server:
        base = f"{server.base_url}/_sim/records/deal_followers"
        created = requests.post(base, json={"deal_id": deal["id"], "user_id": user}, timeout=10).json()
        assert created["success"] and created["data"]["user_id"] == user
        flow = requests.get(f"{server.base_url}/v1/deals/{deal['id']}/flow", params={"items": "follower"},
                            headers={"x-api-token": "t"}, timeout=10).json()["data"]
        assert user in {i["data"]["user_id"] for i in flow}
        gone = requests.post(f"{base}/{deal['id']}:{user}/delete", timeout=10).json()
        assert gone["success"], gone
        assert user not in {r["user_id"] for r in account.deal_followers(deal["id"])}


def test_flow_version_moves_with_linked_records(account: Account) -> None:
    deal = _open_deal(account)
    before = len(account.records("deal_flow"))
    version = account.version("deal_flow")
    account.clock.advance(hours=1)
    note = account.create("notes", {"deal_id": deal["id"], "content": "<p>hi</p>"})
    assert account.version("deal_flow") > version
    rows = account.records("deal_flow")
    assert len(rows) == before + 1
    assert {"object": "note", "timestamp": note["add_time"], "data": note, "deal_id": deal["id"]} in rows
    version = account.version("deal_participants")
    account.update("persons", account.records("persons")[0]["id"], {"name": "Renamed"})
    assert account.version("deal_participants") > version

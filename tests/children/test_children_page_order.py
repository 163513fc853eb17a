"""Every deal of a multi-page listing gets its children, in whatever order dlt hands the pages over.

dlt calls a transformer once per page of its parent and runs each call as a generator of its own,
taken round-robin with every other resource of the run: the pages of one listing do not reach a
transformer in listing order. A queue that decided "already seen" against the newest deal of the
run so far skipped whole earlier pages (500 deals without changelog or participants on `medium`).
"""

from __future__ import annotations

from typing import Any, Callable

from pipedrive.deal_children.queue import BOUNDARY_KEY, DealQueue
from tests.children.conftest import deal_id_of, requests_to
from tests.helpers.loader import Loader
from pipedrive_sim.pytest_plugin import UNTHROTTLED

PAGE_SIZE = 25
PER_DEAL_ENDPOINTS = ("v1 /deals/{id}/changelog", "v1 /deals/{id}/participants", "v2 /deals/{id}/followers")


def _page(first: int, count: int, day: int) -> list[tuple[int, str]]:
    return [(first + i, f"2026-01-{day:02d}T10:00:{i:02d}Z") for i in range(count)]


def test_pages_taken_out_of_order_are_all_news() -> None:
    state: dict[str, Any] = {}
    queue = DealQueue(state)
    pages = [_page(1, 3, 1), _page(4, 3, 2), _page(7, 3, 3)]
    news = [deal_id for page in reversed(pages) for deal_id, time in page if queue.is_new(deal_id, time, f"fp{deal_id}")]
    assert sorted(news) == list(range(1, 10))
    queue.save()
    assert state[BOUNDARY_KEY]["update_time"] == "2026-01-03T10:00:02Z"


def test_the_next_run_skips_what_earlier_runs_saw_and_takes_what_changed() -> None:
    state: dict[str, Any] = {}
    first = DealQueue(state)
    for deal_id, time in _page(1, 3, 1):
        first.is_new(deal_id, time, f"fp{deal_id}")
    first.save()
    queue = DealQueue(state)
    newest = "2026-01-01T10:00:02Z"
    assert not queue.is_new(1, "2026-01-01T10:00:00Z", "fp1")  # older: a re-read of the listing
    assert not queue.is_new(3, newest, "fp3")  # the inclusive cursor re-lists the newest deal
    assert queue.is_new(9, newest, "fp9")  # same second, another deal
    assert queue.is_new(3, "2026-01-05T00:00:00Z", "fp3-changed")
    assert queue.is_new(2, "2026-01-04T00:00:00Z", "fp2-changed")  # an earlier page, taken later


def test_a_full_run_in_small_pages_fetches_the_children_of_every_deal(
    make_sim: Callable[..., Any], make_loader: Callable[..., Loader]
) -> None:
    server = make_sim(size="small", burst_limit=UNTHROTTLED)
    deal_ids = {deal["id"] for deal in server.account.records("deals")}
    assert len(deal_ids) > 8 * PAGE_SIZE
    loader = make_loader(server)
    loader.run(max_tokens_per_run=10**9, page_size=PAGE_SIZE)  # every resource: the most interleaving

    for endpoint in PER_DEAL_ENDPOINTS:
        fetched = {deal_id_of(entry) for entry in requests_to(server, endpoint) if entry.status == 200}
        missing = sorted(deal_ids - fetched)
        assert not missing, f"{endpoint}: {len(missing)} of {len(deal_ids)} deals never fetched, e.g. {missing[:5]}"
    loaded = {row[0] for row in loader.rows("SELECT DISTINCT deal_id FROM deal_followers")}
    assert loaded == {i for i in deal_ids if server.account.deal_followers(i)}

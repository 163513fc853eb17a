"""`read_ahead`: a listing's pages are read in a thread of their own, handed over in order, and
the reading stops when the consumer does."""

from __future__ import annotations

import threading
import time
from typing import Any, Iterator, List

import pytest

from pipedrive.http.read_ahead import read_ahead


def _pages(count: int, size: int = 3, seconds_each: float = 0.0, log: List[int] | None = None) -> Iterator[List[int]]:
    for number in range(count):
        if seconds_each:
            time.sleep(seconds_each)
        if log is not None:
            log.append(number)
        yield [number * size + i for i in range(size)]


def test_every_record_arrives_once_and_in_order() -> None:
    records = [r for batch in read_ahead(_pages(25), depth=4) for r in batch]
    assert records == list(range(75))


def test_pages_are_read_while_the_consumer_is_busy_and_handed_over_together() -> None:
    reader = read_ahead(_pages(5, seconds_each=0.1), depth=10)
    started = time.monotonic()
    first = next(reader)
    time.sleep(0.6)  # the consumer is busy: the other 4 pages (0.4 s) are read meanwhile
    rest = list(reader)
    elapsed = time.monotonic() - started
    assert first == [0, 1, 2]
    assert len(rest) == 1 and rest[0] == list(range(3, 15))  # taken in one turn
    assert elapsed < 0.95  # ~0.7 s; read after the pause it would be 0.1 + 0.6 + 4 x 0.1


def test_an_error_of_the_listing_is_raised_after_the_pages_before_it() -> None:
    def failing() -> Iterator[List[int]]:
        yield [1]
        yield [2]
        raise ValueError("HTTP 500 on page 3")

    received: List[Any] = []
    with pytest.raises(ValueError, match="page 3"):
        for batch in read_ahead(failing()):
            received.extend(batch)
            time.sleep(0.05)
    assert received == [1, 2]


def test_closing_the_consumer_stops_the_reading_and_closes_the_listing() -> None:
    read: List[int] = []
    closed = threading.Event()

    def listing() -> Iterator[List[int]]:
        try:
            yield from _pages(1000, seconds_each=0.01, log=read)
        finally:
            closed.set()

    reader = read_ahead(listing(), depth=3)
    next(reader)
    reader.close()
    assert closed.wait(2.0), "the listing was not closed"
    time.sleep(0.1)
    # the page handed over, the pages held ready, and the one in flight at most
    assert len(read) <= 1 + 3 + 1 + 1, read

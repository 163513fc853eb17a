"""Reading a listing's next pages in a thread of its own while dlt processes the current one.

Listings are dlt `parallelized` resources: each step of their generator waits for a worker of
dlt's extract pool. A listing that is a long chain of dependent requests (v1 `callLogs`: 50 rows
a page, read in full when due) then sends one page per turn of the pool and ends the run alone,
long after everything else. dlt has no per-resource priority, so the chain of requests moves to a
thread of its own; dlt still takes the pages in its own order.

Each turn the consumer gets from dlt takes every page read so far, so a listing needs few turns
however many pages it has. Only for listings whose every page is read anyway
(`Entity.reads_every_page`: those without a cursor): a listing cut short by its consumer (a chunk
limit, a descending cursor) would pay for the pages read ahead.
"""

import queue
import threading
from typing import Any, Iterator, List, Union

DEFAULT_DEPTH = 20
"""Pages held ready at most: 1,000 call logs, 10,000 rows of a 500-row listing."""
_POLL_SECONDS = 0.1
_END = object()


class _Failure:
    """An exception of the reading thread, to be raised in the consumer's."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


def _ends(item: object) -> bool:
    return item is _END or isinstance(item, _Failure)


def read_ahead(
    pages: Iterator[List[Any]], depth: int = DEFAULT_DEPTH, name: str = "listing"
) -> Iterator[List[Any]]:
    """Iterates `pages` in a background thread, up to `depth` pages ahead of the consumer.

    Exceptions of `pages` are raised in the consumer at the point it reaches them. Closing the
    returned generator (dlt does at the end of the resource, or on error) stops the reading
    after the request in flight and closes `pages`.

    Args:
        pages: The page iterator; it is only ever advanced by the reading thread.
        depth: Pages held ready at most.
        name: Listing name, for the thread's name.

    Yields:
        The records of `pages`, in order: each time, every page read since the last time (one
        page at least, so possibly an empty list).
    """
    ready: "queue.Queue[Union[List[Any], object, _Failure]]" = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def hand_over(item: Union[List[Any], object, _Failure]) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for page in pages:
                if not hand_over(page):
                    return
            hand_over(_END)
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, raised there
            hand_over(_Failure(error))
        finally:
            close = getattr(pages, "close", None)
            if close is not None:
                close()

    reader = threading.Thread(target=read, name=f"pipedrive-read-ahead-{name}", daemon=True)
    reader.start()
    try:
        while True:
            batch = [ready.get()]  # waits for the next page, then takes every page ready
            while not _ends(batch[-1]):
                try:
                    batch.append(ready.get_nowait())
                except queue.Empty:
                    break
            last = batch[-1]
            pages_read = batch[:-1] if _ends(last) else batch
            if pages_read:
                yield [record for page in pages_read for record in page]  # type: ignore[attr-defined]
            if last is _END:
                return
            if isinstance(last, _Failure):
                raise last.error
    finally:
        stop.set()

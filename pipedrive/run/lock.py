"""One run at a time per pipeline: a lock file beside the pipeline's working folder.

Two runs of one pipeline at the same time (cron without `flock`, a manual run during a scheduled
one, an orchestrator with two active runs) interleave dlt's extract, normalize and load steps on
one working folder and one dataset. The second run therefore waits for the lock or gives up at
once, with one line naming the run that holds it.

The lock is an OS file lock (`fcntl.flock`; `msvcrt.locking` on Windows) on
`<pipelines dir>/.<pipeline name>.lock`: the kernel releases it when its process ends, however it
ends, so the lock of a killed run is taken over by the next run without any staleness guess. The
file also records who holds it (pid, host, start time) for the message. It guards the runs of one
machine (one pipelines folder); runs on different machines need the orchestrator's own
one-run-at-a-time setting, and whatever they still leave out of step is repaired by the next run
(`recovery.tables_to_reload`).
"""

import contextlib
import datetime as dt
import json
import os
import socket
import threading
import time
from typing import IO, Dict, Iterator, Tuple

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]
    import msvcrt

POLL_SECONDS = 0.5


class RunInProgressError(Exception):
    """Another run of the same pipeline holds the lock."""


_held: Dict[str, Tuple[IO[str], int]] = {}
"""Lock path -> (open file, depth): the process's own nested takes (the command line, then
`load`) share one OS lock."""
_held_guard = threading.Lock()


def lock_path(pipelines_dir: str, pipeline_name: str) -> str:
    """Where the lock of a pipeline lives: beside its working folder, so wiping the folder between
    runs does not delete the lock of a run in progress."""
    return os.path.join(pipelines_dir, f".{pipeline_name}.lock")


def _try_lock(handle: IO[str]) -> bool:
    try:
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:  # pragma: no cover - Windows
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        return True
    except OSError:
        return False


def _holder(path: str) -> str:
    """Who holds the lock, from the lock file. The holder writes it just after taking the lock,
    so an empty or half-written file is read again for up to a second."""
    for _ in range(20):
        try:
            with open(path, encoding="utf-8") as handle:
                info = json.loads(handle.read() or "{}")
            return f"pid {info['pid']} on {info['host']}, since {info['since']}"
        except (OSError, ValueError, KeyError):
            time.sleep(0.05)
    return "unknown process"


@contextlib.contextmanager
def run_lock(pipelines_dir: str, pipeline_name: str, wait_seconds: float = 0.0) -> Iterator[None]:
    """Holds the pipeline's run lock while the block runs.

    Args:
        pipelines_dir: dlt's pipelines folder of the pipeline.
        pipeline_name: The pipeline's name.
        wait_seconds: How long to wait for a run in progress to finish (0: give up at once).

    Raises:
        RunInProgressError: Another run holds the lock (after `wait_seconds`).
    """
    path = lock_path(pipelines_dir, pipeline_name)
    with _held_guard:
        held = _held.get(path)
        if held is not None:
            _held[path] = (held[0], held[1] + 1)
    if held is None:
        os.makedirs(pipelines_dir, exist_ok=True)
        handle = open(path, "a+", encoding="utf-8")
        deadline = time.monotonic() + max(0.0, wait_seconds)
        while not _try_lock(handle):
            if time.monotonic() >= deadline:
                holder = _holder(path)
                handle.close()
                raise RunInProgressError(
                    f"another run of pipeline '{pipeline_name}' is in progress ({holder}); this run "
                    "did nothing - let that one finish, or wait for it with --wait-for-lock SECONDS"
                )
            time.sleep(POLL_SECONDS)
        handle.seek(0)
        handle.truncate()
        since = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": since}))
        handle.flush()
        with _held_guard:
            _held[path] = (handle, 1)
    try:
        yield
    finally:
        with _held_guard:
            handle, depth = _held[path]
            if depth > 1:
                _held[path] = (handle, depth - 1)
            else:
                del _held[path]
                handle.close()  # closing the file releases the OS lock

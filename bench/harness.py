"""Shared benchmark harness: machine facts, simulators, pipeline runs, mutations, results.

Every benchmark module builds on these helpers so that a number means the same thing in every
benchmark: requests and tokens are counted by the simulator (what Pipedrive would bill), wall
time is `time.perf_counter` around `pipeline.run`, the destination is DuckDB loaded from jsonl.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import math
import argparse
import os
import platform
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
RESULTS_MD = BENCH_DIR / "RESULTS.md"


def quiet_dlt_logs() -> None:
    """Runs dlt with its log at ERROR; called by the benchmark entry points only, never at import,
    so importing the harness (the smoke tests do) leaves the test session's logging alone."""
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")
TOKEN = "bench-token"
UNLIMITED = 1_000_000_000
"""Burst limit / daily budget that never binds."""
GROWTH_REQUESTS_PER_SECOND = 20.0
"""Growth plan, API token: 40 requests per rolling 2 s window."""

MUTABLE_ENTITIES: tuple[str, ...] = (
    "deals", "persons", "organizations", "activities", "products", "notes", "files", "leads",
)
"""Entities the incremental benchmarks change (each by the same fraction)."""
_TEXT_KEYS = ("title", "name", "subject", "content", "file_name")


# ----------------------------------------------------------------------------------- machine
def machine_info() -> dict[str, Any]:
    """Facts about the machine and the code the numbers were taken with."""
    try:
        import psutil

        ram_gb = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:  # pragma: no cover - psutil is in requirements-dev
        ram_gb = None
    try:
        import dlt

        dlt_version = dlt.__version__
    except ImportError:  # pragma: no cover
        dlt_version = None
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                             text=True, check=False).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "pipedrive"], cwd=REPO_ROOT,
                                    capture_output=True, text=True, check=False).stdout.strip())
    except OSError:  # pragma: no cover
        rev, dirty = "", False
    return {
        "uname": " ".join(platform.uname()),
        "cores": os.cpu_count(),
        "ram_gb": ram_gb,
        "python": platform.python_version(),
        "dlt": dlt_version,
        "git": rev + ("+dirty(pipedrive/)" if dirty else ""),
        "loadavg_1_5_15": [round(x, 2) for x in os.getloadavg()],
    }


def now_utc() -> str:
    """Current UTC time, ISO 8601 to the second."""
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


# ----------------------------------------------------------------------------------- accounts
@functools.lru_cache(maxsize=None)
def _generated(size: str, seed: int) -> Any:
    from pipedrive_sim import Account

    return Account.generate(size=size, seed=seed)


def fresh_account(size: str, seed: int = 1) -> Any:
    """A newly generated account (not shared: the benchmarks mutate it).

    Args:
        size: `tiny`, `small`, `medium` or `large`.
        seed: Generator seed.
    """
    from pipedrive_sim import Account

    started = time.perf_counter()
    account = Account.generate(size=size, seed=seed)
    print(f"  generated {size} account in {time.perf_counter() - started:.1f} s", flush=True)
    return account


def mutate_fraction(account: Any, fraction: float, *, seed: int = 7, advance_minutes: int = 60) -> dict[str, int]:
    """Changes `fraction` of the records of every entity in `MUTABLE_ENTITIES`.

    Uses the simulator's mutation API (`Account.update`), after advancing the virtual clock so
    the new `update_time` values are later than anything synced before. Deals get a real field
    change (a title edit, which also lands in their changelog/flow); other records get a text
    field edit where they have one.

    Args:
        account: The simulator account.
        fraction: Share of each entity's records to change, e.g. 0.01.
        seed: Random seed choosing the records.
        advance_minutes: Virtual minutes to advance before changing.

    Returns:
        Changed record count per entity.
    """
    rng = random.Random(seed)
    account.clock.advance(minutes=advance_minutes)
    changed: dict[str, int] = {}
    for entity in MUTABLE_ENTITIES:
        records = account.records(entity)
        if entity == "deals":
            records = [r for r in records if not r.get("is_deleted")]
        count = min(len(records), max(1, round(fraction * len(records)))) if records else 0
        for rec in rng.sample(records, count):
            key = next((k for k in _TEXT_KEYS if isinstance(rec.get(k), str)), None)
            changes = {key: f"{rec[key]} (edited)"} if key else {}
            account.update(entity, rec["id"], changes)
        changed[entity] = count
    return changed


# ----------------------------------------------------------------------------------- simulator
@contextlib.contextmanager
def sim_server(account: Any, *, plan: str = "growth", burst_limit: int | None = UNLIMITED,
               latency_ms: float = 0.0, **kwargs: Any) -> Iterator[Any]:
    """An in-process `SimServer` with an unlimited daily budget.

    Args:
        account: The account to serve.
        plan: Pipedrive plan (burst limit when `burst_limit` is None).
        burst_limit: Requests per 2 s; `UNLIMITED` by default, None for the plan's limit.
        latency_ms: Latency added to every response.
        **kwargs: Further `SimServer` arguments.
    """
    from pipedrive_sim import SimServer

    kwargs.setdefault("daily_budget", UNLIMITED)
    with SimServer(account, token=TOKEN, plan=plan, burst_limit=burst_limit, latency_ms=latency_ms,
                   **kwargs) as server:
        yield server


@dataclass
class SubprocessSim:
    """`python -m pipedrive_sim` in a child process (its CPU and memory are not ours).

    Attributes:
        base_url: Where it serves.
        process: The child process.
    """

    base_url: str
    process: subprocess.Popen

    def stats(self) -> dict[str, Any]:
        """`GET /_sim/stats`."""
        return _control(self.base_url, "GET", "/_sim/stats")

    def reset_log(self) -> None:
        """`POST /_sim/log/reset`."""
        _control(self.base_url, "POST", "/_sim/log/reset")

    def stop(self) -> None:
        """Terminates the child (only this process, by its pid)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _control(base_url: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    import requests

    response = requests.request(method, base_url + path, json=body, timeout=600)
    response.raise_for_status()
    return response.json()["data"]


@contextlib.contextmanager
def subprocess_sim(size: str, *, latency_ms: float = 0.0, burst_limit: int = UNLIMITED,
                   plan: str = "growth", seed: int = 1, timeout_s: float = 900,
                   abuse: tuple[int, float] | None = None) -> Iterator[SubprocessSim]:
    """Starts the simulator CLI in a child process and waits until it serves.

    Args:
        size: Account size.
        latency_ms: Latency per response.
        burst_limit: Requests per 2 s.
        plan: Pipedrive plan.
        seed: Generator seed.
        timeout_s: How long account generation may take.
        abuse: Cloudflare block after this many 429s within this many seconds (the simulator's
            default when None).
    """
    cmd = [sys.executable, "-m", "pipedrive_sim", "--size", size, "--seed", str(seed), "--port", "0",
           "--token", TOKEN, "--plan", plan, "--latency-ms", str(latency_ms), "--burst-limit", str(burst_limit),
           "--daily-budget", str(UNLIMITED)]
    if abuse is not None:
        cmd += ["--abuse-threshold", str(abuse[0]), "--abuse-window-s", str(abuse[1])]
    process = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    sim = None
    try:
        deadline = time.monotonic() + timeout_s
        assert process.stdout is not None
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                raise RuntimeError(f"simulator exited with {process.poll()}")
            found = re.search(r"at (http://\S+)", line)
            if found:
                sim = SubprocessSim(found.group(1), process)
                break
        if sim is None:
            raise TimeoutError("simulator did not start")
        # drain the rest of its stdout so it never blocks on a full pipe
        threading.Thread(target=process.stdout.read, daemon=True).start()
        yield sim
    finally:
        if sim is not None:
            sim.stop()
        elif process.poll() is None:
            process.kill()


def server_counts(stats: dict[str, Any]) -> dict[str, Any]:
    """Requests, tokens, 429s and 403 blocks from `SimServer.stats()` / `/_sim/stats`."""
    return {
        "requests": stats["requests"],
        "tokens": stats["tokens_spent"],
        "responses_429": stats["responses_429"],
        "blocked_403": stats["blocked_403"],
        "by_endpoint": {k: {"requests": v["requests"], "tokens": v["tokens"]} for k, v in stats["endpoints"].items()},
    }


# ----------------------------------------------------------------------------------- pipelines
@dataclass
class RunResult:
    """One `pipeline.run` measured.

    Attributes:
        wall_s: Seconds around `pipeline.run`.
        steps_s: Seconds per dlt step (`extract`, `normalize`, `load`) from the trace.
        rows: Rows normalized per table.
        load_ok: Whether every load job completed.
    """

    wall_s: float
    steps_s: dict[str, float] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    load_ok: bool = True

    @property
    def total_rows(self) -> int:
        """Rows of data tables (dlt's own `_dlt_*` tables excluded)."""
        return sum(n for t, n in self.rows.items() if not t.startswith("_dlt"))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"wall_s": round(self.wall_s, 3), "steps_s": {k: round(v, 3) for k, v in self.steps_s.items()},
                "rows": self.total_rows, "rows_by_table": self.rows, "load_ok": self.load_ok}


def workdir(name: str) -> Path:
    """A fresh scratch directory for one benchmark's pipelines and DuckDB files."""
    path = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    return path


def make_pipeline(work: Path, name: str, product_duckdb: bool = False) -> Any:
    """A DuckDB pipeline whose state and database live under `work`.

    Args:
        work: Scratch directory.
        name: Pipeline name (also the DuckDB file name).
        product_duckdb: DuckDB with the product's settings (`destination_for("duckdb")`: one
            thread per connection), as the command line loads it; False: dlt's defaults.
    """
    import dlt

    from pipedrive.run.destination import duckdb_destination

    database = str(work / f"{name}.duckdb")
    return dlt.pipeline(
        pipeline_name=name,
        pipelines_dir=str(work / "pipelines"),
        destination=duckdb_destination(database) if product_duckdb else dlt.destinations.duckdb(database),
        dataset_name="pipedrive",
        progress=None,
    )


def run_measured(pipeline: Any, data: Any, extract_only: bool = False) -> RunResult:
    """Runs `pipeline.run(data, loader_file_format="jsonl")` and reads timings from the trace.

    On an incremental run a DuckDB destination is kept open during the run
    (`destination.duckdb_kept_open`), as the product's pipeline script does.

    Args:
        pipeline: The pipeline.
        data: Source or resources.
        extract_only: Run only `pipeline.extract` (requests, tokens and extract time; the
            incremental state is still committed, so the next extract is incremental).
    """
    started = time.perf_counter()
    if extract_only:
        info = pipeline.extract(data, loader_file_format="jsonl")
        wall = time.perf_counter() - started
        rows = {}
        for metrics in info.metrics.values():
            for m in metrics:
                for table, table_metrics in m.get("table_metrics", {}).items():
                    rows[table] = rows.get(table, 0) + table_metrics.items_count
        return RunResult(wall_s=wall, steps_s={"extract": wall}, rows=rows)
    from pipedrive.run.destination import duckdb_kept_open

    # as `pipedrive.run.load` runs one chunk; the whole account in one `run` is unbounded on a first run
    with duckdb_kept_open(pipeline, unbounded=pipeline.first_run):
        info = pipeline.run(data, loader_file_format="jsonl")
    wall = time.perf_counter() - started
    trace = pipeline.last_trace
    steps: dict[str, float] = {}
    for step in trace.steps:
        if step.finished_at and step.started_at:
            steps[step.step] = steps.get(step.step, 0.0) + (step.finished_at - step.started_at).total_seconds()
    rows = dict(trace.last_normalize_info.row_counts) if trace.last_normalize_info else {}
    return RunResult(wall_s=wall, steps_s=steps, rows=rows, load_ok=not info.has_failed_jobs)


def run_protocol(pipeline: Any, **load_options: Any) -> RunResult:
    """Runs `pipedrive.run.load(pipeline, **load_options)`, the product's run (chunks, repair,
    lock), with the steps and normalized rows of every chunk summed from its trace.

    Args:
        pipeline: The pipeline.
        **load_options: `load` arguments (`chunk_pages`, source options such as `base_url`).
    """
    from pipedrive.run import load

    traces: dict[str, Any] = {}

    def keep_trace(_message: str) -> None:  # called after every chunk but the last
        if pipeline.last_trace is not None:
            traces[pipeline.last_trace.transaction_id] = pipeline.last_trace

    started = time.perf_counter()
    summary = load(pipeline, progress=keep_trace, **load_options)
    wall = time.perf_counter() - started
    keep_trace("")
    steps: dict[str, float] = {}
    rows: dict[str, int] = {}
    for trace in traces.values():
        for step in trace.steps:
            if step.finished_at and step.started_at:
                steps[step.step] = steps.get(step.step, 0.0) + (step.finished_at - step.started_at).total_seconds()
        for table, count in (trace.last_normalize_info.row_counts if trace.last_normalize_info else {}).items():
            rows[table] = rows.get(table, 0) + count
    steps["chunks"] = summary.chunks
    return RunResult(wall_s=wall, steps_s=steps, rows=rows, load_ok=summary.stopped_early is None)


def run_phased(pipeline: Any, data: Any) -> tuple[RunResult, dict[str, float]]:
    """`extract`, `normalize` and `load` called one by one, with this process's peak RSS after
    each (ru_maxrss only grows, so each value is the peak up to the end of that phase).

    Returns:
        The run (wall = sum of the three calls) and peak RSS in MB after each phase.
    """
    rss: dict[str, float] = {}
    steps: dict[str, float] = {}
    started = time.perf_counter()
    pipeline.extract(data, loader_file_format="jsonl")
    steps["extract"] = time.perf_counter() - started
    rss["extract"] = round(max_rss_bytes() / 2**20, 1)
    mark = time.perf_counter()
    normalized = pipeline.normalize()
    steps["normalize"] = time.perf_counter() - mark
    rss["normalize"] = round(max_rss_bytes() / 2**20, 1)
    mark = time.perf_counter()
    info = pipeline.load()
    steps["load"] = time.perf_counter() - mark
    rss["load"] = round(max_rss_bytes() / 2**20, 1)
    wall = time.perf_counter() - started
    rows = dict(normalized.row_counts) if normalized is not None else {}
    return RunResult(wall_s=wall, steps_s=steps, rows=rows, load_ok=not info.has_failed_jobs), rss


def pipedrive_source_for(base_url: str, *, resources: Sequence[str] | None = None, exclude: Sequence[str] = (),
                         **source_kwargs: Any) -> Any:
    """The `pipedrive` source pointed at a simulator, restricted to `resources` minus `exclude`."""
    from pipedrive import pipedrive_source

    source = pipedrive_source(api_token=TOKEN, base_url=base_url, **source_kwargs)
    names = list(resources) if resources else list(source.selected_resources)
    names = [n for n in names if n not in set(exclude)]
    return source.with_resources(*names) if (resources or exclude) else source


def pipedrive_run(pipeline: Any, base_url: str, *, resources: Sequence[str] | None = None,
                  exclude: Sequence[str] = (), extract_only: bool = False, **source_kwargs: Any) -> RunResult:
    """Runs the `pipedrive` source against a simulator.

    Args:
        pipeline: From `make_pipeline` (reuse it for the incremental run).
        base_url: Simulator base URL.
        resources: Resource names to run (None: all selected ones).
        exclude: Resource names to leave out.
        extract_only: Only extract (see `run_measured`).
        **source_kwargs: Further `pipedrive_source` arguments.
    """
    source = pipedrive_source_for(base_url, resources=resources, exclude=exclude, **source_kwargs)
    return run_measured(pipeline, source, extract_only)


def source_resource_names() -> list[str]:
    """Names of the source's selected resources (what a default run loads)."""
    from pipedrive import pipedrive_source

    return list(pipedrive_source(api_token=TOKEN, base_url="http://127.0.0.1:9").selected_resources)


# ----------------------------------------------------------------------------------- memory
class PeakRss:
    """Samples this process's RSS in a thread (ru_maxrss cannot be reset between phases)."""

    def __init__(self, interval_s: float = 0.05) -> None:
        import psutil

        self._process = psutil.Process()
        self._interval = interval_s
        self._stop = threading.Event()
        self.peak_bytes = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, self._process.memory_info().rss)
            self._stop.wait(self._interval)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_bytes = max(self.peak_bytes, self._process.memory_info().rss)


def cpu_seconds() -> float:
    """User + system CPU seconds this process used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def max_rss_bytes() -> int:
    """Peak RSS of this process since it started (Linux `ru_maxrss` is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# ----------------------------------------------------------------------------------- results
def ratio(actual: float, bound: float) -> float | None:
    """`actual / bound`, rounded, or None when the bound is 0."""
    return round(actual / bound, 3) if bound else None


def ceil_div(a: int, b: int) -> int:
    """Integer ceiling of a / b."""
    return -(-a // b)


def cli_parser(doc: str | None) -> argparse.ArgumentParser:
    """The argument parser of a benchmark's command line (its module docstring as help)."""
    return argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)


def csv_list(value: str | None) -> list[str]:
    """`--exclude a,b` -> `["a", "b"]` (empty items dropped)."""
    return [item for item in (value or "").split(",") if item]


def publish(name: str, result: dict[str, Any], report: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Prints a benchmark's result, writes it (`write_result`) and returns it."""
    report(result)
    write_result(name, result)
    return result


def write_result(name: str, payload: dict[str, Any]) -> Path:
    """Writes `bench/results/<name>.json` (with machine facts and date) and refreshes RESULTS.md.

    Args:
        name: Benchmark name.
        payload: The benchmark's numbers.

    Returns:
        The JSON file written.
    """
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    doc = {"benchmark": name, "date": now_utc(), "command": f".venv/bin/python -m bench.{name}",
           "machine": machine_info(), **payload}
    path = RESULTS_DIR / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=False, default=str) + "\n")
    tmp.replace(path)
    from .report import refresh_results_md

    refresh_results_md()
    return path


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Prints an aligned plain-text table."""
    cells = [[str(c) for c in header]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print(f"\n{title}")
    for i, row in enumerate(cells):
        print("  " + "  ".join(c.rjust(w) for c, w in zip(row, widths)))
        if i == 0:
            print("  " + "  ".join("-" * w for w in widths))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "-" if value is None else str(value)


def cleanup(path: Path) -> None:
    """Removes a scratch directory."""
    shutil.rmtree(path, ignore_errors=True)

"""Benchmark 3: throughput when the API is fast, against the dlt floor.

The `large` account served by the simulator in a separate process (zero latency, no burst
limit), loaded twice into DuckDB with jsonl, each load in its own child process so its peak
RSS and CPU are its own:

- ours: the `pipedrive` source (all resources except the per-deal ones, see below), with
  `max_tokens_per_run` lifted so the deal products of every deal are loaded in the one run;
- floor: a minimal dlt pipeline that sends exactly the requests ours sent (taken from the
  simulator's log: same paths, same query parameters, the same cursors/offsets) through dlt's
  `RESTClient` and yields the raw pages with no processing (nested objects stay JSON).

Each load calls `extract`, `normalize` and `load` one after the other (what `pipeline.run` does)
to record the peak RSS reached by the end of each phase. Records/s = rows our pipeline loaded /
wall time of the three calls; both pipelines made the same
requests, so the floor is rated on the same record count (its own row count differs slightly:
ours adds `custom_fields_mapping` and tombstones, and drops nothing). Targets: ours >= 0.9x the floor's
records/s, peak RSS <= 1 GB. The dlt trace splits our time into extract, normalize and load.

Before both runs one unmeasured extract of ours reads every page once (`warm_up`), so the
simulator's lazily built indexes and serialized records do not slow down only the first run.

Both pipelines run with the product's settings, identical for both (`dlt_settings`, printed and
stored with each result): the DuckDB destination of `destination.duckdb_destination` and
the project's `.dlt/config.toml` (one load job at a time, 1,000-row write buffers), which the
workers read because they run in the repository root. The workers also report their CPU
seconds: on a loaded machine CPU time is the steadier measure.

Per-deal endpoints (`/deals/{id}/...`, one request per deal) are request-bound, not
record-bound: they are left out here by default and measured by benchmarks 1, 2 and 5.

    .venv/bin/python -m bench.throughput [--size large]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from . import harness

NAME = "throughput"
TARGET_FLOOR_RATIO = 0.9
TARGET_RSS_BYTES = 2**30


# ----------------------------------------------------------------------------------- floor
def replay_plan(log: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Endpoint -> every successful request of our run (path and full query, paging included),
    in order: the floor sends exactly the requests ours sent, so both read the same pages.

    Args:
        log: `/_sim/log` entries of our run.
    """
    plan: dict[str, list[dict[str, Any]]] = {}
    for entry in log:
        if entry["status"] == 200:
            plan.setdefault(entry["endpoint"], []).append({"path": entry["path"], "params": entry["params"]})
    return plan


def floor_source(base_url: str, plan: dict[str, list[dict[str, Any]]]) -> Any:
    """A minimal dlt source: one resource per endpoint that sends our run's requests through dlt's
    `RESTClient` (one page each, v2 cursors and v1 offsets replayed as sent) and yields the raw
    records, with no processing."""
    import dlt
    from dlt.sources.helpers.rest_client import RESTClient
    from dlt.sources.helpers.rest_client.paginators import SinglePagePaginator

    client = RESTClient(base_url=base_url, headers={"x-api-token": harness.TOKEN})

    def make(endpoint: str, requests: list[dict[str, Any]]) -> Any:
        selector = "data.goals" if endpoint.endswith("/goals/find") else "data"

        def pages() -> Iterator[Any]:
            for request in requests:
                yield from client.paginate(request["path"], params=request["params"], data_selector=selector,
                                           paginator=SinglePagePaginator())

        table = endpoint.replace(" ", "_").replace("/", "_").replace("{", "").replace("}", "").strip("_")
        return dlt.resource(pages, name=table, write_disposition="replace")

    @dlt.source(name="floor", max_table_nesting=0)
    def floor() -> Any:
        return [make(endpoint, requests) for endpoint, requests in plan.items()]

    return floor()


# ----------------------------------------------------------------------------------- workers
DLT_SETTINGS = (
    "extract.workers",
    "normalize.workers",
    "load.workers",
    "data_writer.buffer_max_items",
    "data_writer.file_max_items",
    "data_writer.disable_compression",
)
"""The dlt settings that move this benchmark's numbers, recorded with each pipeline's result."""


def dlt_settings() -> dict[str, Any]:
    """`DLT_SETTINGS` as this process resolves them (None: dlt's default), and the DuckDB
    settings of `product_pipeline`.

    Both workers run in the repository root, so both read the project's `.dlt/config.toml`:
    the settings the product pipeline (`pipedrive_pipeline.py`) runs with, identical for ours
    and the floor.
    """
    import dlt

    from pipedrive.run.destination import DUCKDB_GLOBAL_CONFIG

    return {**{key: dlt.config.get(key) for key in DLT_SETTINGS}, "duckdb_global_config": DUCKDB_GLOBAL_CONFIG}


def product_pipeline(work: Path, name: str) -> Any:
    """`harness.make_pipeline` with the product's DuckDB destination
    (`destination.duckdb_destination`), for ours and the floor alike."""
    import dlt

    from pipedrive.run.destination import duckdb_destination

    return dlt.pipeline(pipeline_name=name, pipelines_dir=str(work / "pipelines"),
                        destination=duckdb_destination(str(work / f"{name}.duckdb")),
                        dataset_name="pipedrive", progress=None)


def worker(kind: str, base_url: str, work: Path, exclude: Sequence[str], groups_file: Path | None) -> dict[str, Any]:
    """One measured load in this (child) process; returns its numbers.

    Args:
        kind: `ours` or `floor`.
        base_url: Simulator URL.
        work: Scratch directory.
        exclude: Resources ours leaves out.
        groups_file: JSON of `replay_plan` (floor only).
    """
    pipeline = product_pipeline(work, kind)
    if kind == "ours":
        data = harness.pipedrive_source_for(base_url, exclude=exclude, max_tokens_per_run=harness.UNLIMITED)
    else:
        data = floor_source(base_url, json.loads(Path(groups_file).read_text()))  # type: ignore[arg-type]
    run, rss_by_phase = harness.run_phased(pipeline, data)
    out = run.as_dict()
    out["dlt_settings"] = dlt_settings()
    out["peak_rss_mb"] = round(harness.max_rss_bytes() / 2**20, 1)
    out["peak_rss_mb_after"] = rss_by_phase
    out["cpu_s"] = round(harness.cpu_seconds(), 1)
    out["records_per_s"] = round(run.total_rows / run.wall_s, 1) if run.wall_s else None
    return out


def _spawn(kind: str, base_url: str, work: Path, exclude: Sequence[str], groups_file: Path | None) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.throughput", "--worker", kind, "--base-url", base_url, "--work", str(work),
           "--exclude", ",".join(exclude)]
    if groups_file is not None:
        cmd += ["--groups", str(groups_file)]
    done = subprocess.run(cmd, cwd=harness.REPO_ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} worker failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def per_deal_resources() -> list[str]:
    """The source's resources that make one request per deal (a `{id}` in their path): the deal
    children of both deal listings (batched `deal_products` stays in)."""
    from pipedrive.entities import DEAL_CHILDREN, DEAL_LISTINGS, child_resource_name

    selected = set(harness.source_resource_names())
    names = [child_resource_name(child, listing) for child in DEAL_CHILDREN if "{id}" in child.path
             for listing in DEAL_LISTINGS]
    return [name for name in names if name in selected]


def warm_up(base_url: str, exclude: Sequence[str]) -> int:
    """One unmeasured extract of our source (the measured runs' requests), so the simulator has
    built its sorted indexes and serialized every record before the measured runs.

    The simulator serializes a record on its first read and reuses the bytes afterwards
    (`pipedrive_sim/index.py`): without a full pass, the first measured run (ours) waits for
    all of that and the floor, replaying the same requests, gets cached pages.

    Args:
        base_url: Simulator URL.
        exclude: Resources ours leaves out.

    Returns:
        Requests sent.
    """
    work = harness.workdir("warmup")
    try:
        before = harness._control(base_url, "GET", "/_sim/stats")["requests"]
        harness.pipedrive_run(harness.make_pipeline(work, "warmup"), base_url, exclude=exclude, extract_only=True,
                              max_tokens_per_run=harness.UNLIMITED)
        return harness._control(base_url, "GET", "/_sim/stats")["requests"] - before
    finally:
        harness.cleanup(work)


def run(size: str = "large", exclude: Sequence[str] | None = None) -> dict[str, Any]:
    """Ours vs the floor on one simulator process.

    Args:
        size: Account size the simulator generates.
        exclude: Resources ours leaves out (default: the per-deal ones the source has).
    """
    if exclude is None:
        exclude = per_deal_resources()
    work = harness.workdir(NAME)
    try:
        with harness.subprocess_sim(size) as sim:
            print(f"  warm-up: {warm_up(sim.base_url, exclude)} requests", flush=True)
            sim.reset_log()
            ours = _spawn("ours", sim.base_url, work, exclude, None)
            ours.update({k: v for k, v in harness.server_counts(sim.stats()).items() if k != "by_endpoint"})
            print(f"  ours: {ours['rows']:,} rows in {ours['wall_s']:.1f} s", flush=True)
            plan = replay_plan(harness._control(sim.base_url, "GET", "/_sim/log"))
            groups_file = work / "replay.json"
            groups_file.write_text(json.dumps(plan))
            sim.reset_log()
            floor = _spawn("floor", sim.base_url, work, (), groups_file)
            floor.update({k: v for k, v in harness.server_counts(sim.stats()).items() if k != "by_endpoint"})
            print(f"  floor: {floor['rows']:,} rows in {floor['wall_s']:.1f} s", flush=True)
    finally:
        harness.cleanup(work)
    # both made the same requests, so both fetched the same API records: rate them on one count
    floor["records_per_s"] = round(ours["rows"] / floor["wall_s"], 1) if floor["wall_s"] else None
    ratio = harness.ratio(ours["records_per_s"] or 0, floor["records_per_s"] or 0)
    return {
        "size": size, "latency_ms": 0, "burst_limit": "none", "excluded_resources": list(exclude),
        "ours": ours, "floor": floor, "ratio_to_floor": ratio,
        "target": f"records/s >= {TARGET_FLOOR_RATIO} x floor, peak RSS <= 1 GB",
        "meets_target": bool(ratio is not None and ratio >= TARGET_FLOOR_RATIO
                             and ours["peak_rss_mb"] * 2**20 <= TARGET_RSS_BYTES),
    }


def report(result: dict[str, Any]) -> None:
    """Prints the summary."""
    rows = []
    for kind in ("ours", "floor"):
        r = result[kind]
        steps = r["steps_s"]
        rows.append([kind, r["rows"], r["requests"], r["wall_s"], r["records_per_s"], r["peak_rss_mb"],
                     steps.get("extract"), steps.get("normalize"), steps.get("load")])
    harness.print_table(f"Throughput, {result['size']} account, 0 ms latency, no limit (ratio {result['ratio_to_floor']})",
                        ["pipeline", "rows", "requests", "wall s", "rec/s", "peak RSS MB", "extract s",
                         "normalize s", "load s"], rows)
    settings = result["ours"].get("dlt_settings")
    same = settings == result["floor"].get("dlt_settings")
    print(f"  dlt settings ({'identical for both' if same else 'DIFFERENT for the floor'}, "
          f"from .dlt/config.toml and pipedrive_pipeline.py): {settings}")


def main(argv: Sequence[str] | None = None) -> dict[str, Any] | None:
    """Command line entry point (also the worker entry point)."""
    parser = harness.cli_parser(__doc__)
    parser.add_argument("--size", default="large")
    parser.add_argument("--exclude", default=None, help="comma-separated resources ours leaves out")
    parser.add_argument("--worker", choices=("ours", "floor"), help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--groups", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    exclude = None if args.exclude is None else harness.csv_list(args.exclude)
    if args.worker:
        out = worker(args.worker, args.base_url, Path(args.work), exclude or (),
                     Path(args.groups) if args.groups else None)
        print(json.dumps(out))
        return None
    return harness.publish(NAME, run(args.size, exclude), report)


if __name__ == "__main__":
    harness.quiet_dlt_logs()
    main()

"""The scenario most benchmarks share: a full sync, then incremental syncs after changes.

Each sync is measured three ways: the simulator's request/token counters (what Pipedrive
bills), the theoretical minimum for the account's contents (`bench.minimum`), and wall time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import harness
from .minimum import Cursors, compare, cursors_after_sync, minimum


def tables_of(resources: Sequence[str]) -> list[str]:
    """Destination tables written by the source's resources `resources`."""
    from pipedrive import pipedrive_source

    source = pipedrive_source(api_token=harness.TOKEN, base_url="http://127.0.0.1:9")
    tables = set()
    for name in resources:
        table = source.resources[name].table_name
        tables.add(table if isinstance(table, str) else name)
    return sorted(tables)


def selected_resources(resources: Sequence[str] | None = None, exclude: Sequence[str] = ()) -> list[str]:
    """Resource names a run loads: `resources` or all selected ones, minus `exclude`."""
    names = list(resources) if resources else harness.source_resource_names()
    return [n for n in names if n not in set(exclude)]


@dataclass
class Sim:
    """What a scenario needs from a simulator, in-process or not.

    Attributes:
        base_url: Where it serves.
        stats: Returns `SimServer.stats()`-shaped totals.
        reset_log: Forgets the totals.
    """

    base_url: str
    stats: Callable[[], dict[str, Any]]
    reset_log: Callable[[], None]

    @classmethod
    def of(cls, server: Any) -> Sim:
        """Wraps an in-process `SimServer` or a `harness.SubprocessSim`."""
        return cls(server.base_url, server.stats, server.reset_log)


def measure_sync(sim: Sim, pipeline: Any, account: Any | None, resources: Sequence[str],
                 since: Cursors | None, label: str, extract_only: bool = False,
                 **source_kwargs: Any) -> dict[str, Any]:
    """Runs one sync and returns its numbers (with the minimum when `account` is given).

    Args:
        sim: The simulator.
        pipeline: The pipeline (keeps the incremental state between syncs).
        account: The in-process account, for the minimum; None to skip it.
        resources: Resources to run.
        since: Cursors of the previous sync (None: this is the full sync).
        label: Name of the sync in the output.
        extract_only: Only extract (no normalize/load).
        **source_kwargs: Further `pipedrive_source` arguments.
    """
    minimum_ = minimum(account, tables_of(resources), since) if account is not None else None
    sim.reset_log()
    run = harness.pipedrive_run(pipeline, sim.base_url, resources=resources, extract_only=extract_only,
                                **source_kwargs)
    counts = harness.server_counts(sim.stats())
    out: dict[str, Any] = {
        "sync": label,
        "mode": "extract only" if extract_only else "run",
        "requests": counts["requests"],
        "tokens": counts["tokens"],
        "responses_429": counts["responses_429"],
        "blocked_403": counts["blocked_403"],
        "wall_s": round(run.wall_s, 3),
        "steps_s": {k: round(v, 3) for k, v in run.steps_s.items()},
        "rows": run.total_rows,
        "load_ok": run.load_ok,
        "growth_bound_s": round(counts["requests"] / harness.GROWTH_REQUESTS_PER_SECOND, 1),
    }
    if minimum_ is not None:
        out.update({
            "min_requests": minimum_.requests,
            "min_tokens": minimum_.tokens,
            "requests_ratio": harness.ratio(counts["requests"], minimum_.requests),
            "tokens_ratio": harness.ratio(counts["tokens"], minimum_.tokens),
            "endpoints": compare(counts["by_endpoint"], minimum_),
        })
    else:
        out["endpoints"] = counts["by_endpoint"]
    return out


def full_then_incremental(account: Any, server: Any, name: str, fractions: Sequence[float],
                          resources: Sequence[str] | None = None, exclude: Sequence[str] = (),
                          extract_only: bool = False, **source_kwargs: Any) -> list[dict[str, Any]]:
    """A full sync, then for each fraction: change that share of records, sync incrementally.

    Args:
        account: The in-process account served by `server`.
        server: A started in-process `SimServer`.
        name: Pipeline name.
        fractions: Shares of records to change before each incremental sync (cumulative runs).
        resources: Resources to run (None: all selected).
        exclude: Resources to leave out.
        extract_only: Only extract (no normalize/load) in every sync.
        **source_kwargs: Further `pipedrive_source` arguments.

    Returns:
        One `measure_sync` dict per sync, full sync first.
    """
    work: Path = harness.workdir(name)
    try:
        sim = Sim.of(server)
        names = selected_resources(resources, exclude)
        pipeline = harness.make_pipeline(work, name)
        results = [measure_sync(sim, pipeline, account, names, None, "full", extract_only, **source_kwargs)]
        _print_sync(results[-1])
        for fraction in fractions:
            cursors = cursors_after_sync(account)
            with server.data_lock:
                changed = harness.mutate_fraction(account, fraction)
            result = measure_sync(sim, pipeline, account, names, cursors, f"incremental {fraction:.1%}",
                                  extract_only, **source_kwargs)
            result["changed"] = changed
            result["fraction"] = fraction
            results.append(result)
            _print_sync(results[-1])
        return results
    finally:
        harness.cleanup(work)


def _print_sync(result: dict[str, Any]) -> None:
    print(f"  {result['sync']:>20}: {result['requests']:,} requests (min {result.get('min_requests', '-')}), "
          f"{result['tokens']:,} tokens (min {result.get('min_tokens', '-')}), {result['wall_s']:.1f} s, "
          f"{result['rows']:,} rows", flush=True)


def worst_endpoints(result: dict[str, Any], n: int = 8) -> list[list[Any]]:
    """Table rows of the endpoints with the most tokens above the minimum."""
    rows = []
    for e in result.get("endpoints", [])[:n]:
        if e.get("extra_tokens", 0) or e["requests"] != e["min_requests"]:
            rows.append([e["endpoint"], e["requests"], e["min_requests"], e["tokens"], e["min_tokens"]])
    return rows

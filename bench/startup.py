"""Benchmark 7: the fixed cost of a run - the command line when nothing changed.

The `medium` account in a simulator process (`bench.sim_process`). The command line
(`pipedrive_pipeline.py`, a fresh Python process as a scheduler starts it, the project's
`.dlt/config.toml`) loads everything once against an unthrottled simulator; then the simulator
serves the Growth plan (40 requests per 2 s) with 100 ms latency and the command line runs again
with nothing changed. Target: its wall time (process start to exit) within 2 s of `requests / 20`
(the Growth bound).

Where the fixed cost goes: the interpreter and imports (`python -c "import pipedrive_pipeline"`,
timed alone), then an in-process `pipedrive.run.load` of another no-change run split into dlt's
steps (extract, normalize, load) and the rest (source and pipeline set-up, the run lock, the
DuckDB connection held for the run and its close).

    .venv/bin/python -m bench.startup [--size medium] [--plan growth] [--latency-ms 100] [--repeat 3]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import harness
from .plans import BURST, WINDOW_S
from .sim_process import SimProcess

NAME = "startup"
TARGET_EXTRA_S = 2.0


def _cli_env(base_url: str, data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "SOURCES__PIPEDRIVE__API_TOKEN": harness.TOKEN,
        "SOURCES__PIPEDRIVE__BASE_URL": base_url,
        "SOURCES__PIPEDRIVE__MAX_TOKENS_PER_RUN": str(harness.UNLIMITED),
        "DLT_DATA_DIR": str(data_dir),
        "RUNTIME__DLTHUB_TELEMETRY": "false",
        "RUNTIME__LOG_LEVEL": "ERROR",
    })
    return env


def run_cli(work: Path, base_url: str) -> float:
    """One command-line run in `work` (its own `.dlt/config.toml` copy, DuckDB file and dlt
    data dir); returns its wall time.

    Raises:
        RuntimeError: The command line failed.
    """
    started = time.perf_counter()
    done = subprocess.run([sys.executable, str(harness.REPO_ROOT / "pipedrive_pipeline.py")], cwd=work,
                          env=_cli_env(base_url, work / "data"), capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"pipedrive_pipeline.py exited {done.returncode}:\n{done.stderr[-3000:]}")
    return wall


def import_seconds(repeat: int) -> float:
    """Best of `repeat` interpreter starts that import the command line's module."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import pipedrive_pipeline"], cwd=harness.REPO_ROOT, check=True)
        best = min(best, time.perf_counter() - started)
    return best


def in_process_split(work: Path, base_url: str) -> dict[str, float]:
    """A no-change `pipedrive.run.load` in this process on the command line's pipeline: seconds
    per dlt step and the rest."""
    import dlt

    from pipedrive.run import load
    from pipedrive.run.destination import destination_for

    os.environ.update({k: v for k, v in _cli_env(base_url, work / "data").items() if k.startswith(("SOURCES__", "DLT_"))})
    cwd = os.getcwd()
    os.chdir(work)
    try:
        started = time.perf_counter()
        pipeline = dlt.pipeline("pipedrive", destination=destination_for("duckdb"), dataset_name="pipedrive_data")
        load(pipeline, progress=lambda line: None)
        total = time.perf_counter() - started
    finally:
        os.chdir(cwd)
    steps: dict[str, float] = {}
    for step in pipeline.last_trace.steps:
        if step.step in ("extract", "normalize", "load") and step.finished_at and step.started_at:
            steps[step.step] = round((step.finished_at - step.started_at).total_seconds(), 3)
    steps["rest"] = round(total - sum(steps.values()), 3)
    steps["total"] = round(total, 3)
    return steps


def run(size: str = "medium", plan: str = "growth", latency_ms: float = 100.0, repeat: int = 3) -> dict[str, Any]:
    """Initial load, then `repeat` no-change command-line runs under `plan`."""
    work = harness.workdir(NAME)
    (work / ".dlt").mkdir()
    shutil.copy(harness.REPO_ROOT / ".dlt" / "config.toml", work / ".dlt" / "config.toml")
    limit = BURST[plan]
    try:
        with SimProcess(size, plan=plan, burst_limit=harness.UNLIMITED) as sim:
            initial = run_cli(work, sim.base_url)
            print(f"  initial load (unthrottled): {initial:.1f} s", flush=True)
            sim.configure(plan, latency_ms)
            runs = []
            for _ in range(repeat):
                sim.reset_log()
                wall = run_cli(work, sim.base_url)
                requests = harness.server_counts(sim.stats())["requests"]
                bound = requests / (limit / WINDOW_S)
                runs.append({"wall_s": round(wall, 3), "requests": requests, "bound_s": round(bound, 3),
                             "over_bound_s": round(wall - bound, 3)})
                print(f"  no-change run: {requests} requests in {wall:.2f} s (bound {bound:.2f} s)", flush=True)
            sim.reset_log()
            split = in_process_split(work, sim.base_url)
            split["requests"] = harness.server_counts(sim.stats())["requests"]
    finally:
        harness.cleanup(work)
    best = min(runs, key=lambda r: r["wall_s"])
    return {
        "size": size, "plan": plan, "latency_ms": latency_ms, "initial_load_s": round(initial, 1),
        "no_change_runs": runs, "best": best, "imports_s": round(import_seconds(repeat), 3), "in_process": split,
        "target": f"wall <= requests / {limit // 2} per s + {TARGET_EXTRA_S:.0f} s",
        "meets_target": best["over_bound_s"] <= TARGET_EXTRA_S,
    }


def report(result: dict[str, Any]) -> None:
    """Prints the runs and the split."""
    harness.print_table(
        f"No-change command-line runs ({result['size']}, {result['plan']}, {result['latency_ms']:.0f} ms)",
        ["run", "requests", "wall s", "bound s", "over bound s"],
        [[i + 1, r["requests"], r["wall_s"], r["bound_s"], r["over_bound_s"]]
         for i, r in enumerate(result["no_change_runs"])],
    )
    split = result["in_process"]
    print(f"  interpreter + imports {result['imports_s']:.2f} s; in-process load(): "
          + ", ".join(f"{k} {v:.2f} s" for k, v in split.items() if k != "requests")
          + f" ({split['requests']} requests); target {'met' if result['meets_target'] else 'MISSED'}")


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command line entry point."""
    parser = harness.cli_parser(__doc__)
    parser.add_argument("--size", default="medium")
    parser.add_argument("--plan", default="growth", choices=sorted(BURST))
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    return harness.publish(NAME, run(args.size, args.plan, args.latency_ms, args.repeat), report)


if __name__ == "__main__":
    harness.quiet_dlt_logs()
    main()

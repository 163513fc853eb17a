"""Real processes for the fault-injection suite: the simulator (`python -m pipedrive_sim`) and
`pipedrive_pipeline.py`, each in its own process, talking over HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

REPO_ROOT = Path(__file__).resolve().parents[2]
PIPELINE_SCRIPT = REPO_ROOT / "pipedrive_pipeline.py"
PIPELINE_NAME = "pipedrive"
DATASET = "pipedrive_data"

FAST_RETRIES = {
    "RUNTIME__REQUEST_MAX_ATTEMPTS": "4",
    "RUNTIME__REQUEST_BACKOFF_FACTOR": "0.05",
    "RUNTIME__REQUEST_MAX_RETRY_DELAY": "0.5",
    "RUNTIME__REQUEST_TIMEOUT": "2",
}
"""Retry settings of every pipeline run: 4 attempts, waits of 0.05-0.5 s, 2 s timeout."""


class SimProcess:
    """`python -m pipedrive_sim` in a child process, driven through its `/_sim/` control API.

    Args:
        token: Accepted API token.
        size: Account size.
        seed: Account and fault seed.
        **options: Further CLI options (`burst_limit=10` -> `--burst-limit 10`).
    """

    def __init__(self, token: str, size: str = "tiny", seed: int = 1, **options: Any) -> None:
        self.token = token
        args = [sys.executable, "-m", "pipedrive_sim", "--size", size, "--seed", str(seed),
                "--port", "0", "--token", token]
        for name, value in options.items():
            args += [f"--{name.replace('_', '-')}", str(value)]
        self.process = subprocess.Popen(
            args, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline()
        if " at http" not in first:
            self.stop()
            raise RuntimeError(f"simulator did not start: {first!r}")
        self.base_url = first.rsplit(" at ", 1)[1].strip()

    def control(self, method: str, path: str, body: Optional[Dict[str, Any]] = None) -> Any:
        """Calls `/_sim/<path>` and returns its `data`."""
        data = json.dumps(body).encode() if body is not None else (b"{}" if method == "POST" else None)
        request = urllib.request.Request(f"{self.base_url}/_sim/{path}", data=data, method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())["data"]

    def ground_truth(self) -> Dict[str, List[Dict[str, Any]]]:
        return self.control("GET", "ground_truth")  # type: ignore[no-any-return]

    def stats(self) -> Dict[str, Any]:
        return self.control("GET", "stats")  # type: ignore[no-any-return]

    def add_fault(self, kind: str, **rule: Any) -> None:
        self.control("POST", "faults", {"kind": kind, **rule})

    def clear_faults(self) -> None:
        self.control("POST", "faults/clear")

    def reset_log(self) -> None:
        self.control("POST", "log/reset")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


@dataclass
class RunResult:
    """What one `pipedrive_pipeline.py` process did."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def error_lines(self) -> List[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("error: ")]


@dataclass
class PipelineRunner:
    """Runs `pipedrive_pipeline.py` in a fresh process with its own working directory.

    Attributes:
        workdir: cwd of the process; holds the DuckDB file.
        data_dir: `DLT_DATA_DIR`: the pipeline working directory lives under it.
        env: Environment of every run (token, base URL, fast retries, no telemetry).
        transcripts: stdout + stderr of every run, for the token scans.
    """

    workdir: Path
    env: Dict[str, str]
    transcripts: List[str] = field(default_factory=list)
    script: Path = PIPELINE_SCRIPT
    """The program each run starts (the command line, or a plain library call as an orchestrator makes)."""

    @classmethod
    def create(cls, root: Path, token: Optional[str], base_url: str, **env: str) -> "PipelineRunner":
        workdir = root / "work"
        workdir.mkdir(parents=True, exist_ok=True)
        base = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__", "RUNTIME__"))}
        base.update(FAST_RETRIES)
        base.update({
            "PYTHONPATH": str(REPO_ROOT),
            "RUNTIME__DLTHUB_TELEMETRY": "false",
            "RUNTIME__LOG_LEVEL": "INFO",
            "DLT_DATA_DIR": str(root / "dlt"),
            "DESTINATION__DUCKDB__CREDENTIALS": str(workdir / f"{PIPELINE_NAME}.duckdb"),
            "SOURCES__PIPEDRIVE__BASE_URL": base_url,
        })
        if token is not None:
            base["SOURCES__PIPEDRIVE__API_TOKEN"] = token
        base.update(env)
        return cls(workdir=workdir, env=base)

    @property
    def data_dir(self) -> Path:
        return Path(self.env["DLT_DATA_DIR"])

    @property
    def duckdb_path(self) -> Path:
        return Path(self.env["DESTINATION__DUCKDB__CREDENTIALS"])

    @property
    def pipelines_dir(self) -> Path:
        return self.data_dir / "pipelines"

    def _args(self, args: Sequence[str]) -> List[str]:
        return [sys.executable, str(self.script), *args]

    def run(self, *args: str, timeout: float = 120, **env: str) -> RunResult:
        """Runs the pipeline to its end."""
        started = time.monotonic()
        done = subprocess.run(
            self._args(args), cwd=self.workdir, env={**self.env, **env}, capture_output=True,
            text=True, timeout=timeout,
        )
        self.transcripts.append(done.stdout + done.stderr)
        return RunResult(done.returncode, done.stdout, done.stderr, time.monotonic() - started)

    def start(self, *args: str) -> "subprocess.Popen[str]":
        """Starts the pipeline without waiting for it (`finish` collects it)."""
        return subprocess.Popen(
            self._args(args), cwd=self.workdir, env=self.env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )

    def finish(self, process: "subprocess.Popen[str]", timeout: float = 120) -> RunResult:
        """Waits for a process `start` started."""
        started = time.monotonic()
        stdout, stderr = process.communicate(timeout=timeout)
        self.transcripts.append(stdout + stderr)
        return RunResult(process.returncode, stdout, stderr, time.monotonic() - started)

    def run_with_hook(
        self, marker: str, hook: Callable[["subprocess.Popen[str]"], None], *args: str, timeout: float = 120
    ) -> RunResult:
        """Runs the pipeline and calls `hook(process)` once when a stderr line contains `marker`."""
        started = time.monotonic()
        process = subprocess.Popen(
            self._args(args), cwd=self.workdir, env=self.env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )
        assert process.stderr is not None and process.stdout is not None
        lines: List[str] = []
        fired = False
        for line in process.stderr:
            lines.append(line)
            if not fired and marker in line:
                hook(process)
                fired = True
        stdout = process.stdout.read()
        process.wait(timeout=timeout)
        stderr = "".join(lines)
        self.transcripts.append(stdout + stderr)
        assert fired, f"never saw {marker!r}: {stderr[-2000:]}"
        return RunResult(process.returncode, stdout, stderr, time.monotonic() - started)

    def run_and_kill(self, after: float, *args: str) -> Optional[RunResult]:
        """Starts the pipeline and `kill -9`s it `after` seconds later (None: it ended first)."""
        started = time.monotonic()
        process = subprocess.Popen(
            self._args(args), cwd=self.workdir, env=self.env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )
        try:
            stdout, stderr = process.communicate(timeout=after)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
            self.transcripts.append(stdout + stderr)
            return None
        self.transcripts.append(stdout + stderr)
        return RunResult(process.returncode, stdout, stderr, time.monotonic() - started)

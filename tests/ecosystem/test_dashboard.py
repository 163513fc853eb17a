"""`dlt pipeline pipedrive show` after a demo load, looked at in a real headless Chromium.

The dashboard needs dlt[hub] (proprietary dltHub EULA) + marimo, pyarrow and ibis, which live only
in requirements-dashboard.txt, so this test builds its own virtualenv from that file
(`.venv-dashboard/`, git-ignored, rebuilt when the requirements change; ~30 s the first time).
Inside it: `python pipedrive_pipeline.py --demo --size tiny` (the real source against the
simulator), then `dlt pipeline pipedrive show` (marimo). Playwright drives Debian's
/usr/bin/chromium (no browser download) and checks that the page lists the Pipedrive tables, that
the data browser runs a query on `deals` and that the row counts equal the loaded rows.

Screenshot: always saved under the test's tmp folder; `UPDATE_DASHBOARD_SCREENSHOT=1` also writes
docs/img/dashboard.png.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List

import pytest

REPO = Path(__file__).resolve().parents[2]
REQUIREMENTS = [REPO / "requirements-dashboard.txt", REPO / "requirements.txt"]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# tables the dashboard must list (top-level entities of the source)
KEY_TABLES = ["deals", "persons", "organizations", "activities", "products", "leads", "notes"]

TABLES_SCRIPT = r"""
import json, dlt
p = dlt.attach("pipedrive")
names = sorted(t for t in p.default_schema.data_table_names() if not t.startswith("_dlt"))
with p.sql_client() as c:
    counts = {t: c.execute_sql(f"SELECT count(*) FROM {c.make_qualified_table_name(t)}")[0][0] for t in names}
print("RESULT " + json.dumps(counts))
"""


def _require_chromium() -> None:
    if not os.access(CHROMIUM, os.X_OK):
        message = f"{CHROMIUM} missing (Debian package chromium; `.ci/setup_services.sh` installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def _requirements_digest() -> str:
    digest = hashlib.sha256(sys.version.encode())
    for path in REQUIREMENTS:
        digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def _chromium() -> None:
    _require_chromium()


@pytest.fixture(scope="module")
def dashboard_venv(_chromium: None) -> Path:
    """A virtualenv with requirements-dashboard.txt, reused while the requirements are unchanged."""
    venv = Path(os.environ.get("PIPEDRIVE_DASHBOARD_VENV", REPO / ".venv-dashboard"))
    stamp = venv / ".requirements-sha256"
    digest = _requirements_digest()
    if not (stamp.exists() and stamp.read_text() == digest and (venv / "bin" / "dlt").exists()):
        shutil.rmtree(venv, ignore_errors=True)
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
        install = subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
             "-r", str(REPO / "requirements-dashboard.txt")],
            cwd=REPO, capture_output=True, text=True, timeout=900,
        )
        assert install.returncode == 0, f"pip install failed:\n{install.stdout[-3000:]}\n{install.stderr[-3000:]}"
        stamp.write_text(digest)
        print(f"dashboard venv built in {time.monotonic() - started:.0f} s")
    return venv


@pytest.fixture
def dashboard_env(dashboard_venv: Path, tmp_path: Path) -> Dict[str, str]:
    """Environment for the venv's programs: its bin first, dlt data and HOME under tmp_path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON", "SOURCES__", "DESTINATION__"))}
    env.update(
        PATH=f"{dashboard_venv / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}",
        DLT_DATA_DIR=str(tmp_path / "dlt"),  # pipelines dir = $DLT_DATA_DIR/pipelines, not ~/.dlt
        HOME=str(tmp_path / "home"),  # marimo writes its config under HOME
        RUNTIME__DLTHUB_TELEMETRY="false",
        BROWSER="true",  # marimo must not try to open a browser itself
    )
    (tmp_path / "home").mkdir()
    return env


@pytest.fixture
def demo_load(dashboard_venv: Path, dashboard_env: Dict[str, str], tmp_path: Path) -> Dict[str, int]:
    """Runs `python pipedrive_pipeline.py --demo --size tiny` in tmp_path; returns rows per table."""
    python = str(dashboard_venv / "bin" / "python")
    demo = subprocess.run(
        [python, str(REPO / "pipedrive_pipeline.py"), "--demo", "--size", "tiny"],
        cwd=tmp_path, env=dashboard_env, capture_output=True, text=True, timeout=300,
    )
    assert demo.returncode == 0, f"demo load failed:\n{demo.stdout[-3000:]}\n{demo.stderr[-3000:]}"
    counts = subprocess.run(
        [python, "-c", TABLES_SCRIPT], cwd=tmp_path, env=dashboard_env,
        capture_output=True, text=True, timeout=120,
    )
    lines = [line for line in counts.stdout.splitlines() if line.startswith("RESULT ")]
    assert counts.returncode == 0 and lines, counts.stderr[-3000:]
    tables: Dict[str, int] = json.loads(lines[-1][len("RESULT "):])
    assert set(KEY_TABLES) <= set(tables), tables
    return tables


@pytest.fixture
def dashboard_url(demo_load: Dict[str, int], dashboard_venv: Path, dashboard_env: Dict[str, str], tmp_path: Path) -> Iterator[str]:
    """Starts `dlt pipeline pipedrive show` (a marimo server) and yields its URL."""
    proc = subprocess.Popen(
        [str(dashboard_venv / "bin" / "dlt"), "pipeline", "pipedrive", "show"],
        cwd=tmp_path, env=dashboard_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,  # own process group: marimo is a child of dlt
    )
    lines: "queue.Queue[str]" = queue.Queue()
    output: List[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line)
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    url = None
    deadline = time.monotonic() + 90
    try:
        while url is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                match = re.search(r"URL: (http://\S+)", lines.get(timeout=1))
            except queue.Empty:
                continue
            url = match.group(1) if match else None
        assert url, f"dashboard did not start:\n{''.join(output)[-3000:]}"
        yield url
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
                proc.wait(timeout=15)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue
        # marimo logs cell errors as "[E <time> ...]" lines, Python errors as tracebacks
        errors = [line for line in output if "Traceback" in line or line.startswith("[E ")]
        print("".join(output[-50:]))
        assert not errors, f"the dashboard logged errors:\n{''.join(output)[-4000:]}"


def until(action: Callable[[], Any], check: Callable[[], bool], timeout: float, what: str) -> None:
    """Repeats `action` until `check` holds: the marimo kernel ignores clicks while it still runs cells."""
    deadline = time.monotonic() + timeout
    while True:
        action()
        for _ in range(10):
            if check():
                return
            time.sleep(0.5)
        if time.monotonic() > deadline:
            raise AssertionError(f"dashboard never showed {what}")


def test_show_without_dashboard_packages_explains_what_to_install(tmp_path: Path) -> None:
    """The main environment has no dlt[hub]: `show` says so and exits 0 (what the README states)."""
    dlt_cli = Path(sys.executable).parent / "dlt"
    env = dict(os.environ, DLT_DATA_DIR=str(tmp_path / "dlt"), RUNTIME__DLTHUB_TELEMETRY="false")
    proc = subprocess.run(
        [str(dlt_cli), "pipeline", "pipedrive", "show"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Install dlt[hub] for workspace dashboard" in proc.stdout + proc.stderr


def test_dashboard_shows_pipedrive_tables(dashboard_url: str, demo_load: Dict[str, int], tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    shot = tmp_path / "dashboard.png"
    with sync_playwright() as pw:
        # playwright gives chromium a fresh temporary profile (--user-data-dir) itself
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        try:
            page.goto(dashboard_url)
            page.get_by_text("Pipeline pipedrive").first.wait_for(timeout=90_000)
            page.get_by_role("button", name="Load row counts").wait_for(timeout=90_000)

            def table_row(name: str) -> Any:
                return page.get_by_role("row").filter(has=page.get_by_text(name, exact=True)).first

            # the table list is paged (10 rows): find each table through the list's search box
            table_search = page.get_by_placeholder("Search...").nth(1)

            def show(name: str) -> None:
                until(lambda: table_search.fill(name), lambda: table_row(name).is_visible(), 60, f"table {name}")

            for name in KEY_TABLES:
                show(name)

            # the data browser really queries the destination: select deals, run the query
            expected_deals = demo_load["deals"]
            result = page.get_by_text(re.compile(rf"^{expected_deals} rows?, \d+ columns"))
            show("deals")

            def query_deals() -> None:
                checkbox = table_row("deals").get_by_role("checkbox")
                if not checkbox.is_checked():
                    checkbox.click()
                    time.sleep(1)
                page.get_by_role("button", name="Run Query").click()

            until(query_deals, lambda: result.count() > 0, 90, f"'{expected_deals} rows' for deals")

            # row counts from the destination equal what the pipeline loaded
            def row_count_shown(name: str) -> bool:
                cells = [c.strip() for c in table_row(name).get_by_role("cell").all_inner_texts()]
                return str(demo_load[name]) in cells[:3]  # checkbox, name, row_count, ...

            until(
                lambda: page.get_by_role("button", name="Load row counts").click(),
                lambda: row_count_shown("deals"), 60, f"row count {demo_load['deals']} for deals",
            )
            for name in ["persons", "activities"]:
                show(name)
                assert row_count_shown(name), table_row(name).inner_text()
            table_search.fill("")
            time.sleep(2)

            page.get_by_text("Dataset: Browse Data and State").first.scroll_into_view_if_needed()
            time.sleep(1)
            page.screenshot(path=str(shot))
        except Exception:
            page.screenshot(path=str(tmp_path / "failure.png"))
            print(f"dashboard at failure: {tmp_path / 'failure.png'}")
            raise
        finally:
            browser.close()
    assert shot.stat().st_size > 20_000
    if os.environ.get("UPDATE_DASHBOARD_SCREENSHOT"):
        target = REPO / "docs" / "img" / "dashboard.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, target)

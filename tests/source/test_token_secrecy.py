"""The API token travels only in the `x-api-token` header: never in URLs, logs, tables, packages
or the trace."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from pipedrive.http.client import PipedriveClient
from tests.helpers.loader import Loader

SECRET = "pdSECRETtoken0123456789abcdef0123456789"


def test_token_never_lands_in_tables_packages_trace_or_logs(
    make_sim: Callable[..., Any],
    make_loader: Callable[..., Loader],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    server = make_sim(token=SECRET, burst_limit=1_000_000)
    # resolved the dlt way: env vars of the `sources.pipedrive` section
    monkeypatch.setenv("SOURCES__PIPEDRIVE__API_TOKEN", SECRET)
    monkeypatch.setenv("SOURCES__PIPEDRIVE__BASE_URL", server.base_url)
    loader = make_loader(server)
    from pipedrive import pipedrive_source

    dlt_logger = logging.getLogger("dlt")  # does not propagate to the root: capture it too
    dlt_logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, logger="dlt"):
            info = loader.pipeline.run(
                pipedrive_source().with_resources("deals", "leads", "users", "deal_fields", "custom_fields_mapping"),
                loader_file_format="jsonl",
            )
    finally:
        dlt_logger.removeHandler(caplog.handler)
    assert not info.has_failed_jobs
    assert loader.rows("SELECT count(*) FROM deals")[0][0] > 0  # the env token was used

    assert "/api/v2/deals" in caplog.text  # request URLs were logged, and without the token
    assert SECRET not in caplog.text
    assert SECRET not in str(info) and SECRET not in str(loader.pipeline.last_trace)
    for table in loader.pipeline.default_schema.data_table_names():
        assert SECRET not in json.dumps(loader.table(table), default=str), table
    for path in (tmp_path / "pipelines").rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


class _RecordingHandler(BaseHTTPRequestHandler):
    seen: list[tuple[str, dict[str, str]]] = []

    def do_GET(self) -> None:  # noqa: N802
        self.seen.append((self.path, dict(self.headers)))
        body = json.dumps({"success": True, "data": [{"id": 1}], "additional_data": {"next_cursor": None}}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def recording_server() -> Iterator[tuple[str, list[tuple[str, dict[str, str]]]]]:
    _RecordingHandler.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _RecordingHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}", _RecordingHandler.seen
    httpd.shutdown()


def test_token_is_sent_in_header_only(recording_server: tuple[str, list[tuple[str, dict[str, str]]]]) -> None:
    base_url, seen = recording_server
    client = PipedriveClient(SECRET, base_url)
    assert [row for page in client.paginate("/deals") for row in page] == [{"id": 1}]
    path, headers = seen[0]
    assert path.startswith("/api/v2/deals?") and SECRET not in path
    assert {k.lower(): v for k, v in headers.items()}["x-api-token"] == SECRET
    assert SECRET not in repr(client.__dict__)

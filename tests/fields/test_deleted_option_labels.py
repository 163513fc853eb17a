"""Labels of deleted options reach `custom_fields_mapping` in the run that learns them, whatever
order the parallel resources run in (a CI run of the incremental=fresh comparison once wrote the
mapping before the persons listing learned a deleted label: the fresh load lacked it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Dict, Set

from pipedrive_sim.pytest_plugin import UNTHROTTLED
from tests.helpers.loader import SimRuns


def deleted_options_shown(account: Any) -> Dict[str, Set[str]]:
    """Deal field code -> ids of deleted options that some deal still holds."""
    deleted = {f["key"]: {str(o["id"]) for o in f["options_deleted"]}
               for f in account.fields("deal", "v1") if f.get("options_deleted")}
    shown: Dict[str, Set[str]] = {}
    for deal in account.records("deals"):
        for code, ids in deleted.items():
            value = deal["custom_fields"].get(code)
            held = {str(v) for v in (value if isinstance(value, list) else [value] if value is not None else [])}
            if held & ids:
                shown.setdefault(code, set()).update(held & ids)
    return shown


def test_deleted_labels_read_late_still_reach_the_mapping(make_sim: Callable[..., Any], tmp_path: Path) -> None:
    server = make_sim(size="tiny", seed=1, burst_limit=UNTHROTTLED)
    # the v1 definitions (the only ones listing deleted options) answer late: the mapping resource,
    # which sends no request, has long been written when the deals listing learns the labels
    server.faults.add("slow", path="/v1/dealFields", delay_ms=3000)
    runs = SimRuns(server, tmp_path)
    runs.run()
    shown = deleted_options_shown(server.account)
    assert shown, "the tiny account should have deals holding deleted options"
    mapping = {code: json.loads(options) if isinstance(options, str) else options
               for code, options in runs.rows("SELECT hash_key, options FROM d.custom_fields_mapping WHERE entity = 'deal'")}
    for code, ids in shown.items():
        assert ids <= {str(option["id"]) for option in mapping[code]}, code

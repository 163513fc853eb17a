"""Regenerates the summary table of `bench/RESULTS.md` from `bench/results/*.json`.

Only the block between the `BEGIN GENERATED` / `END GENERATED` markers is rewritten; the
analysis written by hand around it is kept.
"""

from __future__ import annotations

import json
from typing import Any

from .harness import RESULTS_DIR, RESULTS_MD

BEGIN = "<!-- BEGIN GENERATED (bench/report.py) -->"
END = "<!-- END GENERATED -->"


PLANS_RESULTS = ("plans_small", "plans", "plans_medium", "plans_protocol", "plans_large")
"""`bench.plans` result files (`--name`), in the order of the table."""


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS_DIR / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _row(*cells: Any) -> str:
    return "| " + " | ".join("" if c is None else str(c) for c in cells) + " |"


def _met(flag: Any) -> str:
    return "met" if flag else "**missed**"


def _who(name: str, r: dict[str, Any]) -> str:
    return (f"{name} {r['requests']:,} req / {r['tokens']:,} tok / {r['wall_s']:,} s"
            + (" (projected)" if r.get("projected") else ""))


def _best(best: dict[str, Any]) -> str:
    """The best token factor any client can reach against the tap (benchmark 4)."""
    text = f"best any client: {best['token_factor']}x fewer tok, minimum {best['min_tokens']:,} tok"
    if best.get("history_bound_factor"):
        text += (f"; <= {best['history_bound_factor']}x even with all but the per-deal history free"
                 + ("" if best.get("target_reachable") else ": 5x unreachable"))
    elif not best.get("target_reachable"):
        text += "; 5x unreachable within bench.minimum's model"
    return text


def summary_lines() -> list[str]:
    """Markdown lines of the generated block."""
    lines = [BEGIN, "", "| benchmark | run | measured | bound / floor / minimum | ratio | target | result | date |",
             "|---|---|---|---|---|---|---|---|"]
    machine = None
    eff = _load("efficiency")
    if eff:
        machine = machine or eff["machine"]
        for s in eff["syncs"]:
            lines.append(_row("1 efficiency", f"{eff['size']} {s['sync']}",
                              f"{s['requests']:,} req / {s['tokens']:,} tok",
                              f"{s['min_requests']:,} req / {s['min_tokens']:,} tok",
                              f"{s['requests_ratio']} / {s['tokens_ratio']}", "<= 1.05 both",
                              _met(s["meets_target"]), eff["date"]))
    rl = _load("rate_limit")
    if rl:
        machine = machine or rl["machine"]
        for s in rl["syncs"]:
            lines.append(_row("2 rate limit", f"{rl['size']} {s['sync']} (Growth, {rl['latency_ms']:.0f} ms)",
                              f"{s['wall_s']:,.0f} s, {s['requests']:,} req, {s['responses_429']} x 429, "
                              f"{s['blocked_403']} x 403", f"{s['growth_bound_s']:,} s", s["bound_ratio"],
                              "<= 1.15, 429 < 1%, no 403", _met(s["meets_target"]), rl["date"]))
    tp = _load("throughput")
    if tp:
        machine = machine or tp["machine"]
        ours, floor = tp["ours"], tp["floor"]
        cpu = ""
        if ours.get("cpu_s") and floor.get("cpu_s"):
            cpu = (f"; per CPU s: {ours['rows'] / ours['cpu_s']:,.0f} vs {ours['rows'] / floor['cpu_s']:,.0f} "
                   f"({floor['cpu_s'] / ours['cpu_s']:.2f})")
        lines.append(_row("3 throughput", f"{tp['size']} ({ours['rows']:,} rows), 0 ms, no limit",
                          f"{ours['records_per_s']:,.0f} rec/s, peak RSS {ours['peak_rss_mb']:,.0f} MB "
                          f"(extract/normalize/load {ours['steps_s'].get('extract', 0):.0f}/"
                          f"{ours['steps_s'].get('normalize', 0):.0f}/{ours['steps_s'].get('load', 0):.0f} s)",
                          f"floor {floor['records_per_s']:,.0f} rec/s, RSS {floor['peak_rss_mb']:,.0f} MB",
                          f"{tp['ratio_to_floor']}{cpu}",
                          ">= 0.9x floor, RSS <= 1 GB", _met(tp["meets_target"]), tp["date"]))
    tap = _load("singer_tap")
    if tap:
        machine = machine or tap["machine"]
        for c in tap["comparisons"]:
            notes = []
            if c.get("token_factor_without_history"):
                notes.append(f"without per-deal history: {c['token_factor_without_history']}x fewer tok")
            if c.get("best_possible"):
                notes.append(_best(c["best_possible"]))
            lines.append(_row("4 vs Singer tap", f"{c['label']} full", _who("ours", c["ours"]), _who("tap", c["tap"]),
                              f"{c['token_factor']}x fewer tok, {c['speed_factor']}x faster"
                              + (f" ({'; '.join(notes)})" if notes else ""),
                              ">= 5x tokens, >= 3x speed", _met(c["meets_target"]), c.get("date") or tap["date"]))
            inc = c.get("incremental")
            if inc and not inc.get("skipped"):
                lines.append(_row("4 vs Singer tap", f"{c['label']} incremental {inc['fraction']:.1%}",
                                  _who("ours", inc["ours"]), _who("tap", inc["tap"]),
                                  f"{inc['token_factor']}x fewer tok, {inc['request_factor']}x fewer req, "
                                  f"{inc['speed_factor']}x faster ({_best(inc['best_possible'])})",
                                  ">= 5x tokens, >= 3x speed", _met(inc["meets_target"]), c.get("date") or tap["date"]))
    sc = _load("scaling")
    if sc:
        machine = machine or sc["machine"]
        for r in sc["runs"]:
            lines.append(_row("5 scaling", f"{r['size']} {r['sync']}",
                              f"{r['requests']:,} req / {r['tokens']:,} tok / {r['wall_s']:,.1f} s"
                              f" ({r['mode']}, {r['rows']:,} rows)",
                              f"min {r.get('min_requests', 0):,} req / {r.get('min_tokens', 0):,} tok",
                              f"{r.get('requests_ratio')} / {r.get('tokens_ratio')}", "(report)", "-", sc["date"]))
    for name in PLANS_RESULTS:
        pl = _load(name)
        if not pl:
            continue
        machine = machine or pl["machine"]
        for s in pl["syncs"]:
            path = ", through run.load" if s.get("path") == "pipedrive.run.load" else ""
            lines.append(_row("6 plans", f"{s['size']} {s['sync']} ({s['plan']}, {s['limit_per_2s']}/2 s, "
                              f"{pl['latency_ms']:.0f} ms{path})",
                              f"{s['wall_s']:,.1f} s, {s['requests']:,} req, {s['responses_429']} x 429, "
                              f"{s['blocked_403']} x 403; API not the limit {s['api_not_limit_share']:.0%}; "
                              f"peak RSS {s['peak_rss_mb']:,.0f} MB",
                              f"{s['bound_s']:,} s", s["bound_ratio"], "<= 1.15 (large: 1.25), 429 < 1%, no 403",
                              _met(s["meets_target"]), pl["date"]))
    st = _load("startup")
    if st:
        machine = machine or st["machine"]
        best = st["best"]
        lines.append(_row("7 startup", f"{st['size']} no-change CLI run ({st['plan']}, {st['latency_ms']:.0f} ms)",
                          f"{best['wall_s']} s, {best['requests']} req (imports {st['imports_s']} s)",
                          f"{best['bound_s']} s", f"+{best['over_bound_s']} s", "<= bound + 2 s",
                          _met(st["meets_target"]), st["date"]))
    lines.append("")
    if machine:
        lines += [f"Machine: `{machine['uname']}`, {machine['cores']} cores, {machine['ram_gb']} GB RAM, "
                  f"Python {machine['python']}, dlt {machine['dlt']}, source at git `{machine['git']}`. "
                  "Load average when each benchmark finished (other engineers' test suites shared the 2 "
                  "cores): " + ", ".join(f"{n} {d['machine'].get('loadavg_1_5_15')}"
                                         for n, d in (("efficiency", eff), ("rate_limit", rl), ("throughput", tp),
                                                      ("singer_tap", tap), ("scaling", sc),
                                                      *((name, _load(name)) for name in PLANS_RESULTS), ("startup", st)) if d)
                  + ".", ""]
    lines.append(END)
    return lines


def refresh_results_md() -> None:
    """Rewrites the generated block of RESULTS.md (creating the file if needed)."""
    block = "\n".join(summary_lines())
    if RESULTS_MD.exists():
        text = RESULTS_MD.read_text()
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            _, tail = rest.split(END, 1)
            RESULTS_MD.write_text(head + block + tail)
            return
        RESULTS_MD.write_text(text.rstrip() + "\n\n" + block + "\n")
        return
    RESULTS_MD.write_text("# Benchmark results\n\n" + block + "\n")


if __name__ == "__main__":
    refresh_results_md()

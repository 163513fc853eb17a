"""Benchmarks of the `pipedrive` source against the Pipedrive simulator.

Run all with `make bench` (`.venv/bin/python -m bench.run_all`) or one with
`.venv/bin/python -m bench.<name>`. Numbers are printed, written to `bench/results/<name>.json`
and summarised in `bench/RESULTS.md`. Benchmarks report; they do not pass or fail.
"""

# Two commands for a newcomer: `make demo` and `make test` (Python 3.11 and make, nothing else).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SIZE ?= small

.PHONY: venv demo test test-faults bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt pipedrive/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(PY) pipedrive_pipeline.py --demo --size $(SIZE)

test: venv
	$(PY) -m pytest -q

test-faults: venv
	$(PY) -m pytest -q -m faults

bench: venv
	$(PY) -m bench.run_all

clean:
	rm -rf $(VENV) .pytest_cache _storage *.duckdb

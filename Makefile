# Two commands for a newcomer: `make demo` and `make test` (Python 3.11 and make, nothing else).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SIZE ?= small

.PHONY: venv demo test test-faults bench specs clean

$(VENV)/.installed: requirements.txt requirements-dev.txt pipedrive/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(PY) pipedrive_pipeline.py --demo --size $(SIZE)

test: venv
	$(PY) -m pytest -q -n auto --dist loadfile

test-faults: venv
	$(PY) -m pytest -q -n auto --dist loadfile -m faults

bench: venv
	$(PY) -m bench.run_all

# the official OpenAPI specs for the spec-based tests (not in the repository; see README)
specs:
	mkdir -p .specs
	curl -fsSL -o .specs/openapi-v1.yaml https://developers.pipedrive.com/docs/api/v1/openapi.yaml
	curl -fsSL -o .specs/openapi-v2.yaml https://developers.pipedrive.com/docs/api/v1/openapi-v2.yaml

clean:
	rm -rf $(VENV) .pytest_cache _storage *.duckdb

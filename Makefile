# The two commands the README opens with: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
CONFIG ?= config.example.toml

.PHONY: run test e2e lint bench lock clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/slad --config $(CONFIG) migrate
	$(VENV)/bin/slad --config $(CONFIG) run

test: $(STAMP)
	$(PY) -m pytest

e2e: $(STAMP)
	$(PY) -m pytest -m e2e -p no:cacheprovider

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy sla_engine connectors daemon

bench: $(STAMP)
	$(PY) bench/engine.py
	$(PY) bench/ingest.py
	$(PY) bench/scheduler.py

lock: $(STAMP)
	$(PY) -m pip freeze --exclude-editable --exclude slad > constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

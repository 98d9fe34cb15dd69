# Two entry points, both working from a fresh clone with only Python 3:
#   make demo   a simulated multi-agent build into database/observability.db
#   make test   the test suite (the README's command: python -m pytest -q)
#   make docs   the docs/ pages as a static site in site/ (mkdocs build --strict)
# Each creates .venv when it is missing and (re)installs when pyproject.toml changes.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The venv's bin first on PATH, so `python` and `otel-obs` are the venv's.
RUN    := PATH="$(CURDIR)/$(BIN):$$PATH"

.PHONY: demo test docs lint typecheck clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $@ $(VENV)/.installed

$(VENV)/.installed-docs: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[docs]"
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(RUN) otel-obs demo

# The PostgreSQL engine's tests start a throwaway server (tests/pg_cluster.py) from
# Debian's postgresql package, installed here when it is missing.
test: $(VENV)/.installed-test
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ( command -v apt-get >/dev/null \
		&& DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null ) \
		|| echo "postgresql not installed: its tests will skip" >&2
	$(RUN) python -m pytest -q

docs: $(VENV)/.installed-docs
	$(RUN) mkdocs build --strict

lint: $(VENV)/.installed-test
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) python .ci/typecheck

# mypy on otel_obs as installed (exporters/ and queries/ under it): see .ci/typecheck.
typecheck: $(VENV)/.installed-test
	$(RUN) python .ci/typecheck

clean:
	rm -rf $(VENV) .ci-venv database transcripts site .pytest_cache .ruff_cache .mypy_cache .typecheck

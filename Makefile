# CryptoUSD: two commands on a fresh machine with Python 3.11 and pip.
#   make dashboard   set up .venv (first time only), then serve the live dashboard with Voila
#   make test        set up .venv with the test tools, then run the whole test suite
# Each step re-installs only when pyproject.toml changes (the .venv/.stamp-* files).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8866
PYTEST_ARGS ?=

.PHONY: dashboard test notebooks bench lab clean-venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.stamp-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

dashboard: $(VENV)/.stamp-dev
	$(BIN)/cryptousd dashboard --port $(PORT)

test: $(VENV)/.stamp-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

notebooks: $(VENV)/.stamp-dev
	$(BIN)/cryptousd notebooks $(if $(QUICK),--quick,)

bench: $(VENV)/.stamp-dev
	for b in data forecast evaluate live; do $(BIN)/cryptousd bench $$b || exit 1; done

lab: $(VENV)/.stamp-dev
	$(BIN)/jupyter lab notebooks/

clean-venv:
	rm -rf $(VENV)

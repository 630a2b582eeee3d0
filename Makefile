# Quick start: `make run` serves on 127.0.0.1:8080 with data/app.db; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test migrate verify bench clean-venv

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime-installed: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@ $(VENV)/.runtime-installed

run: $(VENV)/.runtime-installed
	$(PY) -m app migrate
	$(PY) -m app serve

test: $(VENV)/.dev-installed
	$(PY) -m pytest

migrate: $(VENV)/.runtime-installed
	$(PY) -m app migrate

verify: $(VENV)/.runtime-installed
	$(PY) -m app verify

bench: $(VENV)/.dev-installed
	$(PY) bench/ledger_bench.py
	$(PY) bench/http_bench.py

clean-venv:
	rm -rf $(VENV)

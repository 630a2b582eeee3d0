# Quick start: `make run` serves on 127.0.0.1:8080 with data/app.db; `make test` runs every test.
# Both install from the fully pinned requirements*.txt; `make lock` regenerates those from *.in.
# `make dist` builds dist/rewards, the whole service in one executable (Linux x86-64, PyInstaller).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

# `make lock` keeps the current pins and resolves only what changed in requirements*.in;
# `make lock LOCK_ARGS=--upgrade` moves every pin to the newest release,
# `make lock LOCK_ARGS="--upgrade-package tornado"` just one package.
LOCK_VENV := $(VENV)/lock-tools
PIP_TOOLS := pip-tools==7.6.2
LOCK_ARGS ?=
PIP_COMPILE = CUSTOM_COMPILE_COMMAND="make lock" $(LOCK_VENV)/bin/pip-compile --quiet --strip-extras --allow-unsafe \
	--no-emit-index-url --no-emit-find-links $(LOCK_ARGS)

.PHONY: run test dist migrate verify bench lock clean-venv

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime-installed: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

# requirements-dev.txt holds the runtime pins too (the same versions as requirements.txt).
$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@ $(VENV)/.runtime-installed

run: $(VENV)/.runtime-installed
	$(PY) -m app migrate
	$(PY) -m app serve

test: $(VENV)/.dev-installed
	$(PY) -m pytest

# One file holding Python, the packages, migrations/, templates/ and Swagger UI's files; cached
# outside the repo by a hash of its inputs (~/.cache/rewards-dist; packaging/build.py says how).
dist: $(VENV)/.dev-installed
	$(PY) packaging/build.py

migrate: $(VENV)/.runtime-installed
	$(PY) -m app migrate

verify: $(VENV)/.runtime-installed
	$(PY) -m app verify

bench: $(VENV)/.dev-installed
	$(PY) bench/ledger_bench.py
	$(PY) bench/http_bench.py

# pip-tools lives in its own venv: it is not a dependency of the service or of its tests.
$(LOCK_VENV)/bin/pip-compile:
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet --disable-pip-version-check $(PIP_TOOLS)

lock: $(LOCK_VENV)/bin/pip-compile
	@$(LOCK_VENV)/bin/python -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else \
		"make lock resolves for Python 3.11 (the Dockerfile, CI): rm -r $(LOCK_VENV); make lock PYTHON=python3.11")'
	$(PIP_COMPILE) --output-file=requirements.txt requirements.in
	$(PIP_COMPILE) --output-file=requirements-dev.txt requirements-dev.in

clean-venv:
	rm -rf $(VENV)

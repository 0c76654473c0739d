# Mingchu: `make run` starts the whole system with a demo city; `make test` runs every check.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: help setup services run test lint typecheck pytest bench bench-mdrp seed clean-services

help:
	@echo "make run    - set up and start every process with a demo city (Ctrl-C stops);"
	@echo "              make run SIMULATE=1 also drives simulated couriers and diners"
	@echo "make test   - set up, then lint, migrations check, mypy and the test suite"
	@echo "make bench  - the benchmarks in bench/ (not part of the tests)"

$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt
	scripts/venv.sh

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

.env: | $(VENV)/.installed
	scripts/write-env.sh

services: $(VENV)/.installed .env
	scripts/services.sh

# Everything both targets need: dependencies, services, schema, translations, static files.
setup: $(VENV)/.installed node_modules/.installed .env services
	$(PY) manage.py migrate --noinput
	$(PY) manage.py compilemessages --ignore=.venv --ignore=node_modules -v 0
	$(PY) manage.py collectstatic --noinput -v 0

run: setup
	$(PY) manage.py seed_demo --if-empty
	$(PY) manage.py demo_logins
ifdef SIMULATE
	# The simulator is a demo and load-test tool, never a production process: it joins the
	# Procfile's processes only here.
	{ cat Procfile; echo "simulator: python manage.py simulate --couriers 20 --diners 10 --orders-per-minute 4"; } > .services/Procfile.simulate
	honcho -f .services/Procfile.simulate -d . start web worker beat dispatcher simulator
else
	honcho start web worker beat dispatcher
endif

lint: $(VENV)/.installed
	ruff check .
	ruff format --check .

typecheck: $(VENV)/.installed
	mypy

pytest: setup
	scripts/browser.sh
	pytest

test: setup lint
	$(PY) manage.py makemigrations --check --dry-run
	mypy
	scripts/browser.sh
	pytest

bench: setup
	$(PY) bench/run_all.py

# Every public MDRP instance (../shared) through our dispatch and the naive baseline, 2 processes,
# beside the paper's figures; then the imperfect-information mode (ready times estimated).
bench-mdrp: $(VENV)/.installed
	$(PY) bench/mdrp_table.py --jobs 2
	$(PY) bench/mdrp_table.py --jobs 2 --ready estimated --no-naive --no-scale

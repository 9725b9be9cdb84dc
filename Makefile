# LeadFlow: `make run` and `make test` work on a machine that has only Python 3.11+ and make.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# The first python3 >= 3.11 on PATH.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { echo $$p; break; }; done)

.PHONY: run test lint format migrations-check check-compose vendor seed clean

$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "LeadFlow needs Python 3.11 or newer on PATH."; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

run: $(VENV)/.installed
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo --if-empty
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" honcho start -f Procfile -p $(PORT)

test: $(VENV)/.installed
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

migrations-check: $(VENV)/.installed
	$(PY) manage.py makemigrations --check --dry-run

check-compose:
	docker-compose config -q

vendor:
	scripts/vendor.sh

seed: $(VENV)/.installed
	$(PY) manage.py seed_demo --reset --leads $${LEADS:-2000}

clean:
	rm -rf var/celery var/celerybeat-schedule*

# LeadFlow: `make run` and `make test` work on a machine that has only Python 3.11+ and make.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# The first python3 >= 3.11 on PATH.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { echo $$p; break; }; done)

.PHONY: lock run test lint format migrations-check check-compose vendor seed clean messages translations

# Every package, pip and setuptools included, comes from the lock file at its hash; LeadFlow
# itself is installed on top without resolving anything (make lock updates the lock).
$(VENV)/.installed: requirements-dev.txt pyproject.toml
	@test -n "$(PYTHON)" || { echo "LeadFlow needs Python 3.11 or newer on PATH."; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes --no-deps -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# Re-resolve the lock files from pyproject.toml's ranges: `make lock` moves every package to
# its newest allowed release; `make lock LOCK_ARGS=` only adds what pyproject.toml gained;
# `make lock LOCK_ARGS="--upgrade-package celery"` moves one. Runtime first, so the dev
# lock holds the very same runtime versions.
LOCK_ARGS ?= --upgrade
LOCK := $(VENV)/bin/uv pip compile --quiet --python-version 3.11 --generate-hashes $(LOCK_ARGS)
lock: $(VENV)/.installed
	$(LOCK) pyproject.toml requirements-build.in -o requirements.txt
	$(LOCK) pyproject.toml requirements-build.in --extra dev -c requirements.txt \
		-o requirements-dev.txt

run: $(VENV)/.installed translations
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo --if-empty
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" honcho start -f Procfile -p $(PORT)

test: $(VENV)/.installed
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# locale/*/LC_MESSAGES/*.po -> .mo in pure Python (no GNU gettext needed); only what changed.
translations: $(VENV)/.installed
	$(PY) manage.py compile_translations

# Collect new and changed strings into locale/nl/LC_MESSAGES/django.po (needs GNU gettext).
messages: $(VENV)/.installed
	$(PY) manage.py makemessages -l nl --no-obsolete --add-location file \
		--ignore=.venv --ignore=var --ignore=static/vendor --ignore=tests --ignore=benchmarks \
		--ignore=scripts

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

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

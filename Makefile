# Atelier: `make demo` runs the whole thing on a fresh machine, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV_VERSION := 0.13.9
CUSTOMERS ?= 2000

.PHONY: install demo test lint worker beat serve bench-seed bench-admin bench-import bench-followups bench-surveys \
	bench-sync bench-webhooks bench-bulk clean-db

# The virtual environment is rebuilt whenever the lock file changes; installs use the pinned, hashed lock only.
$(VENV)/.installed: requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/uv pip install --quiet --python $(PY) --require-hashes -r requirements.lock
	touch $@

install: $(VENV)/.installed

demo: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo --if-empty --customers $(CUSTOMERS)
	$(PY) manage.py demo_login
	$(PY) manage.py serve_demo

test: install lint
	$(VENV)/bin/pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

# The worker consumes this installation's queue only (CELERY_QUEUE_PREFIX, else derived from its database).
worker: install
	$(VENV)/bin/celery -A config worker --loglevel=info

beat: install
	$(VENV)/bin/celery -A config beat --loglevel=info --scheduler django_celery_beat.schedulers:DatabaseScheduler

serve: install
	$(PY) manage.py runserver 127.0.0.1:8000

bench-seed: install
	$(PY) bench/seed.py --customers 100000

bench-admin: install
	$(PY) bench/admin_pages.py --customers 100000

bench-import: install
	$(PY) bench/import_legacy.py customers --rows 100000

bench-followups: install
	$(PY) bench/followup_dispatch.py --followups 1000

bench-surveys: install
	$(PY) bench/survey_schedule.py --interactions 100000 --send 1000

bench-sync: install
	$(PY) bench/sync_pos.py --orders 100000

bench-webhooks: install
	$(PY) bench/webhook_orders.py --orders 2000

bench-bulk: install
	$(PY) bench/bulk_ingest.py --interactions 20000

# Stops the embedded PostgreSQL (if running) and deletes its data.
clean-db:
	rm -rf var/pgdata

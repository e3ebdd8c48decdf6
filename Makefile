# Every target does its own set-up: a virtualenv in .venv with the pinned requirements.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt requirements-nodeps.txt constraints.txt | sha1sum | cut -c1-12)

.PHONY: demo test test-embedded test-services browser lint prepare serve worker bench clean

$(STAMP): requirements.txt requirements-dev.txt requirements-nodeps.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt
	rm -f $(VENV)/.installed-*
	touch $@

demo: $(STAMP)
	$(BIN)/python manage.py migrate --noinput -v0
	$(BIN)/python manage.py demo

test: lint test-embedded test-services

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The embedded defaults' folders and secret key under var/ (manage.py does it too).
prepare: $(STAMP)
	$(BIN)/python -m metamer.embedded

# Embedded defaults: SQLite, Celery in-process, local media.
test-embedded: prepare browser
	$(BIN)/python -m pytest -n 2 -q

# Debian's Chromium for the real-browser tests (they skip, saying why, where it cannot be installed).
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| echo "Chromium could not be installed: the browser tests will be skipped"

# Production path: PostgreSQL and a real Celery worker on Redis (skipped with the reason when unreachable).
test-services: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/test-services.sh

# The web server and, beside it, a Celery worker (with the beat schedule) that takes jobs through
# files under var/queue: no request waits for a job, and nothing else needs installing.
serve: prepare
	$(BIN)/python manage.py migrate --noinput -v0
	$(BIN)/python manage.py first_login
	$(BIN)/python manage.py catalogue
	CELERY_BROKER_URL=filesystem:// $(BIN)/celery -A metamer worker -B -s var/celerybeat-schedule -Q gpu,celery \
		--pool solo --loglevel WARNING & worker=$$!; trap "kill $$worker" EXIT INT TERM; \
	CELERY_BROKER_URL=filesystem:// $(BIN)/python manage.py runserver 127.0.0.1:8000

# Every benchmark's headline in one table (run with nothing else busy).
bench: prepare
	$(BIN)/python benchmarks/all.py

worker: prepare
	$(BIN)/celery -A metamer worker -Q gpu,celery --loglevel INFO

clean:
	rm -rf $(VENV) var

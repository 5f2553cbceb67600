# Milepost: `make run` to try it, `make test` to check it. See README.md.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/milepost
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0
# pytest-xdist workers for `make test`: one per core, at most 4 (TEST_WORKERS=0: one process).
# Worker gwN uses the Redis database base + N of TEST_REDIS_URL (tests/conftest.py).
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); echo $$(( n > 4 ? 4 : n )))
# Tests go to whichever worker is free, but those sharing an expensive fixture (a file's Celery
# worker, the migrated template database) stay together on one (--dist loadgroup, conftest.py).
XDIST := $(if $(filter-out 0 1,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist loadgroup,-n 0)

.PHONY: install system-deps run serve test bench lint format messages clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: system-deps $(STAMP) ## Create .venv with the project and its test tools

# Browser tests need Debian's Chromium and CJK fonts; translations need gettext; `make bench`
# loads the API with wrk (a C client: a Python one competes with the server for the cores).
system-deps:
	@missing=""; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	[ -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || missing="$$missing fonts-noto-cjk"; \
	command -v msgfmt >/dev/null || missing="$$missing gettext"; \
	command -v wrk >/dev/null || missing="$$missing wrk"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "Installing system packages:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		else \
			echo "Please install:$$missing (browser tests, translations and make bench need them)"; \
		fi; \
	fi

messages: $(STAMP) ## Compile translations
	$(BIN)/python manage.py compilemessages --ignore=.venv -v 0

# The database is migrated and seeded before the processes start, so they never race to write
# it; the jobs log warnings only (LOG_LEVEL=INFO to watch them), so the demo logins stay on screen.
run: install messages ## Migrate, load demo data and serve web + worker + beat on http://127.0.0.1:8000
	@mkdir -p $${MILEPOST_VAR_DIR:-var}
	@DEBUG=true $(BIN)/python manage.py migrate --noinput -v 0
	@DEBUG=true $(BIN)/python manage.py seed_demo
	@DEBUG=true LOG_LEVEL=$${LOG_LEVEL:-WARNING} $(BIN)/honcho start -f Procfile.dev

serve: install messages ## Production: check settings, migrate, collectstatic, run gunicorn + worker + beat
	$(BIN)/python -m tracker.ops.serve

# Twice: the whole suite on PostgreSQL, then the alert pipeline (tests/conftest.py: EMBEDDED) on
# `make run`'s SQLite, in a folder of its own, with Redis as the broker only (no Redis cache, as
# in `make run`). Exit status 5 is pytest's "nothing selected" (PYTEST_ARGS chose other tests).
test: install messages ## Run the suite against the real PostgreSQL and Redis, the alert pipeline on SQLite too
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) \
		$(BIN)/pytest --create-db $(XDIST) --durations=25 $(PYTEST_ARGS)
	@embedded=$$(mktemp -d) && trap 'rm -rf "$$embedded"' EXIT && \
	echo "Alert pipeline on SQLite ($$embedded):" && \
	MILEPOST_VAR_DIR=$$embedded DATABASE_URL=sqlite:///$$embedded/milepost.sqlite3 \
		TEST_BROKER_URL=$(TEST_REDIS_URL) REDIS_URL= \
		$(BIN)/pytest --create-db $(XDIST) --durations=10 $(PYTEST_ARGS) || [ $$? = 5 ]

# Each benchmark makes and drops a database of its own (BENCH_DATABASE_URL, else
# milepost_bench_<pid>_<name> on TEST_DATABASE_URL's server); the email one needs Redis as the
# worker's broker. Prints one table of figures against their targets, writes var/bench-results.json.
bench: install messages ## Benchmarks (timings are measured here, never in tests)
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(BIN)/python -m benchmarks.run

lint: install ## ruff, and the layers contract (pyproject.toml: tool.importlinter)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf var .venv test-artifacts

# Aletheia — the one front door. `make help` lists every target.
.DEFAULT_GOAL := help
SHELL := /bin/bash

# uv runs everything in .venv from uv.lock. Without uv on PATH, it is bootstrapped into .tools/.
UV ?= $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
export UV_PYTHON_DOWNLOADS := never
VENV_STAMP := .venv/.synced
RUN := $(UV) run --locked --no-sync
MANAGE := $(RUN) python manage.py
PYTEST_WORKERS ?= auto

.tools/bin/uv:
	python3 -m venv .tools && .tools/bin/pip install --quiet uv

$(VENV_STAMP): pyproject.toml uv.lock | $(if $(filter .tools/bin/uv,$(UV)),.tools/bin/uv)
	$(UV) sync --locked
	@touch $@

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: install
install: $(VENV_STAMP) ## install the locked Python dependencies into .venv

.PHONY: dev
dev: $(VENV_STAMP) ## run Aletheia on :8000 (embedded SQLite/cache/eager Celery unless DATABASE_URL/REDIS_URL are set)
	$(MANAGE) compile_translations -v0
	$(MANAGE) migrate --noinput
	$(MANAGE) sync_periodic_tasks
	$(MANAGE) seed_demo --if-empty
	@echo "Aletheia: http://localhost:8000/dashboard/ (demo / demo)"
	$(MANAGE) runserver 0.0.0.0:8000

.PHONY: test
test: $(VENV_STAMP) ## run the tests in parallel against real PostgreSQL and Redis
	$(RUN) pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

.PHONY: test-coverage
test-coverage: $(VENV_STAMP) ## run the tests with a coverage report
	$(RUN) pytest -n $(PYTEST_WORKERS) --cov --cov-report=term-missing:skip-covered --cov-report=html $(PYTEST_ARGS)

.PHONY: lint
lint: $(VENV_STAMP) ## check: ruff lint, ruff format --check, mypy (django-stubs)
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy .

.PHONY: format
format: $(VENV_STAMP) ## auto-format and fix imports (ruff)
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

.PHONY: migrations
migrations: $(VENV_STAMP) ## make new migrations from model changes
	$(MANAGE) makemigrations

.PHONY: migrate
migrate: $(VENV_STAMP) ## apply migrations
	$(MANAGE) migrate

.PHONY: i18n-update
i18n-update: $(VENV_STAMP) ## extract messages, translate missing ones (DeepL if DEEPL_API_KEY), compile
	$(MANAGE) i18n_update

.PHONY: sync-all
sync-all: $(VENV_STAMP) ## full Doctolib sync of every followed profile, in this process
	$(MANAGE) sync_doctolib --all

.PHONY: bench-sync
bench-sync: $(VENV_STAMP) ## benchmark a full sync of 200 profiles against a local server with 50 ms latency
	$(RUN) python -m aletheia.catalog.bench $(BENCH_ARGS)

.PHONY: shell
shell: $(VENV_STAMP) ## Django shell on the configured database
	$(MANAGE) shell

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
# ENV=local (default) works on this machine; ENV=dev|staging|prod drives the server through ops.
ENV ?= local
OPS := python3 -m ops
DRY_RUN ?=
OPS_FLAGS := $(if $(DRY_RUN),--dry-run)
# Docker: the CLI with BuildKit built in (here /usr/bin/docker; any recent `docker` elsewhere),
# and Compose v2 (`docker compose`) when present, else v1 (`docker-compose`).
DOCKER ?= $(shell [ -x /usr/bin/docker ] && echo /usr/bin/docker || echo docker)
COMPOSE ?= $(shell $(DOCKER) compose version >/dev/null 2>&1 && echo "$(DOCKER) compose" || echo docker-compose)
GIT_SHA := $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
# CA bundle of a TLS-intercepting proxy, passed to the build as a secret (never stored in a layer)
BUILD_CA_BUNDLE ?= $(wildcard /etc/ssl/certs/ca-certificates.crt)
# network for RUN steps during builds (`host` where the default bridge has no route out)
BUILD_NETWORK ?=
comma := ,

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
	$(RUN) pytest -n $(PYTEST_WORKERS) -m "not e2e" $(PYTEST_ARGS)

.PHONY: test-e2e
test-e2e: $(VENV_STAMP) ## build the real image, run it, and deploy a whole server (dev, staging, prod behind nginx) here
	scripts/ensure-docker
	DOCKER=$(DOCKER) docker/make-base-image
	$(RUN) pytest -m e2e -p no:xdist -v $(PYTEST_ARGS) tests/e2e

.PHONY: test-coverage
test-coverage: $(VENV_STAMP) ## run the tests with a coverage report
	$(RUN) pytest -n $(PYTEST_WORKERS) -m "not e2e" --cov --cov-report=term-missing:skip-covered --cov-report=html $(PYTEST_ARGS)

.PHONY: lint
lint: $(VENV_STAMP) ## check: ruff lint, ruff format --check, mypy (django-stubs), ops layering (ops/layers.py), migrations backward compatible (django-migration-linter), lint-scripts, docs build
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy .
	python3 -m ops.layers
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres} $(RUN) python manage.py lintmigrations --settings config.settings.test --quiet ok ignore
	@$(MAKE) --no-print-directory lint-scripts
	$(RUN) mkdocs build --strict --quiet

# Shell scripts are found by their shebang (sh, bash, dash; tracked or new, not ignored), Dockerfiles
# by name. The linters are the locked ones in .venv, called by path: whatever shellcheck or hadolint
# this machine has on PATH (or in its rc/config files and SHELLCHECK_OPTS/HADOLINT_* variables)
# changes nothing, and a missing one fails instead of falling back to PATH.
LINT_BIN := .venv/bin
REPO_FILES = git ls-files --cached --others --exclude-standard
SHELL_SCRIPTS = $(sort $(shell $(REPO_FILES) -z | xargs -0 awk 'FNR == 1 && /^\#!(.*[\/ ])?(ba|da)?sh( |$$)/ { print FILENAME } { nextfile }' 2>/dev/null))
DOCKERFILES = $(sort $(shell $(REPO_FILES) -- Dockerfile '*/Dockerfile' '*.Dockerfile'))
unexport SHELLCHECK_OPTS $(filter HADOLINT_%,$(.VARIABLES))

.PHONY: lint-scripts
lint-scripts: $(VENV_STAMP) ## check the shell scripts (shellcheck), Dockerfiles (hadolint) and workflows (actionlint, with that shellcheck)
	@echo "shellcheck: $(SHELL_SCRIPTS)"
	$(LINT_BIN)/shellcheck --norc $(SHELL_SCRIPTS)
	@echo "hadolint: $(DOCKERFILES)"
	$(LINT_BIN)/hadolint --config .hadolint.yaml $(DOCKERFILES)
	@# the workflows have no `shell: python` steps: pyflakes (run when found on PATH) is off
	$(LINT_BIN)/actionlint -shellcheck "$(LINT_BIN)/shellcheck --norc" -pyflakes ""

.PHONY: docs
docs: $(VENV_STAMP) ## serve the documentation site (docs/, mkdocs) on http://localhost:8001
	$(RUN) mkdocs serve --dev-addr 127.0.0.1:8001

.PHONY: format
format: $(VENV_STAMP) ## auto-format and fix imports (ruff)
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

.PHONY: migrations
migrations: $(VENV_STAMP) ## make new migrations from model changes
	$(MANAGE) makemigrations

.PHONY: migrate
migrate: ## apply migrations (.venv locally, or in a one-off container with ENV=…)
	$(if $(filter local,$(ENV)),$(MAKE) install && $(MANAGE) migrate,$(OPS) migrate $(ENV) $(OPS_FLAGS))

.PHONY: i18n-update
i18n-update: $(VENV_STAMP) ## extract messages, translate missing ones (DeepL if DEEPL_API_KEY), compile
	$(MANAGE) i18n_update

.PHONY: sync-all
sync-all: ## full Doctolib sync of every followed profile (here, or in a one-off container with ENV=…)
	$(if $(filter local,$(ENV)),$(MAKE) install && $(MANAGE) sync_doctolib --all,$(OPS) sync-all $(ENV) $(OPS_FLAGS))

.PHONY: bench-sync
bench-sync: $(VENV_STAMP) ## benchmark a full sync of 200 profiles against a local server with 50 ms latency
	$(RUN) python -m aletheia.catalog.bench $(BENCH_ARGS)

.PHONY: bench-deploy
bench-deploy: $(VENV_STAMP) ## a whole server here: deploy, redeploy and rollback under 50 requests/s, in place (recreate), the switch, and a swarm stack, with memory/CPU per container (run under flock /tmp/aletheia-e2e.lock)
	scripts/ensure-docker
	DOCKER=$(DOCKER) docker/make-base-image
	ALETHEIA_BENCH_DEPLOY=1 $(RUN) pytest -m e2e -p no:xdist -s -q tests/e2e/server/test_zero_downtime.py tests/e2e/test_swarm.py -k bench_deploy $(PYTEST_ARGS)

.PHONY: bench-web
bench-web: $(VENV_STAMP) ## benchmark the dashboard as production serves it (gunicorn 2x4) at 8, 60 and 300 centres with a year of history
	$(RUN) python -m aletheia.dashboard.bench $(BENCH_ARGS)

.PHONY: django-shell
django-shell: $(VENV_STAMP) ## Django shell on the configured database (no containers)
	$(MANAGE) shell

# --- local docker compose stack (docker-compose.yml + docker-compose.override.yml) ---------

.PHONY: build
build: ## build the image (aletheia:local and aletheia:<git sha>)
	DOCKER_BUILDKIT=1 $(DOCKER) build -f docker/Dockerfile --build-arg GIT_SHA=$(GIT_SHA) \
	  $(if $(BUILD_CA_BUNDLE),--secret id=ca_bundle$(comma)src=$(BUILD_CA_BUNDLE)) \
	  $(if $(BUILD_NETWORK),--network $(BUILD_NETWORK)) $(BUILD_ARGS) \
	  -t aletheia:local -t aletheia:$(GIT_SHA) .

.PHONY: rebuild
rebuild: ## build the image without cache
	$(MAKE) build BUILD_ARGS="--no-cache $(BUILD_ARGS)"

.PHONY: up
up: build ## start the local stack (web on localhost:8000, db, redis, celery, beat)
	$(COMPOSE) up -d
	@echo "Aletheia: http://localhost:8000 (make logs to follow)"

.PHONY: down
down: ## stop the local stack, or ENV=… (containers removed, data kept; prod: CONFIRM=prod or a prompt)
	$(if $(filter local,$(ENV)),$(COMPOSE) down,$(OPS) down $(ENV) $(if $(CONFIRM),--confirm $(CONFIRM)) $(OPS_FLAGS))

.PHONY: ps
ps: ## list containers (local stack, or ENV=dev|staging|prod)
	$(if $(filter local,$(ENV)),$(COMPOSE) ps,$(OPS) ps $(ENV))

.PHONY: logs
logs: ## every container's last 100 lines then follow (local, or ENV=…; SINCE=10m|2026-11-29T10:00, FOLLOW=0)
	$(if $(filter local,$(ENV)),$(COMPOSE) logs --tail=100 $(if $(filter 0,$(FOLLOW)),,-f),$(OPS) logs $(ENV) $(if $(SINCE),--since $(SINCE)) $(if $(filter 0,$(FOLLOW)),--no-follow))

.PHONY: shell
shell: ## open a bash shell in the web container (local stack, or ENV=…)
	$(if $(filter local,$(ENV)),$(COMPOSE) exec web bash,$(OPS) shell $(ENV))

.PHONY: stack-migrate
stack-migrate: ## apply migrations inside the local web container
	$(COMPOSE) exec web python manage.py migrate

# --- server environments (ENV=dev|staging|prod): python3 -m ops, standard library only ----------

SERVER_ENV = @[ "$(ENV)" != local ] || { echo "make $@ needs ENV=dev|staging|prod"; exit 2; }

.PHONY: server-init
server-init: ## first-time setup of the server (ENV=… for one; APPLY=1 creates the roles, databases, Redis users); safe to re-run
	$(OPS) server-init $(filter-out local,$(ENV)) $(if $(APPLY),--apply) $(OPS_FLAGS)

.PHONY: restart
restart: ## ENV=…: start the current release again (after an env file change, or make down)
	$(SERVER_ENV)
	$(OPS) restart $(ENV) $(OPS_FLAGS)

.PHONY: deploy
deploy: ## deploy to ENV=dev|staging|prod (REF=branch or tag; prod: REF=vX.Y required, SKIP_BACKUP=1; STRATEGY=recreate; MAINTENANCE=1; DRY_RUN=1)
	$(SERVER_ENV)
	./deploy.sh $(ENV) $(REF) $(OPS_FLAGS) $(if $(SKIP_BACKUP),--skip-backup) $(if $(STRATEGY),--strategy $(STRATEGY)) $(if $(MAINTENANCE),--maintenance)

.PHONY: db-backup
db-backup: ## ENV=…: pg_dump the environment's database into ROOT/backups/ENV (checksum, retention)
	$(SERVER_ENV)
	$(OPS) db-backup $(ENV) $(OPS_FLAGS)

.PHONY: db-backups
db-backups: ## ENV=…: list the environment's backups
	$(SERVER_ENV)
	$(OPS) db-backups $(ENV)

.PHONY: db-restore
db-restore: ## ENV=… FILE=…: restore a backup (CONFIRM=prod for prod; FROM_ENV=… for another env's backup)
	$(SERVER_ENV)
	@[ -n "$(FILE)" ] || { echo "make db-restore needs FILE=… (make db-backups ENV=$(ENV) lists them)"; exit 2; }
	$(OPS) db-restore $(ENV) "$(FILE)" $(if $(CONFIRM),--confirm $(CONFIRM)) $(if $(FROM_ENV),--from-env $(FROM_ENV)) $(OPS_FLAGS)

.PHONY: doctor
doctor: ## check each server environment (or ENV=…) and print a pass/fail table
	$(OPS) doctor $(filter-out local,$(ENV))

.PHONY: prune-images
prune-images: ## remove the images no environment keeps (each keeps its last ALETHEIA_IMAGES_KEEP releases)
	$(OPS) prune-images $(OPS_FLAGS)

.PHONY: nginx-activate
nginx-activate: ## ENV=…: make the full nginx config active (nginx -t first), replacing the 503 placeholder
	$(OPS) nginx-activate $(ENV) $(OPS_FLAGS)

.PHONY: rollback
rollback: ## ENV=…: put the previous release's image back (or TO=sha), health-checked, no rebuild (STRATEGY=recreate)
	$(SERVER_ENV)
	$(OPS) rollback $(ENV) $(TO) $(OPS_FLAGS) $(if $(STRATEGY),--strategy $(STRATEGY))

.PHONY: scale
scale: ## ENV=… (runtime = swarm): WEB=n web replicas (2 or more), WORKER=n worker replicas; kept for the next deploys
	$(SERVER_ENV)
	$(OPS) scale $(ENV) $(if $(WEB),--web $(WEB)) $(if $(WORKER),--worker $(WORKER)) $(OPS_FLAGS)

.PHONY: releases
releases: ## ENV=…: print the release log
	$(OPS) releases $(ENV)

.PHONY: deploy-unlock
deploy-unlock: ## ENV=…: remove a stale deploy lock (after checking the environment)
	$(OPS) unlock $(ENV)

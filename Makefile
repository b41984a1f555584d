# Campaign SSO — the two commands: `make run` (demo on SQLite) and `make test` (the whole suite).
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000
# The development IdP, the local webhook receiver and a customer's page embedding the demo
# campaign (http://localhost:<EMBED_PORT>, another site) that `make run` starts next to the site.
IDP_PORT ?= 9000
RECEIVER_PORT ?= 9100
EMBED_PORT ?= 9200
PUBLIC_BASE_URL ?= http://$(HOST):$(PORT)

.PHONY: run serve-prod test lint check bench peer-bench install install-demo install-dev messages clean-venv

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.installed-demo: pyproject.toml | $(PY)
	$(PIP) install --quiet -e ".[demo]"
	touch $(VENV)/.installed $@

$(VENV)/.installed-dev: pyproject.toml | $(PY)
	$(PIP) install --quiet -e ".[dev]"
	touch $(VENV)/.installed $(VENV)/.installed-demo $@

install: $(VENV)/.installed
install-demo: $(VENV)/.installed-demo
install-dev: $(VENV)/.installed-dev

# A local .env with fresh random keys; never committed, never overwritten (`make run` only adds
# the keys an older one lacks). Standard library only: it runs before the install.
.env: | $(PY)
	$(PY) -m demo.env_file .env --public-base-url $(PUBLIC_BASE_URL)

# Compiled catalogues are committed; rebuild them when gettext is there.
messages: $(VENV)/.installed
	@if [ -d locale ] && command -v msgfmt >/dev/null; then \
		$(PY) manage.py compilemessages --ignore=.venv >/dev/null; fi

# Migrate and seed (both idempotent: the SQLite file keeps the data between runs), then start the
# site, the task worker, the development IdP and the webhook receiver together; Ctrl-C stops all.
run: $(VENV)/.installed-demo .env messages
	@$(PY) -m demo.env_file .env --public-base-url $(PUBLIC_BASE_URL)
	$(PY) manage.py migrate --noinput
	PUBLIC_BASE_URL=$(PUBLIC_BASE_URL) $(PY) manage.py seed_demo \
		--idp-url http://127.0.0.1:$(IDP_PORT) --webhook-url http://127.0.0.1:$(RECEIVER_PORT)/ \
		--embed-host-url http://localhost:$(EMBED_PORT)
	PUBLIC_BASE_URL=$(PUBLIC_BASE_URL) $(PY) -m demo --host $(HOST) --port $(PORT) \
		--idp-port $(IDP_PORT) --receiver-port $(RECEIVER_PORT) --embed-port $(EMBED_PORT)

# The production server (gunicorn, config/gunicorn.conf.py) with static files collected for
# WhiteNoise. Production settings come from the environment: DJANGO_DEBUG=0 and the required keys;
# on plain http add DJANGO_SECURE_SSL_REDIRECT=0 DJANGO_SECURE_COOKIES=0. The development flags
# `make run` wrote into .env are then ignored.
serve-prod: $(VENV)/.installed .env messages
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v0
	HOST=$(HOST) PORT=$(PORT) $(VENV)/bin/gunicorn -c config/gunicorn.conf.py config.wsgi

test: $(VENV)/.installed-dev .env messages
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# core/layers.py: no import (nor URL name) against the layers of docs/architecture.md.
check: lint .env messages
	$(PY) -m core.layers
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) -m pytest $(PYTEST_ARGS)

clean-venv:
	rm -rf $(VENV)

# Benchmarks (not part of `make test`): the participant login under gunicorn with production
# settings against a local IdP stub, each followed by the stack's floor for the same journey
# (bench/floor_bench.py's apps; SQLite, then a throwaway PostgreSQL database; figures into
# BENCHMARKS.md), then the mapping and webhook drain (SQLite, then PostgreSQL) benchmarks,
# the web workers' memory after 1,000 and 10,000 logins (a few minutes; fails over 5 % growth),
# two gunicorn instances on
# one throwaway PostgreSQL database (127.0.0.1:5432) and their own Redis with every login crossing
# from one to the other, then the fault suite (its own PostgreSQL and Redis; exits non-zero when a
# fault costs more than issue 21 allows). BENCH_ARGS e.g. "--concurrency 50 --duration 20".
BENCH_ARGS ?= --concurrency 50 --duration 20
MEMORY_ARGS ?= --concurrency 20
# The memory check runs on PostgreSQL, the production database (a throwaway database, dropped
# after): on SQLite every worker thread's connection also fills SQLite's own page cache (up to
# 2 MiB each, 16 MiB per worker) as the database grows, which is bounded but not the app's.
MEMORY_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/bench_memory
LOGIN_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/bench_login
STATELESS_ARGS ?= --concurrency 20 --duration 30
# The webhook drain's second run: a throwaway database on that PostgreSQL server, dropped after.
WEBHOOK_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres
$(VENV)/.installed-bench: pyproject.toml | $(PY)
	$(PIP) install --quiet -e ".[bench]"
	touch $@

bench: $(VENV)/.installed-dev $(VENV)/.installed-bench messages
	$(PY) bench/login_bench.py $(BENCH_ARGS) --floor --write BENCHMARKS.md
	DATABASE_URL=$(LOGIN_DATABASE_URL) $(PY) bench/login_bench.py $(BENCH_ARGS) --floor \
		--write BENCHMARKS.md
	DJANGO_SETTINGS_MODULE=config.settings $(PY) bench/mapping_bench.py
	$(PY) bench/webhook_bench.py -n 5000
	$(PY) bench/webhook_bench.py -n 5000 --database-url $(WEBHOOK_DATABASE_URL)
	DATABASE_URL=$(MEMORY_DATABASE_URL) $(PY) bench/login_bench.py --memory $(MEMORY_ARGS) \
		--write BENCHMARKS.md
	$(PY) bench/stateless_bench.py $(STATELESS_ARGS) --write BENCHMARKS.md
	$(PY) bench/fault_suite.py

# The development IdP (devidp/): an OpenID Connect provider for the demo and end-to-end tests,
# with its own database and key in devidp/.data/. Seeds the demo participants and one client.
DEVIDP_PORT ?= 9000
DEVIDP_CLIENT_ID ?= campaign-sso
DEVIDP_CLIENT_SECRET ?= campaign-sso-dev-secret
# Set it to the callback URL the admin shows for your integration (/oauth/callback/<key>).
DEVIDP_REDIRECT_URI ?= http://$(HOST):$(PORT)/oauth/callback

.PHONY: devidp
devidp: $(VENV)/.installed-dev
	$(PY) devidp/manage.py migrate --noinput --verbosity 0
	$(PY) devidp/manage.py devidp_seed --client-id "$(DEVIDP_CLIENT_ID)" \
		--client-secret "$(DEVIDP_CLIENT_SECRET)" --redirect-uri "$(DEVIDP_REDIRECT_URI)" \
		--base-url http://127.0.0.1:$(DEVIDP_PORT)
	$(PY) devidp/manage.py runserver 127.0.0.1:$(DEVIDP_PORT)

# The login against mozilla-django-oidc and django-allauth on the same IdP stub and gunicorn
# settings (the shared harness beside the project: PEER_BENCH; its setup installs the peers from
# PyPI once). The product's rows (bench/peers/): the peers' settings, and its own gunicorn
# configuration; the floor's rows: the least an OAuth login costs on the same stack
# (bench/floor_peer_urls.py), with either.
PEER_BENCH ?= ../shared/peer-bench
peer-bench: $(VENV)/.installed
	$(PEER_BENCH)/setup.sh
	PRODUCT_DIR=$(CURDIR) BENCH_PEERS_FILE=$(CURDIR)/bench/peers/peers.conf \
		$(PEER_BENCH)/run.sh product mozilla allauth product-own floor floor-own

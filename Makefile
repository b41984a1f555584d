# Campaign SSO — the two commands: `make run` (demo on SQLite) and `make test` (the whole suite).
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run serve-prod test lint check install install-dev messages clean-venv

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(PY)
	$(PIP) install --quiet -e ".[dev]"
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# A local .env with fresh random keys; never committed, never overwritten.
.env: | $(PY)
	$(PY) -c "import secrets; from cryptography.fernet import Fernet; \
	print('DJANGO_DEBUG=1'); \
	print('DJANGO_SECRET_KEY=' + secrets.token_urlsafe(50)); \
	print('FIELD_ENCRYPTION_KEY=' + Fernet.generate_key().decode()); \
	print('ALLOW_HTTP_LOOPBACK_ENDPOINTS=1'); \
	print('ALLOW_PRIVATE_WEBHOOK_ADDRESSES=1'); \
	print('PUBLIC_BASE_URL=http://$(HOST):$(PORT)')" > .env
	@echo "Wrote .env with fresh keys."

# Compiled catalogues are committed; rebuild them when gettext is there.
messages: $(VENV)/.installed
	@if [ -d locale ] && command -v msgfmt >/dev/null; then \
		$(PY) manage.py compilemessages --ignore=.venv >/dev/null; fi

run: $(VENV)/.installed .env messages
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py runserver $(HOST):$(PORT)

# The production server (gunicorn, config/gunicorn.conf.py) with static files collected for
# WhiteNoise. Production settings come from the environment: DJANGO_DEBUG=0 and the required keys;
# on plain http add DJANGO_SECURE_SSL_REDIRECT=0 DJANGO_SECURE_COOKIES=0.
serve-prod: $(VENV)/.installed .env messages
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v0
	HOST=$(HOST) PORT=$(PORT) $(VENV)/bin/gunicorn -c config/gunicorn.conf.py config.wsgi

test: $(VENV)/.installed-dev .env messages
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

check: lint .env messages
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) -m pytest $(PYTEST_ARGS)

clean-venv:
	rm -rf $(VENV)

# The development IdP (devidp/): an OpenID Connect provider for the demo and end-to-end tests,
# with its own database and key in devidp/.data/. Seeds the demo participants and one client.
DEVIDP_PORT ?= 9000
DEVIDP_CLIENT_ID ?= campaign-sso
DEVIDP_CLIENT_SECRET ?= campaign-sso-dev-secret
DEVIDP_REDIRECT_URI ?= http://$(HOST):$(PORT)/oauth/callback

.PHONY: devidp
devidp: $(VENV)/.installed-dev
	$(PY) devidp/manage.py migrate --noinput --verbosity 0
	$(PY) devidp/manage.py devidp_seed --client-id "$(DEVIDP_CLIENT_ID)" \
		--client-secret "$(DEVIDP_CLIENT_SECRET)" --redirect-uri "$(DEVIDP_REDIRECT_URI)" \
		--base-url http://127.0.0.1:$(DEVIDP_PORT)
	$(PY) devidp/manage.py runserver 127.0.0.1:$(DEVIDP_PORT)

# Campaign SSO — the two commands: `make run` (demo on SQLite) and `make test` (the whole suite).
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint check install install-dev messages clean-venv

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

messages: $(VENV)/.installed
	$(PY) manage.py compilemessages --ignore=.venv >/dev/null

run: $(VENV)/.installed .env messages
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@# The task worker (webhook deliveries) and the webhook relay run beside the web server
	@# and stop with it.
	$(PY) manage.py db_worker --queue-name default,webhooks --no-reload & WORKER=$$!; \
	$(PY) manage.py relay_webhooks & RELAY=$$!; \
	trap 'kill $$WORKER $$RELAY 2>/dev/null' EXIT INT TERM; \
	$(PY) manage.py runserver $(HOST):$(PORT)

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

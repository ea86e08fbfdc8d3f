# The two commands of the README: `make run` and `make test`. Everything else supports them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint format install migrate messages compilemessages demo bench vendor check-deploy clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

compilemessages: $(STAMP)
	$(BIN)/pybabel compile -d locale -D django --statistics

migrate: $(STAMP)
	$(PY) manage.py migrate --noinput

demo: migrate compilemessages
	$(PY) manage.py seed_demo

run: demo
	@echo "Serving on http://$(HOST):$(PORT)/ — stop with Ctrl-C."
	$(PY) manage.py runserver $(HOST):$(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# pytest exits 5 when it collected no tests; that is a failure for us, so it is not masked.
test: $(STAMP) compilemessages lint
	$(BIN)/pytest $(PYTEST_ARGS)

check-deploy: $(STAMP)
	DJANGO_SETTINGS_MODULE=portal.settings.production SECRET_KEY=$${SECRET_KEY:-check-deploy-$$(date +%s)-a-long-enough-random-secret-key-value} \
	FIELD_ENCRYPTION_KEY=$${FIELD_ENCRYPTION_KEY:-$$($(PY) -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')} \
	PERSONAL_DATA_HASH_KEY=$${PERSONAL_DATA_HASH_KEY:-check-deploy-hash-key-$$(date +%s%N)} \
	ALLOWED_HOSTS=$${ALLOWED_HOSTS:-portal.example.gov.cn} $(PY) manage.py check --deploy --fail-level WARNING

# All sections (docs/performance.md); the load section needs ApacheBench (apache2-utils)
# and takes a few minutes. A part only: BENCH_ARGS="--sections tree,reads,uploads".
bench: migrate
	$(PY) manage.py bench $(BENCH_ARGS)

# Refresh extraction of translatable strings (needs GNU gettext installed).
messages: $(STAMP)
	$(PY) manage.py makemessages -l zh_Hans -l en --no-obsolete --ignore=.venv --ignore=staticfiles --ignore=tests

# Re-vendor the front-end libraries from the npm registry (versions pinned here).
BOOTSTRAP_VERSION := 5.3.9
BOOTSTRAP_ICONS_VERSION := 1.13.2
ECHARTS_VERSION := 6.1.0
vendor:
	rm -rf /tmp/portal-vendor && mkdir -p /tmp/portal-vendor
	cd /tmp/portal-vendor && npm pack --silent bootstrap@$(BOOTSTRAP_VERSION) bootstrap-icons@$(BOOTSTRAP_ICONS_VERSION) echarts@$(ECHARTS_VERSION) >/dev/null
	cd /tmp/portal-vendor && for f in *.tgz; do mkdir -p "$${f%.tgz}" && tar xzf "$$f" -C "$${f%.tgz}"; done
	rm -rf static/vendor && mkdir -p static/vendor/bootstrap/css static/vendor/bootstrap/js static/vendor/bootstrap-icons/fonts static/vendor/echarts
	cp /tmp/portal-vendor/bootstrap-$(BOOTSTRAP_VERSION)/package/dist/css/bootstrap.min.css* static/vendor/bootstrap/css/
	cp /tmp/portal-vendor/bootstrap-$(BOOTSTRAP_VERSION)/package/dist/js/bootstrap.bundle.min.js* static/vendor/bootstrap/js/
	cp /tmp/portal-vendor/bootstrap-$(BOOTSTRAP_VERSION)/package/LICENSE static/vendor/bootstrap/
	cp /tmp/portal-vendor/bootstrap-icons-$(BOOTSTRAP_ICONS_VERSION)/package/font/bootstrap-icons.min.css static/vendor/bootstrap-icons/
	cp /tmp/portal-vendor/bootstrap-icons-$(BOOTSTRAP_ICONS_VERSION)/package/font/fonts/bootstrap-icons.woff* static/vendor/bootstrap-icons/fonts/
	cp /tmp/portal-vendor/bootstrap-icons-$(BOOTSTRAP_ICONS_VERSION)/package/LICENSE static/vendor/bootstrap-icons/
	cp /tmp/portal-vendor/echarts-$(ECHARTS_VERSION)/package/dist/echarts.min.js static/vendor/echarts/
	cp /tmp/portal-vendor/echarts-$(ECHARTS_VERSION)/package/LICENSE /tmp/portal-vendor/echarts-$(ECHARTS_VERSION)/package/NOTICE static/vendor/echarts/
	printf 'bootstrap %s\nbootstrap-icons %s\necharts %s\n' $(BOOTSTRAP_VERSION) $(BOOTSTRAP_ICONS_VERSION) $(ECHARTS_VERSION) > static/vendor/VERSIONS

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .mypy_cache .ruff_cache

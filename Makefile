# The two commands a newcomer needs:  make run  and  make test.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
HOST   ?= 127.0.0.1
# Test processes (pytest-xdist); 0 runs in one process.
PYTEST_WORKERS ?= 2
PORT   ?= 8000

.PHONY: run test install install-dev lint typecheck benchmark worker beat clean

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed-base: requirements/base.txt | $(VENV)/bin/activate
	$(PIP) install --quiet -r requirements/base.txt
	touch $@

# What the product runs with: the web server and the worker that trains the models (scikit-learn, XGBoost,
# PyTorch CPU, stable-baselines3).
$(VENV)/.installed-ml: requirements/base.txt requirements/ml.txt | $(VENV)/bin/activate
	$(PIP) install --quiet -r requirements/ml.txt
	touch $@ $(VENV)/.installed-base

$(VENV)/.installed-dev: requirements/*.txt | $(VENV)/bin/activate
	$(PIP) install --quiet -r requirements/dev.txt
	touch $@ $(VENV)/.installed-base $(VENV)/.installed-ml

install: $(VENV)/.installed-ml
install-dev: $(VENV)/.installed-dev

## Install, migrate, load the market (real daily prices from Yahoo Finance when the machine can reach it within a
## few seconds, else the seeded synthetic demo market), create the demo investor, then serve on
## http://$(HOST):$(PORT) with a Celery worker and beat beside the web server (the embedded mode: no Redis,
## the broker, cache and live-update relay are files under var/). Ctrl-C stops all of them.
run: export QUANTAI_EMBEDDED_WORKER ?= 1
run: export DJANGO_DEBUG ?= false
run: export LOG_LEVEL ?= INFO
# auto: Yahoo Finance if reachable, else the synthetic market; the refresh then follows what was stored.
# MARKET_DATA_PROVIDER=demo make run always uses the synthetic market.
run: export MARKET_DATA_PROVIDER ?= auto
run: install
	$(PY) manage.py migrate --no-input
	$(PY) manage.py collectstatic --no-input --verbosity 0
	$(PY) manage.py load_prices --source $(MARKET_DATA_PROVIDER) --start 2016-01-04
	$(PY) manage.py create_demo_user
	$(PY) manage.py serve --host $(HOST) --port $(PORT)

## Run the whole test suite (live-service tests skip loudly unless REQUIRE_LIVE_SERVICES=1)
test: install-dev
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

typecheck: install-dev
	$(VENV)/bin/mypy quantai accounts market portfolios learning recommendations backtesting insights benchmarks

## Measure and print (never pass or fail): the harness in benchmarks/ (a development-only app that the local and
## test settings install; not in the Docker image). BENCH_ARGS="--list", "--section memory", "--json out.json".
benchmark: export DJANGO_SETTINGS_MODULE ?= quantai.settings.local
benchmark: install-dev
	$(PY) manage.py benchmark $(BENCH_ARGS)

worker: install
	$(VENV)/bin/celery -A quantai worker -Q default,ml -l info

beat: install
	$(VENV)/bin/celery -A quantai beat -l info

clean:
	rm -rf $(VENV) var

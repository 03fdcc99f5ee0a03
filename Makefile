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

$(VENV)/.installed-dev: requirements/*.txt | $(VENV)/bin/activate
	$(PIP) install --quiet -r requirements/dev.txt
	touch $@ $(VENV)/.installed-base

install: $(VENV)/.installed-base
install-dev: $(VENV)/.installed-dev

## Install, migrate, load the synthetic demo market, create the demo investor and serve on http://$(HOST):$(PORT)
run: install
	$(PY) manage.py migrate --no-input
	$(PY) manage.py collectstatic --no-input --verbosity 0
	$(PY) manage.py load_prices --source demo --start 2016-01-04
	$(PY) manage.py create_demo_user
	$(VENV)/bin/uvicorn quantai.asgi:application --host $(HOST) --port $(PORT) --lifespan off

## Run the whole test suite (live-service tests skip loudly unless REQUIRE_LIVE_SERVICES=1)
test: install-dev
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install-dev
	$(VENV)/bin/mypy quantai accounts market portfolios learning recommendations backtesting

benchmark: install-dev
	$(PY) manage.py benchmark $(BENCH_ARGS)

worker: install-dev
	$(VENV)/bin/celery -A quantai worker -Q default,ml -l info

beat: install
	$(VENV)/bin/celery -A quantai beat -l info

clean:
	rm -rf $(VENV) var

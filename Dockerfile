# syntax=docker/dockerfile:1
#
# QuantAI production image. Two targets share one base:
#
#   docker build -t quantai:web .             # web (gunicorn), ws (uvicorn), migrate, default Celery worker, beat
#   docker build --target ml -t quantai:ml .  # adds scikit-learn, XGBoost and PyTorch for the "ml" queue
#
# PyTorch from PyPI is the multi-gigabyte CUDA build; for the CPU wheel pass PyTorch's CPU wheel
# index: docker build --target ml --build-arg TORCH_INDEX_URL=<index url> ...
#
# Processes run as the unprivileged user "quantai". The code is owned by root (read-only to the
# app); only /app/var (model artifacts, beat schedule) is writable. docker-compose.yml wires it all up.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: compile what needs headers (mysqlclient) in a stage that is thrown away -----------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev libmariadb-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY requirements/ /tmp/requirements/
RUN pip install -r /tmp/requirements/production.txt

FROM build AS build-ml
ARG TORCH_INDEX_URL=""
RUN pip install ${TORCH_INDEX_URL:+--extra-index-url "$TORCH_INDEX_URL"} -r /tmp/requirements/ml.txt

# --- runtime base: only the MariaDB client library, no compiler ---------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=quantai.settings.production \
    QUANTAI_VAR_DIR=/app/var
RUN apt-get update \
 && apt-get install -y --no-install-recommends libmariadb3 mariadb-client \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 quantai \
 && useradd --system --uid 10001 --gid quantai --home-dir /app --shell /usr/sbin/nologin quantai
WORKDIR /app

# --- ml: the worker for the "ml" queue (training, backtests) ---------------------------------
FROM runtime AS ml
COPY --from=build-ml /opt/venv /opt/venv
COPY . /app
RUN install -d -o quantai -g quantai /app/var /app/var/models /app/var/beat
USER quantai
CMD ["celery", "-A", "quantai", "worker", "-Q", "ml", "-n", "ml@%h", "--concurrency", "1", "--loglevel", "INFO"]

# --- web (default target): HTTP (gunicorn) and websockets (uvicorn); also migrate, the default worker, beat
FROM runtime AS web
COPY --from=build /opt/venv /opt/venv
COPY . /app
# Static files are collected into the image (whitenoise serves them). Production settings refuse
# to load without SECRET_KEY and ALLOWED_HOSTS, so the build passes throwaway values that only
# exist for this one command.
RUN SECRET_KEY=collectstatic-at-build-time-only-not-a-real-secret-0123456789 \
    ALLOWED_HOSTS=localhost \
    python manage.py collectstatic --no-input --verbosity 0 \
 && install -d -o quantai -g quantai /app/var/models /app/var/beat \
 && chown quantai:quantai /app/var
# The trading calendar's session file (var/calendar/XNYS.json): web processes read it instead of importing pandas
# to build it; whichever process finds it stale (in about a year) rewrites it, so it belongs to quantai.
RUN SECRET_KEY=build-calendar-at-build-time-only-not-a-real-secret-0123456789 ALLOWED_HOSTS=localhost \
    python manage.py build_calendar --verbosity 0 && chown -R quantai:quantai /app/var/calendar
USER quantai
EXPOSE 8000
# HTTP by default; docker-compose.yml runs websockets from the same image under uvicorn (service "ws").
CMD ["gunicorn", "quantai.wsgi:application", "--bind", "0.0.0.0:8000", "--worker-class", "gthread", "--workers", "2", "--threads", "8", "--forwarded-allow-ips", "*"]

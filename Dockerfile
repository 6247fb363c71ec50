# Imagen Bot container image.
#
#   docker build -t imagen-bot .                 (or: docker compose build)
#   podman build --isolation chroot --format docker --build-arg BASE_IMAGE=... -t imagen-bot .
#
# The build needs only PyPI: no apt-get, no compilers (every dependency ships wheels).
ARG BASE_IMAGE=python:3.12-slim

# ---------------------------------------------------------------------------------------------
FROM ${BASE_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_PREFER_BINARY=1

RUN python -m venv /opt/venv

WORKDIR /src

# Dependencies first, exactly as locked: versions and hashes from requirements.lock (made from
# pyproject.toml, build backend included; the README says how), so code changes reuse this
# layer and nothing unpinned or altered gets in.
COPY requirements.lock ./
RUN /opt/venv/bin/pip install --require-hashes --only-binary :all: -r requirements.lock

# Then the project itself with the locked build backend, fetching nothing (no tests, no
# benchmarks, no .env: see .dockerignore); the backend is not needed to run it (its
# `packaging` stays: matplotlib imports it at run time).
COPY pyproject.toml README.md ./
COPY bot/ bot/
COPY cogs/ cogs/
RUN /opt/venv/bin/pip install --no-deps --no-build-isolation --no-index . \
 && /opt/venv/bin/pip uninstall --yes setuptools wheel \
 && /opt/venv/bin/pip check \
 && /opt/venv/bin/python -c "import bot, cogs" \
 && rm -rf /src/build

# ---------------------------------------------------------------------------------------------
FROM ${BASE_IMAGE}

# A fixed uid/gid so a bind-mounted /data can be chowned to it on the host (chown 10001:10001).
RUN groupadd --system --gid 10001 imagen \
 && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin imagen \
 && mkdir -p /data /app \
 && chown 10001:10001 /data \
 && chmod 0750 /data

COPY --from=builder /opt/venv /opt/venv

ENV DATABASE_PATH=/data/imagen-bot.sqlite3 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HEALTH_PORT=8080 \
    HEALTH_HOST=0.0.0.0 \
    MPLCONFIGDIR=/tmp/matplotlib \
    PATH=/opt/venv/bin:$PATH

VOLUME /data
WORKDIR /app
EXPOSE 8080

# Python's urllib only (no curl in the image); proxies are bypassed so HTTP_PROXY cannot
# reroute the probe. Any status but 200 raises, so the command exits non-zero.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["/opt/venv/bin/python", "-c", "import os, urllib.request; urllib.request.build_opener(urllib.request.ProxyHandler({})).open('http://127.0.0.1:' + os.environ.get('HEALTH_PORT', '8080') + '/healthz', timeout=4).close()"]

USER imagen
ENTRYPOINT ["python", "-m", "bot"]
CMD ["run"]

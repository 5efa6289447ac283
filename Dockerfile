# syntax=docker/dockerfile:1
# labgate image: built in a throw-away stage, run from python:3.11-slim as an unprivileged user.
#
#   docker build -t labgate:0.1.0 .
#   docker run --rm labgate:0.1.0 policy check /etc/labgate/policies
#
# The final stage has no compiler, no package manager cache and no build tools: wheels are
# built in the builder and installed from a bind mount, so they never become an image layer.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- builder: wheels for labgate and every dependency ------------------------------------
FROM ${PYTHON_IMAGE} AS builder

RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY capabilities ./capabilities
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# ---- final: the runtime only --------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS final

LABEL org.opencontainers.image.title="labgate" \
      org.opencontainers.image.description="The Hermes capability server" \
      org.opencontainers.image.licenses="MIT"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LABGATE_CONFIG=/etc/labgate/gateway.yaml

RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels labgate \
    && groupadd --system --gid 10001 labgate \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin labgate \
    && mkdir -p /etc/labgate/policies /var/lib/labgate \
    && chown 10001:10001 /var/lib/labgate \
    && chmod 0750 /var/lib/labgate

# The journal lives here; mount a named volume (it inherits this owner on first use).
VOLUME ["/var/lib/labgate"]
WORKDIR /etc/labgate

USER 10001:10001

# 8080: agent listener (REST, MCP). 9090: operator listener (/healthz, /readyz, /metrics).
EXPOSE 8080 9090

# No curl in slim: the interpreter does the probe. The port follows
# LABGATE_OPERATOR_LISTEN__PORT when the operator listener is moved by environment.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('LABGATE_OPERATOR_LISTEN__PORT', '9090'), timeout=4)"]

STOPSIGNAL SIGTERM
ENTRYPOINT ["labgate"]
CMD ["serve"]

# The triage service in a container: `docker compose -f deploy/compose.yaml up` (deploy/).
#
# The image is installed by `make install` itself, not by steps of its own, so what goes into it
# is exactly what `make install` does and `make test` runs on every change. The image is NOT
# built in CI (no container engine runs there); tests/test_deploy.py checks this file's shape.
FROM python:3.11-slim

# make: to run `make install`; nothing else is needed, every dependency comes as a wheel.
RUN apt-get update \
    && apt-get install -y --no-install-recommends make \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY . .
RUN make install \
    && rm -rf /root/.cache

# A user of its own: the service never runs as root. Its home holds what a host writes — the
# models fetched from the registry (the host's cache), training jobs' logs; compose mounts a
# volume there. The corpus is theirs too, so `complaints data export-corrections` and a training
# run from the review page work inside the container (on the container's copy).
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/complaints complaints \
    && mkdir -p /var/lib/complaints \
    && chown -R complaints:complaints /var/lib/complaints /app/data

# No model is baked in: with MLFLOW_TRACKING_URI naming an MLflow server and no model in
# COMPLAINTS_HOME, each worker fetches the registry's `champion` at start and follows the alias
# (COMPLAINTS_REGISTRY_POLL_SECONDS). Compose sets MLFLOW_TRACKING_URI and DATABASE_URL.
ENV PATH=/app/.venv/bin:$PATH \
    COMPLAINTS_HOME=/var/lib/complaints \
    COMPLAINTS_DATA_DIR=/app/data/annotated \
    COMPLAINTS_TEST_IDS=/app/data/splits/test_ids.txt \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus \
    PYTHONDONTWRITEBYTECODE=1 \
    WORKERS=1

USER complaints
EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

# As `make serve` does: the workers' shared metrics directory emptied at every start (a
# restarted container keeps its /tmp), then uvicorn in place of the shell, so it gets SIGTERM.
CMD ["sh", "-c", "rm -rf \"$PROMETHEUS_MULTIPROC_DIR\" && mkdir -p \"$PROMETHEUS_MULTIPROC_DIR\" && exec uvicorn pettriage.api.main:app --host 0.0.0.0 --port 8000 --workers \"$WORKERS\""]

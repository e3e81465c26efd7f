# derm3r CDS Hooks service: gunicorn, two workers, non-root.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DERM3R_DATA_DIR=/var/lib/derm3r \
    DERM3R_ONNX_THREADS=1 \
    PROMETHEUS_MULTIPROC_DIR=/run/derm3r/metrics

# A fixed, unprivileged account; the data directory (feedback, audit, replay cache) belongs to it.
RUN useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin derm3r \
    && install -d -o derm3r -g derm3r -m 0700 /var/lib/derm3r /run/derm3r /run/derm3r/metrics

WORKDIR /srv/derm3r
COPY pyproject.toml README.md ./
COPY inference ./inference
COPY fhir_mapping ./fhir_mapping
COPY cds_hooks ./cds_hooks
RUN pip install . && rm -rf /srv/derm3r/build

USER derm3r
WORKDIR /var/lib/derm3r
EXPOSE 8080

# Two workers for two cores; each builds its own app (one ONNX session per process) on first use.
# The timeout is well above DERM3R_DEADLINE so a slow FHIR server never gets a worker killed.
# gunicorn_conf: metrics aggregated across workers; the app writes its own JSON access lines (route
# templates, never a query string) and gunicorn's access log stays off. The logger class (also set
# in gunicorn_conf, named here so it holds if the config is swapped) scrubs query-string tokens and
# JWTs should an operator turn gunicorn's access log on (--access-logfile) and from its error log.
CMD ["gunicorn", "-c", "python:cds_hooks.gunicorn_conf", "--logger-class", "cds_hooks.access_log.GunicornLogger", \
     "--workers", "2", "--bind", "0.0.0.0:8080", "--timeout", "30", "cds_hooks.wsgi:app"]

# Slim images have no curl; the standard library is enough.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]

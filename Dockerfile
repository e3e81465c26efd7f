# derm3r CDS Hooks service: gunicorn, two workers, non-root.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DERM3R_DATA_DIR=/var/lib/derm3r \
    DERM3R_ONNX_THREADS=1

# A fixed, unprivileged account; the data directory (feedback, audit, replay cache) belongs to it.
RUN useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin derm3r \
    && install -d -o derm3r -g derm3r -m 0700 /var/lib/derm3r

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
# The logger class scrubs query-string tokens and JWTs from the access log.
CMD ["gunicorn", "--workers", "2", "--bind", "0.0.0.0:8080", "--timeout", "30", "--access-logfile", "-", \
     "--logger-class", "cds_hooks.access_log.GunicornLogger", "cds_hooks.wsgi:app"]

# Slim images have no curl; the standard library is enough.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]

"""gunicorn settings for production: `gunicorn -c python:cds_hooks.gunicorn_conf 'cds_hooks.wsgi:app'`.

Only what metrics and logs need; everything else stays on gunicorn's command line (workers, bind,
timeout). With `PROMETHEUS_MULTIPROC_DIR` set (see cds_hooks.metrics):
- the directory is emptied when the master starts (values of a previous run must not be added in),
- a dead worker's live gauges are dropped (its counters stay, as Prometheus expects),
- with `DERM3R_METRICS_PORT` the master serves all workers' metrics on that port.
gunicorn's own access log stays off: the app writes one structured line per request (route template,
never the query string). gunicorn's logger is `cds_hooks.access_log.GunicornLogger` all the same, so
an operator who turns gunicorn's access log on (`--access-logfile -`) gets query-string tokens and
JWTs scrubbed from it, and from gunicorn's error log (issue 12)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

accesslog = None
errorlog = "-"
logger_class = "cds_hooks.access_log.GunicornLogger"


def on_starting(server: Any) -> None:
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        target = Path(path)
        target.mkdir(parents=True, exist_ok=True)
        for child in target.iterdir():
            if child.is_file():
                child.unlink()
            else:
                shutil.rmtree(child, ignore_errors=True)


def when_ready(server: Any) -> None:
    from cds_hooks.settings import Settings

    port = Settings.from_env().metrics_port
    if port:
        from cds_hooks.metrics import serve_on_port

        serve_on_port(port)


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

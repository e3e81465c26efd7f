"""Access logs without credentials: query-string tokens (`?access_token=<JWT>`, OAuth `code`, ...)
and anything shaped like a JWT are replaced before a request line is written, for both servers the
service runs under:

- Flask's development server (`derm3r serve`): `install_scrubbing()` puts `ScrubbingFilter` on the
  `werkzeug` logger (called by the app factory, so `flask run` is covered too);
- gunicorn: `--logger-class cds_hooks.access_log.GunicornLogger` (the Dockerfile and the soak
  bench use it), which scrubs every access-log atom (`%(r)s`, `%(q)s`, `%(U)s`, `%(f)s`, request
  headers such as `%({authorization}i)s`).

The service never accepts credentials in a URL (a JWT there is refused), but a refused request is
still logged, and the log must not become a token store (issue 12).
"""

from __future__ import annotations

import logging
import re
from typing import Any

REDACTED = "[redacted]"
# Query parameters that carry credentials in OAuth 2 / SMART / OpenID Connect flows and APIs.
_SECRET_PARAMETER = re.compile(
    r"(?i)((?:^|[?&;\s/\"'])(?:access_token|id_token|refresh_token|token|code|client_secret|assertion|"
    r"client_assertion|password|passwd|api_key|apikey|key|jwt|launch|state|session|sig|signature)=)[^&;\s\"']*"
)
# A JWT / JWS compact serialisation anywhere (header always starts with base64url of '{"').
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_SECRET_HEADERS = frozenset({"{authorization}i", "{cookie}i", "{proxy-authorization}i", "{set-cookie}o"})


def scrub(text: str) -> str:
    """`text` with credential-bearing query values and JWTs replaced by REDACTED."""
    if "=" not in text and "eyJ" not in text:
        return text
    return _JWT.sub(REDACTED, _SECRET_PARAMETER.sub(lambda m: m.group(1) + REDACTED, text))


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, bytes):
        return scrub(value.decode("latin-1"))
    return value


class ScrubbingFilter(logging.Filter):
    """Rewrites a record's message and arguments in place; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = scrub(record.msg)
        if isinstance(record.args, dict):
            record.args = {k: _scrub_value(v) for k, v in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(_scrub_value(v) for v in record.args)
        return True


def install_scrubbing(logger_name: str = "werkzeug") -> None:
    """Attach one ScrubbingFilter to `logger_name` (idempotent)."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, ScrubbingFilter) for f in logger.filters):
        logger.addFilter(ScrubbingFilter())


try:  # gunicorn is the production server; the development server does not need it.
    from gunicorn.glogging import Logger as _GunicornLogger
except ImportError:  # pragma: no cover - gunicorn is a declared dependency
    _GunicornLogger = None  # type: ignore[assignment,misc]

if _GunicornLogger is not None:

    class GunicornLogger(_GunicornLogger):  # type: ignore[misc,valid-type]
        """gunicorn's logger with every access-log atom scrubbed (see the module doc), and its
        error log too (a request that fails inside gunicorn is logged with its URI)."""

        def setup(self, cfg: Any) -> None:
            super().setup(cfg)
            install_scrubbing(self.error_log.name)

        def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
            atoms = super().atoms(resp, req, environ, request_time)
            return {k: (REDACTED if k in _SECRET_HEADERS else _scrub_value(v)) for k, v in atoms.items()}

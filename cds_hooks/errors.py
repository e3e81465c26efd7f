"""One error tree for the service, mapped to HTTP (with an OperationOutcome body) in one place
(`cds_hooks.app` registers the handler). Raise these from anywhere in `cds_hooks`; translate
third-party exceptions at the boundary with `raise X(...) from exc`."""

from __future__ import annotations


class CdsError(Exception):
    """Base class. `status` is the HTTP status; `code` is the FHIR issue-type code
    (http://hl7.org/fhir/issue-type) used in the OperationOutcome; `message` is safe to show to
    the caller (never contains tokens or patient data)."""

    status: int = 500
    code: str = "exception"

    def __init__(self, message: str, *, expression: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.expression = expression  # e.g. "context.patientId", for the OperationOutcome


class InvalidRequest(CdsError):
    status, code = 400, "invalid"


class Unauthorized(CdsError):
    status, code = 401, "login"


class Forbidden(CdsError):
    status, code = 403, "forbidden"


class UnknownService(CdsError):
    status, code = 404, "not-found"


class NotFound(CdsError):
    status, code = 404, "not-found"


class PrefetchUnavailable(CdsError):
    """Required FHIR data could not be obtained (CDS Hooks 2.0: respond 412)."""

    status, code = 412, "not-found"


class PayloadTooLarge(CdsError):
    status, code = 413, "too-costly"


class UnsupportedMediaType(CdsError):
    status, code = 415, "not-supported"


class ServiceUnavailable(CdsError):
    status, code = 503, "transient"

"""Every error the case API client raises, one class per thing the caller may do about it.

```
CaseApiError
├── ApiStatusError            the API answered with an error (documented shape)
│   ├── InvalidRequest  400   ├── StaleRevision       412   ├── RateLimited  429
│   ├── Unauthorized    401   ├── PayloadTooLarge     413   └── ServerError  5xx
│   ├── Forbidden       403   ├── IdempotencyMismatch 422
│   ├── NotFound        404   └── Conflict            409
├── ApiConnectionError        no complete answer arrived
│   └── ApiTimeout
└── InvalidResponse           an answer that is not the documented shape
```

Messages carry what the server said word for word (after sanitising), never
the API key, and no exception keeps a reference to the request that carried it.
"""

from typing import Any, ClassVar, NamedTuple


class FieldError(NamedTuple):
    """One problem the API found in a request, at a dotted field path (`""` = the whole request)."""

    path: str
    message: str


class CaseApiError(Exception):
    """Base of every error raised by the case API client."""

    def __init__(self, message: str, *, method: str | None = None, url: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        """HTTP method of the failed request."""
        self.url = url
        """URL of the failed request (it never carries the key)."""

    def __str__(self) -> str:
        return self.message


class ApiConnectionError(CaseApiError):
    """The API could not be reached, or the connection broke before a complete answer."""


class ApiTimeout(ApiConnectionError):
    """The API did not answer in time (connect, read, write or pool timeout)."""


class InvalidResponse(CaseApiError):
    """The API answered something that is not the documented shape.

    A schema-invalid 200, truncated JSON, an HTML page from a proxy, the wrong
    content type, an oversized body, or a redirect (never followed). `status`
    is the HTTP status of that answer: a 5xx here (a gateway's HTML page) is
    as transient as any other 5xx.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None,
        request_id: str | None = None,
        retry_after: float | None = None,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message, method=method, url=url)
        self.status = status
        self.request_id = request_id
        self.retry_after = retry_after
        """Seconds the server asked us to wait (`Retry-After` on a 429 or 503), if valid."""


class ApiStatusError(CaseApiError):
    """The API refused or failed a request and said why, in its documented error shape."""

    status_code: ClassVar[int | None] = None
    """The status this class stands for (None: several, see `status`)."""

    def __init__(
        self,
        *,
        status: int,
        code: str,
        message: str,
        details: list[FieldError] | None = None,
        data: dict[str, Any] | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message, method=method, url=url)
        self.status = status
        self.code = code
        """The API's machine-readable error code, e.g. `validation_error`."""
        self.details = details or []
        """Problems per field, as the API named them (e.g. `escalations.0.escalation_id`)."""
        self.data = data
        """Extra data the API attached (e.g. the active escalations of a failed update)."""
        self.request_id = request_id
        self.retry_after = retry_after
        """Seconds the server asked us to wait (`Retry-After` on a 429 or 503), if valid."""

    def __str__(self) -> str:
        text = f"{self.status} {self.code}: {self.message}"
        if self.details:
            text += " (" + "; ".join(f"{d.path or 'request'}: {d.message}" for d in self.details)
            text += ")"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status}, code={self.code!r}, "
            f"message={self.message!r}, request_id={self.request_id!r})"
        )


class InvalidRequest(ApiStatusError):
    """400: the request broke a rule; `details` names each field."""

    status_code = 400


class Unauthorized(ApiStatusError):
    """401: the API key is missing, unknown or revoked."""

    status_code = 401


class Forbidden(ApiStatusError):
    """403: the key's user lacks the role for this action."""

    status_code = 403


class NotFound(ApiStatusError):
    """404: no such thing in this organization (another organization's case is 404 too)."""

    status_code = 404


class Conflict(ApiStatusError):
    """409: the case's state forbids this action, or the same Idempotency-Key is still running."""

    status_code = 409

    @property
    def in_flight(self) -> bool:
        """True when the first request with this Idempotency-Key has not finished yet."""
        return self.code == IDEMPOTENCY_IN_FLIGHT


class StaleRevision(ApiStatusError):
    """412: the case changed since the revision sent in `If-Match`."""

    status_code = 412


class PayloadTooLarge(ApiStatusError):
    """413: the request body (an upload) is over the API's limit."""

    status_code = 413


class IdempotencyMismatch(ApiStatusError):
    """422: this Idempotency-Key was already used with a different request body."""

    status_code = 422


class RateLimited(ApiStatusError):
    """429: too many requests; `retry_after` says how long to wait, when the API said."""

    status_code = 429


class ServerError(ApiStatusError):
    """5xx: the API failed; worth retrying later."""


IDEMPOTENCY_IN_FLIGHT = "idempotency_in_flight"
"""The 409 error code for "the first request with this Idempotency-Key is still running"."""

_BY_STATUS: dict[int, type[ApiStatusError]] = {
    cls.status_code: cls
    for cls in (
        InvalidRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        StaleRevision,
        PayloadTooLarge,
        IdempotencyMismatch,
        RateLimited,
    )
    if cls.status_code is not None
}


def status_error_class(status: int) -> type[ApiStatusError]:
    """The exception class for an error status (`ApiStatusError` itself for undocumented 4xx)."""
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, ApiStatusError)


def is_transient(error: BaseException) -> bool:
    """True when trying the same request again later may succeed.

    Connection failures and timeouts, 5xx (documented or not), 429, and the 409
    for an Idempotency-Key still in flight. Everything else needs a change first.
    """
    if isinstance(error, ApiConnectionError):
        return True
    if isinstance(error, ServerError | RateLimited):
        return True
    if isinstance(error, Conflict):
        return error.in_flight
    if isinstance(error, InvalidResponse):
        return error.status is not None and (error.status >= 500 or error.status == 429)
    return False

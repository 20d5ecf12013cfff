"""The API key, wrapped so that no repr, str, log line or crash report can show it."""

import hmac
import logging
import weakref
from typing import Any, Final

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

MASK: Final = "***"
_MAX_LENGTH: Final = 1024


class ApiKey:
    """A case API key: `repr`/`str`/`format` give `***`; `reveal()` is the only way out.

    Textual prints the locals of every frame when it crashes (strings up to 80
    characters in full), so the raw key must never sit in a local variable or
    an attribute that a repr would walk: it lives here, and only the client's
    auth hook calls `reveal()`, inside the expression that sets the header.
    """

    __slots__ = ("__weakref__", "_value")

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("an API key must be a string")
        if not value:
            raise ValueError("the API key is empty")
        if len(value) > _MAX_LENGTH:
            raise ValueError(f"the API key is longer than {_MAX_LENGTH} characters")
        # A header value: printable ASCII, no spaces, so it can never split a header.
        if not all("!" <= char <= "~" for char in value):
            raise ValueError("the API key must be printable ASCII without spaces")
        self._value = value

    def reveal(self) -> str:
        """The raw key, for the one place that puts it in a request header."""
        return self._value

    @property
    def hint(self) -> str:
        """The last four characters, as `…abcd`, to tell two keys apart on screen."""
        return "\u2026" + self._value[-4:] if len(self._value) >= 12 else MASK

    def redact(self, text: str) -> str:
        """`text` with every occurrence of the key replaced by `***`."""
        return text.replace(self._value, MASK) if self._value in text else text

    def __repr__(self) -> str:
        return MASK

    __str__ = __repr__

    def __format__(self, format_spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ApiKey):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((ApiKey, self._value))

    def __copy__(self) -> "ApiKey":
        return self  # immutable

    def __deepcopy__(self, memo: dict[int, Any]) -> "ApiKey":
        return self

    def __reduce__(self) -> Any:
        # Pickling would write the key out in the clear (a cache, a queue, a crash dump).
        raise TypeError("an ApiKey cannot be pickled")

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source_type: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        """Accept a string or an `ApiKey`; serialise to `***`, never to the key."""
        from_str = core_schema.no_info_after_validator_function(cls, core_schema.str_schema())
        return core_schema.json_or_python_schema(
            json_schema=from_str,
            python_schema=core_schema.union_schema([core_schema.is_instance_schema(cls), from_str]),
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda _: MASK, return_schema=core_schema.str_schema()
            ),
        )


class RedactingFilter(logging.Filter):
    """A logging filter that replaces API keys with `***` in every record it sees.

    casedesk never logs a key, but httpcore logs response headers at DEBUG, so
    a server echoing the key back (in a `Location`, say) would put it in a log.
    """

    def __init__(self, *keys: ApiKey) -> None:
        super().__init__()
        self._keys: weakref.WeakSet[ApiKey] = weakref.WeakSet(keys)

    def add(self, key: ApiKey) -> None:
        """Redact this key too."""
        self._keys.add(key)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = message
        for key in list(self._keys):
            redacted = key.redact(redacted)
        if redacted is not message:
            record.msg, record.args = redacted, None
        return True


HTTP_LOGGERS: Final = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
    "casedesk",
)
"""Loggers whose records may carry what a server sent back (a filter does not reach children)."""

_log_redactor = RedactingFilter()


def protect_logs(key: ApiKey) -> None:
    """Redact `key` from every record of the HTTP stack's loggers, for as long as it lives."""
    _log_redactor.add(key)
    for name in HTTP_LOGGERS:
        logger = logging.getLogger(name)
        if _log_redactor not in logger.filters:
            logger.addFilter(_log_redactor)

"""The base of every wire model: strict about unknown fields, UTC timestamps."""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, PlainSerializer


class WireModel(BaseModel):
    """A shape that crosses a boundary (HTTP, cache, config): unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def non_blank(value: str) -> str:
    """A text field's check that it holds more than white space."""
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def format_timestamp(value: datetime) -> str:
    """The one wire format for instants: UTC, microseconds, `Z` (sorts as text)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(text: str) -> datetime:
    """Read an ISO 8601 instant; a missing offset is refused, not guessed."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("timestamp must carry a time zone, e.g. 2025-06-15T09:00:00Z")
    return value.astimezone(UTC)


def _to_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is outside the supported range of dates") from None


Timestamp = Annotated[
    AwareDatetime,
    AfterValidator(_to_utc),
    PlainSerializer(format_timestamp, return_type=str, when_used="json"),
]
"""An ISO 8601 instant with a time zone, normalised to UTC."""

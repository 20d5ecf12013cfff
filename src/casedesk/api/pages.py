"""Cursor pages of the case API, and walking them to the end."""

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from casedesk.api.errors import InvalidResponse

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CursorPage(Generic[T]):
    """One page of a list: its items and where the next page starts."""

    items: list[T]
    cursor: str | None
    """Pass this as `cursor` to get the next page (None on the last page)."""
    has_more: bool
    request_id: str

    def __len__(self) -> int:
        return len(self.items)


PageFetcher = Callable[[str | None], Awaitable[CursorPage[T]]]
"""Fetches the page that starts at a cursor (None: the first page)."""


async def iter_pages(
    fetch: PageFetcher[T], *, cursor: str | None = None
) -> AsyncIterator[CursorPage[T]]:
    """Yield page after page until the API says there are no more.

    A server that says `has_more` but gives no new cursor would make this loop
    for ever; that answer is an `InvalidResponse` instead.
    """
    seen: set[str] = set()
    while True:
        page = await fetch(cursor)
        yield page
        if not page.has_more:
            return
        if page.cursor is None or page.cursor in seen:
            raise InvalidResponse(
                "the API said more pages follow but gave "
                + ("no cursor" if page.cursor is None else "a cursor it had already given"),
                status=200,
                request_id=page.request_id,
            )
        seen.add(page.cursor)
        cursor = page.cursor


async def collect(pages: AsyncIterator[CursorPage[T]]) -> list[T]:
    """Every item of every page, in order."""
    items: list[T] = []
    async for page in pages:
        items.extend(page.items)
    return items

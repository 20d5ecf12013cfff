"""What can go wrong in the local store, and what it noticed and fixed on its own."""

from dataclasses import dataclass
from pathlib import Path
from uuid import UUID


class StoreError(Exception):
    """Base of every error raised by `casedesk.store`."""


class StoreLocked(StoreError):
    """Another process holds the data directory."""

    def __init__(self, pid: int | None, lock_path: Path) -> None:
        self.pid = pid
        self.lock_path = lock_path
        shown = str(pid) if pid is not None else "unknown"
        super().__init__(f"another casedesk is running (pid {shown})")


class StoreClosed(StoreError):
    """The store was used after `close()`."""

    def __init__(self) -> None:
        super().__init__("the local store is closed")


class StoreFileCorrupt(StoreError):
    """A file of the store cannot be parsed, or has the wrong shape."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class OutboxCorrupt(StoreFileCorrupt):
    """The outbox cannot be read: replay stops and the file is left exactly as it is."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(path, reason)
        self.args = (
            f"the outbox {path} cannot be read ({reason}); it was left untouched and "
            "nothing will be sent: move it aside (queued actions are in it) and restart",
        )


class UnknownItem(StoreError, KeyError):
    """No outbox item has this id."""

    def __init__(self, item_id: UUID) -> None:
        self.item_id = item_id
        super().__init__(f"no outbox item {item_id}")

    def __str__(self) -> str:
        return str(self.args[0])


class InvalidTransition(StoreError):
    """An outbox item cannot go through this step from the state it is in."""

    def __init__(self, item_id: UUID, state: str, step: str) -> None:
        self.item_id = item_id
        self.state = state
        self.step = step
        super().__init__(f"outbox item {item_id} is {state}: cannot {step} it")


@dataclass(frozen=True)
class FileQuarantined:
    """A corrupt cache or drafts file was moved aside and an empty one started."""

    path: Path
    moved_to: Path
    reason: str


@dataclass(frozen=True)
class TempFilesRemoved:
    """Temporary files left by an interrupted write were deleted at open."""

    paths: tuple[Path, ...]


@dataclass(frozen=True)
class OutboxRecovered:
    """Items found `sending` at open (a crash mid-send) are queued again, with the same keys."""

    item_ids: tuple[UUID, ...]


StoreEvent = FileQuarantined | TempFilesRemoved | OutboxRecovered
"""Something the store noticed and handled, for the caller to show."""


def describe(error: Exception) -> str:
    """Why a file was refused, in one line (the first pydantic error, not all of them)."""
    from pydantic import ValidationError  # not at import: the console locks its dir first

    if isinstance(error, StoreFileCorrupt):
        return error.reason
    if isinstance(error, ValidationError):
        if any(item["type"] == "json_invalid" for item in error.errors()):
            return f"not JSON ({error.errors()[0]['msg']})"
        first = error.errors()[0] if error.error_count() else None
        where = ".".join(str(part) for part in first["loc"]) if first else ""
        what = first["msg"] if first else str(error)
        return f"wrong shape at {where or 'top level'}: {what} ({error.error_count()} errors)"
    return str(error)

"""Drafts: what the reviewer typed in a form, kept until they send or clear it."""

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated
from uuid import UUID

from pydantic import Field, TypeAdapter, ValidationError

from casedesk.domain.base import Timestamp, WireModel
from casedesk.domain.clock import Clock
from casedesk.store.errors import FileQuarantined, StoreClosed, StoreEvent, StoreFileCorrupt
from casedesk.store.files import quarantine
from casedesk.store.storage import KeyedTinyDB, put_docs, remove_docs

DRAFTS_FILE = "drafts.json"
_TABLE = "drafts"
NEW_CASE = "new"
"""The key of forms that are not about an existing case (create case)."""

DraftValue = str | bool | int | float | list[str] | None
"""What a form field holds: text, a choice, a checkbox, a list of ids."""


class Draft(WireModel):
    """The fields of one form on one case (or on a new case), as last typed."""

    case_id: UUID | None
    """`None` for a form not about an existing case (create case)."""
    form: Annotated[str, Field(min_length=1)]
    fields: dict[str, DraftValue]
    updated_at: Timestamp


_drafts = TypeAdapter(dict[str, Draft])


def _key(case_id: UUID | None, form: str) -> str:
    return f"{case_id or NEW_CASE}/{form}"


class Drafts:
    """Drafts keyed by (case id or "new", form name); each save is atomic and fsynced.

    A corrupt drafts file is set aside (its bytes kept) and an empty one started.
    Thread-safe: one lock around every call.
    """

    def __init__(self, path: Path, *, clock: Clock, report: Callable[[StoreEvent], None]) -> None:
        self.path = path
        self._clock = clock
        self._report = report
        self._db = KeyedTinyDB(path)
        self._lock = threading.RLock()
        self._drafts: dict[str, Draft] = {}
        self._closed = False

    @classmethod
    def open(cls, path: Path, *, clock: Clock, report: Callable[[StoreEvent], None]) -> "Drafts":
        drafts = cls(path, clock=clock, report=report)
        drafts._load()
        return drafts

    def get(self, case_id: UUID | None, form: str) -> Draft | None:
        with self._lock:
            return self._drafts.get(_key(case_id, form))

    def all(self) -> list[Draft]:
        with self._lock:
            return list(self._drafts.values())

    def save(self, case_id: UUID | None, form: str, fields: Mapping[str, DraftValue]) -> Draft:
        """Keep what is typed in `form`, replacing the previous draft; durable on return."""
        with self._lock:
            self._check_open()
            draft = Draft(case_id=case_id, form=form, fields=dict(fields), updated_at=self._clock())
            key = _key(case_id, form)
            put_docs(self._db.table(_TABLE), {key: draft.model_dump(mode="json")})
            self._drafts[key] = draft
            return draft

    def clear(self, case_id: UUID | None, form: str) -> bool:
        """Forget the draft (after a successful send, or when the user discards it)."""
        key = _key(case_id, form)
        with self._lock:
            self._check_open()
            if key not in self._drafts:
                return False
            remove_docs(self._db.table(_TABLE), [key])
            del self._drafts[key]
            return True

    def close(self) -> None:
        with self._lock:
            self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosed()

    def _load(self) -> None:
        try:
            drafts = _drafts.validate_python(self._db.raw(_TABLE))
        except (StoreFileCorrupt, ValidationError) as error:
            reason = error.reason if isinstance(error, StoreFileCorrupt) else str(error)
            self._db.file.discard()
            moved_to = quarantine(self.path, self._clock())
            self._report(FileQuarantined(path=self.path, moved_to=moved_to, reason=reason))
            drafts = {}
        self._drafts = drafts

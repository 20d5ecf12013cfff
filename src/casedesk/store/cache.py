"""The console's local cache: queue rows, case details, people, sync state, read markers.

Disposable: a corrupt file is set aside and the next sync rebuilds it.
"""

import contextlib
import gc
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from pydantic import TypeAdapter, ValidationError

from casedesk.domain.case import Case
from casedesk.domain.clock import Clock
from casedesk.domain.people import Queue, User
from casedesk.store.cached import (
    ROW_LAYOUT,
    CaseDetails,
    IndexFile,
    QueueRow,
    ReadMarker,
    SyncState,
)
from casedesk.store.details import RECENT_FILE, SHARD_COUNT, DetailShards
from casedesk.store.errors import (
    FileQuarantined,
    StoreClosed,
    StoreEvent,
    StoreFileCorrupt,
    describe,
)
from casedesk.store.files import (
    ensure_private_dir,
    quarantine,
    read_bytes,
    remove_temp_leftovers,
)
from casedesk.store.storage import (
    KeyedTinyDB,
    gc_paused,
    put_docs,
    remove_docs,
    replace_docs,
    set_entries,
)

INDEX_FILE = "index.json"
PEOPLE_FILE = "people.json"
READS_FILE = "reads.json"

_ROWS, _SYNC, _SYNC_KEY = "rows", "sync", "state"
_META, _LAYOUT_KEY = "meta", "layout"
_USERS, _QUEUES, _ME, _ME_KEY = "users", "queues", "me", "me"
_READS = "reads"

FREEZE_AFTER = 1000
"""A batch that stores at least this many cases is followed by `gc.freeze()` (if enabled)."""


_users = TypeAdapter(dict[str, User])
_queues = TypeAdapter(dict[str, Queue])
_reads = TypeAdapter(dict[str, ReadMarker])


class Cache:
    """Everything the console shows, kept on disk between runs.

    - `index.json`: one compact `QueueRow` per case (table `rows`) and the
      `SyncState` (table `sync`), so the queue paints without any details;
    - `details-<n>/<shard>.json`: `CaseDetails` sharded by a hash of the case id;
    - `people.json`: users, queues, the current user; `reads.json`: read markers.

    Every mutation is durable when it returns. Inside `batch()` mutations only
    change memory, and each touched file is rewritten once when the batch
    ends (details first, the index last, so the watermark never runs ahead
    of the rows). Thread-safe: one lock around every call.
    """

    def __init__(
        self,
        directory: Path,
        *,
        clock: Clock,
        report: Callable[[StoreEvent], None],
        freeze_gc: bool = True,
        shard_count: int = SHARD_COUNT,
    ) -> None:
        self.directory = directory
        self._clock = clock
        self._report = report
        self._freeze_gc = freeze_gc
        self._lock = threading.RLock()
        self._depth = 0
        self._stored_in_batch = 0
        self._closed = False
        self._index = KeyedTinyDB(directory / INDEX_FILE)
        self._people = KeyedTinyDB(directory / PEOPLE_FILE)
        self._read_db = KeyedTinyDB(directory / READS_FILE)
        self._shards = DetailShards(directory, self._set_aside, count=shard_count)
        self._rows: dict[str, QueueRow] = {}
        self._sync = SyncState()
        self._users: dict[str, User] = {}
        self._queues: dict[str, Queue] = {}
        self._me: User | None = None
        self._marks: dict[str, ReadMarker] = {}
        self._lost_details: set[UUID] = set()
        """Cases whose details went with a corrupt shard: the next pull fetches them again."""
        self._lost_recent = False
        """`recent.json` was corrupt: the cases it held come back only with a full pull."""

    @classmethod
    def open(
        cls,
        directory: Path,
        *,
        clock: Clock,
        report: Callable[[StoreEvent], None],
        freeze_gc: bool = True,
        shard_count: int = SHARD_COUNT,
    ) -> tuple["Cache", list[Path]]:
        """Open (or create) the cache in `directory`; also the temp leftovers it removed."""
        ensure_private_dir(directory)
        cache = cls(
            directory, clock=clock, report=report, freeze_gc=freeze_gc, shard_count=shard_count
        )
        removed = remove_temp_leftovers(directory) + cache._shards.prepare()
        with gc_paused():
            cache._load()
            if freeze_gc:
                # Before the GC is back on: its first pass would scan every new row.
                gc.freeze()
        return cache, removed

    # -- reading -------------------------------------------------------------------------

    def rows(self) -> list[QueueRow]:
        """Every cached case's queue row, in no particular order."""
        with self._lock:
            return list(self._rows.values())

    def row(self, case_id: UUID) -> QueueRow | None:
        with self._lock:
            return self._rows.get(str(case_id))

    def row_by_reference(self, reference: str) -> QueueRow | None:
        """The row of `CAS-000142` (case-insensitive)."""
        wanted = reference.strip().upper()
        with self._lock:
            return next((row for row in self._rows.values() if row.reference == wanted), None)

    def __len__(self) -> int:
        return len(self._rows)

    def details(self, case_id: UUID) -> CaseDetails | None:
        """The case in full with whatever related records were fetched; parses one shard."""
        with self._lock:
            return self._shards.get(case_id)

    def case(self, case_id: UUID) -> Case | None:
        details = self.details(case_id)
        return details.case if details else None

    def fetched_revision(self, case_id: UUID) -> int | None:
        """The case revision its chat/escalations/overrides/log were fetched at; None: never."""
        return self.fetched_revisions([case_id]).get(case_id)

    def fetched_revisions(self, case_ids: Iterable[UUID]) -> dict[UUID, int]:
        """`fetched_revision` of many cases at once, each shard read once (a sync asks it of
        every case it receives), from the stored documents without validating them; cases
        whose records were never fetched are left out."""
        with self._lock:
            return self._shards.fetched_revisions(case_ids)

    def details_fetched_at(self, case_id: UUID) -> datetime | None:
        """When the related records of `case_id` were last fetched; `None`: never."""
        details = self.details(case_id)
        return details.fetched_at if details else None

    def sync_state(self) -> SyncState:
        with self._lock:
            return self._sync

    def users(self) -> list[User]:
        with self._lock:
            return list(self._users.values())

    def user(self, user_id: UUID) -> User | None:
        with self._lock:
            return self._users.get(str(user_id))

    def queues(self) -> list[Queue]:
        with self._lock:
            return list(self._queues.values())

    def me(self) -> User | None:
        """The user of the API key, as `GET /v1/me` last said."""
        with self._lock:
            return self._me

    def read_marker(self, case_id: UUID) -> ReadMarker | None:
        with self._lock:
            return self._marks.get(str(case_id))

    def is_unread(self, row: QueueRow) -> bool:
        """Whether the case's chat has a message newer than the last one the reviewer read."""
        if row.last_message_at is None:
            return False
        marker = self.read_marker(row.id)
        return marker is None or row.last_message_at > marker.at

    # -- writing -------------------------------------------------------------------------

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Group mutations: each touched file is rewritten once, when the outermost batch ends.

        The cyclic GC is paused meanwhile (a batch builds many objects). If the
        block (or the final write) fails, nothing of the batch is kept: memory
        is reloaded from the files, which still hold the previous state.
        """
        with self._lock, gc_paused():
            self._check_open()
            if self._depth == 0:
                for db in self._files():
                    db.file.hold()
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if self._depth == 0:
                    self._end_batch(keep=False)
                raise
            self._depth -= 1
            if self._depth == 0:
                self._end_batch(keep=True)

    def upsert_cases(self, cases: Iterable[Case]) -> list[UUID]:
        """Store cases from a list page or an action result; the ids actually stored.

        A case older (lower revision) than the cached one is skipped, so a page
        fetched before an action cannot undo it. Related records already
        cached with a case are kept (they turn `stale` when its revision moves).
        """
        with self._lock, self.batch():
            stored: list[UUID] = []
            rows: dict[str, QueueRow] = {}
            case_docs: list[tuple[UUID, dict[str, Any]]] = []
            for case in cases:
                key = str(case.id)
                current = self._rows.get(key)
                if current is not None and current.revision > case.revision:
                    continue
                rows[key] = QueueRow.from_case(case)
                case_docs.append((case.id, case.model_dump()))
                stored.append(case.id)
            self._put_rows(rows)
            self._shards.put_cases(case_docs)
            self._stored_in_batch += len(stored)
            return stored

    def save_details(self, details: CaseDetails) -> None:
        """Store a case with the related records just fetched for it.

        If the cache already holds a newer revision of the case, that case is
        kept and the records are stored as fetched, so they read as `stale`.
        """
        with self._lock, self.batch():
            key = str(details.case.id)
            current = self._rows.get(key)
            doc = details.model_dump()
            if current is not None and current.revision > details.case.revision:
                stored = self._shards.raw(details.case.id)
                if stored is not None and "case" in stored:
                    doc["case"] = stored["case"]
            else:
                self._put_rows({key: QueueRow.from_case(details.case)})
            self._shards.put([(details.case.id, doc)])

    def remove_cases(self, case_ids: Iterable[UUID]) -> None:
        """Forget cases (gone from the server, or out of reach)."""
        ids = list(case_ids)
        keys = [str(case_id) for case_id in ids]
        with self._lock, self.batch():
            present = [key for key in keys if key in self._rows]
            if present:
                set_entries(self._index.file, _ROWS, {}, removed=present)
                for key in present:
                    del self._rows[key]
            marked = [key for key in keys if key in self._marks]
            for key in marked:
                del self._marks[key]
            if marked:
                remove_docs(self._read_db.table(_READS), marked)
            self._shards.remove(ids)

    def set_sync_state(self, state: SyncState) -> None:
        """Record where the pull stopped (in the same write as the rows of the batch)."""
        with self._lock, self.batch():
            set_entries(self._index.file, _SYNC, {_SYNC_KEY: state.model_dump(mode="json")})
            self._sync = state

    def set_users(self, users: Iterable[User]) -> None:
        """Replace the organization's users."""
        by_id = {str(user.id): user for user in users}
        with self._lock, self.batch():
            docs = {key: user.model_dump(mode="json") for key, user in by_id.items()}
            replace_docs(self._people.table(_USERS), docs)
            self._users = by_id

    def set_queues(self, queues: Iterable[Queue]) -> None:
        """Replace the organization's queues."""
        by_id = {str(queue.id): queue for queue in queues}
        with self._lock, self.batch():
            docs = {key: queue.model_dump(mode="json") for key, queue in by_id.items()}
            replace_docs(self._people.table(_QUEUES), docs)
            self._queues = by_id

    def set_me(self, me: User | None) -> None:
        """Record the current user (`None` forgets it, e.g. after a key change)."""
        with self._lock, self.batch():
            docs = {_ME_KEY: me.model_dump(mode="json")} if me else {}
            replace_docs(self._people.table(_ME), docs)
            self._me = me

    def mark_read(self, case_id: UUID, *, message_id: UUID | None, at: datetime) -> None:
        """Remember the last chat message the reviewer saw on a case."""
        marker = ReadMarker(message_id=message_id, at=at)
        with self._lock, self.batch():
            put_docs(self._read_db.table(_READS), {str(case_id): marker.model_dump(mode="json")})
            self._marks[str(case_id)] = marker

    def clear(self) -> None:
        """Forget everything cached (the next pull starts from scratch)."""
        with self._lock, self.batch():
            self._index.file.write({})
            for db, tables in ((self._people, (_USERS, _QUEUES, _ME)), (self._read_db, (_READS,))):
                for name in tables:
                    db.table(name).truncate()
            self._shards.clear()
            self._rows, self._sync, self._marks = {}, SyncState(), {}
            self._users, self._queues, self._me = {}, {}, None

    def close(self) -> None:
        with self._lock:
            self._closed = True

    # -- internals -----------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosed()

    def _put_rows(self, rows: dict[str, QueueRow]) -> None:
        if not rows:
            return
        entries = {key: row.stored() for key, row in rows.items()}
        if _LAYOUT_KEY not in self._index.file.read().get(_META, {}):
            set_entries(self._index.file, _META, {_LAYOUT_KEY: ROW_LAYOUT.model_dump()})
        set_entries(self._index.file, _ROWS, entries)
        self._rows.update(rows)

    def _files(self) -> tuple[KeyedTinyDB, ...]:
        # In the order they are written: the index last, as it holds the watermark.
        return (self._read_db, self._people, self._index)

    def _end_batch(self, *, keep: bool) -> None:
        for db in self._files():
            db.file.unhold()
        if not keep:
            self._rollback()
            return
        try:
            self._shards.commit()
            for db in self._files():
                db.file.flush()
        except BaseException:
            self._rollback()
            raise
        stored, self._stored_in_batch = self._stored_in_batch, 0
        if self._freeze_gc and stored >= FREEZE_AFTER:
            gc.freeze()

    def _rollback(self) -> None:
        self._stored_in_batch = 0
        self._shards.rollback()
        for db in self._files():
            db.file.discard()
        with gc_paused():
            self._load()

    def _load(self) -> None:
        self._load_index()
        self._load_people()
        self._load_reads()

    def _load_index(self) -> None:
        path = self._index.file.path
        data = read_bytes(path)
        index = IndexFile()
        if data is not None:
            try:
                index = IndexFile.model_validate_json(data)
                layout = index.meta.get(_LAYOUT_KEY)
                if index.rows and layout != ROW_LAYOUT:
                    raise StoreFileCorrupt(path, "rows are stored in another layout")
            except (ValidationError, StoreFileCorrupt) as error:
                self._set_aside(path, describe(error))
                self._index.file.discard()
                index = IndexFile()
        self._rows = index.rows
        self._sync = index.sync.get(_SYNC_KEY, SyncState())

    def _load_people(self) -> None:
        try:
            users = _users.validate_python(self._people.raw(_USERS))
            queues = _queues.validate_python(self._people.raw(_QUEUES))
            me_doc = self._people.raw(_ME).get(_ME_KEY)
            me = User.model_validate(me_doc) if me_doc is not None else None
        except (StoreFileCorrupt, ValidationError) as error:
            self._set_aside(self._people.file.path, describe(error))
            self._people.file.discard()
            users, queues, me = {}, {}, None
        self._users, self._queues, self._me = users, queues, me

    def _load_reads(self) -> None:
        try:
            marks = _reads.validate_python(self._read_db.raw(_READS))
        except (StoreFileCorrupt, ValidationError) as error:
            self._set_aside(self._read_db.file.path, describe(error))
            self._read_db.file.discard()
            marks = {}
        self._marks = marks

    def lost_details(self) -> set[UUID]:
        """Cached cases whose details were set aside with a corrupt shard (to fetch again)."""
        with self._lock:
            return {case_id for case_id in self._lost_details if str(case_id) in self._rows}

    def forget_lost_details(self, case_ids: Iterable[UUID]) -> None:
        """These were fetched again (or are gone)."""
        with self._lock:
            self._lost_details.difference_update(case_ids)

    @property
    def needs_full_pull(self) -> bool:
        """Whether cached cases were lost in a way only a full pull brings back."""
        return self._lost_recent

    def full_pull_done(self) -> None:
        self._lost_recent = False

    def _set_aside(self, path: Path, reason: str) -> None:
        moved_to = quarantine(path, self._clock())
        self._report(FileQuarantined(path=path, moved_to=moved_to, reason=reason))
        if path.name == RECENT_FILE:
            self._lost_recent = True
        shard = self._shards.shard_at(path)
        if shard is not None:
            # Which of them had details is unknown now: every cached case of the shard.
            self._lost_details.update(
                row.id for row in self._rows.values() if self._shards.shard_of(row.id) == shard
            )

"""`LocalStore`: the data directory of one profile, opened by one process at a time."""

import os
import threading
from pathlib import Path
from types import TracebackType

from casedesk.domain.clock import Clock, system_clock
from casedesk.store.attachments import ATTACHMENTS_DIR, Attachments
from casedesk.store.cache import Cache
from casedesk.store.drafts import DRAFTS_FILE, Drafts
from casedesk.store.errors import (
    OutboxCorrupt,
    OutboxRecovered,
    StoreEvent,
    TempFilesRemoved,
)
from casedesk.store.files import (
    LOCK_FILE,
    ProcessLock,
    lock_data_dir,
    remove_temp_leftovers,
)
from casedesk.store.outbox import OUTBOX_FILE, Outbox

CACHE_DIR = "cache"


class LocalStore:
    """The cache, the outbox and the drafts of one data directory, holding its lock.

    ```
    <data_dir>/casedesk.lock     pid of the process holding the flock
    <data_dir>/outbox.json       the outbox (precious: never rewritten if unreadable)
    <data_dir>/drafts.json       drafts
    <data_dir>/attachments/      copies of files attached to queued comments
    <data_dir>/queue-head.json   the queue's first rows, painted at start (see head_file)
    <data_dir>/cache/            the disposable cache (see `Cache`)
    ```
    Directories are 0700 and files 0600. The caller chooses `data_dir`; nothing
    here reads the environment or the config.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        lock: ProcessLock,
        cache: Cache,
        outbox: Outbox | None,
        outbox_problem: OutboxCorrupt | None,
        drafts: Drafts,
        attachments: Attachments,
        events: "_EventLog",
    ) -> None:
        self.data_dir = data_dir
        self.cache = cache
        self.drafts = drafts
        self.attachments = attachments
        self._outbox = outbox
        self._outbox_problem = outbox_problem
        self._lock = lock
        self._events = events

    @classmethod
    def open(
        cls,
        data_dir: str | os.PathLike[str],
        *,
        clock: Clock = system_clock,
        freeze_gc: bool = True,
        lock: ProcessLock | None = None,
    ) -> "LocalStore":
        """Lock `data_dir` (creating it 0700) and open what is in it.

        `lock`: the directory's lock, already taken with `lock_data_dir` (the console
        takes it before painting anything); the store releases it on close.

        Raises `StoreLocked` at once if another process has it open. A
        corrupt cache or drafts file is set aside and reported by
        `take_events()`; an unreadable outbox is left untouched and reported
        by `outbox_problem` (and by `outbox`, which raises it).
        `freeze_gc` calls `gc.freeze()` after loading the cache, so the
        loaded rows are never scanned by the cyclic GC again.
        """
        root = Path(data_dir)
        if lock is None:
            lock = lock_data_dir(root)
        elif not lock.held or lock.path != root / LOCK_FILE:
            raise ValueError(f"the lock given is not held on {root}")
        try:
            events = _EventLog()
            removed = remove_temp_leftovers(root)
            removed += remove_temp_leftovers(root / ATTACHMENTS_DIR)
            cache, cache_removed = Cache.open(
                root / CACHE_DIR, clock=clock, report=events.add, freeze_gc=freeze_gc
            )
            removed += cache_removed
            if removed:
                events.add(TempFilesRemoved(paths=tuple(removed)))
            outbox: Outbox | None = None
            problem: OutboxCorrupt | None = None
            try:
                outbox, recovered = Outbox.open(root / OUTBOX_FILE, clock=clock)
            except OutboxCorrupt as error:
                problem = error
            else:
                if recovered:
                    events.add(OutboxRecovered(item_ids=tuple(recovered)))
            drafts = Drafts.open(root / DRAFTS_FILE, clock=clock, report=events.add)
            attachments = Attachments(root / ATTACHMENTS_DIR)
            if outbox is not None:  # an unreadable outbox may still need every copy
                attachments.remove_unreferenced(outbox.unsent_document_ids())
        except BaseException:
            lock.release()
            raise
        return cls(
            root,
            lock=lock,
            cache=cache,
            outbox=outbox,
            outbox_problem=problem,
            drafts=drafts,
            attachments=attachments,
            events=events,
        )

    @property
    def outbox(self) -> Outbox:
        """The outbox; raises `OutboxCorrupt` (with its `path`) if it could not be read."""
        if self._outbox is None:
            assert self._outbox_problem is not None
            raise self._outbox_problem
        return self._outbox

    @property
    def outbox_problem(self) -> OutboxCorrupt | None:
        """Why the outbox cannot be used, if it cannot: nothing is sent until it is fixed."""
        return self._outbox_problem

    def take_events(self) -> list[StoreEvent]:
        """What the store noticed and handled since the last call (quarantines, recoveries)."""
        return self._events.take()

    def close(self) -> None:
        """Stop using the files and release the lock (another process may then open them)."""
        self.cache.close()
        self.drafts.close()
        if self._outbox is not None:
            self._outbox.close()
        self._lock.release()

    def __enter__(self) -> "LocalStore":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class _EventLog:
    """Where every part of the store reports what it handled, at open and later."""

    def __init__(self) -> None:
        self._events: list[StoreEvent] = []
        self._lock = threading.Lock()

    def add(self, event: StoreEvent) -> None:
        with self._lock:
            self._events.append(event)

    def take(self) -> list[StoreEvent]:
        with self._lock:
            events, self._events = self._events, []
        return events

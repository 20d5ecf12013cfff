"""The one TinyDB storage of casedesk: whole-file orjson, atomic replace, batched writes."""

import contextlib
import gc
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson
from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Document, Table

from casedesk.store.errors import StoreFileCorrupt
from casedesk.store.files import read_bytes, write_atomic

Doc = dict[str, Any]
Tables = dict[str, dict[str, Any]]
"""A TinyDB file: table name -> document id -> document."""


class AtomicJSONStorage(Storage):
    """Keeps the database in memory and writes it whole, atomically, when told to.

    Outside a batch every TinyDB write is durable before it returns (temp file,
    fsync, `os.replace`, fsync of the directory). Inside `batch()` writes only
    change memory, and the file is rewritten once when the outermost batch ends;
    if the batch fails, memory is dropped and the file (still the old state)
    is read again on next use.
    """

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)
        self.writes = 0
        """How many times the file was rewritten (for tests and benchmarks)."""
        self._tables: Tables | None = None
        self._held = 0
        self._dirty = False

    @property
    def loaded(self) -> bool:
        """Whether the file has been parsed into memory."""
        return self._tables is not None

    @property
    def dirty(self) -> bool:
        """Whether memory holds changes not yet written."""
        return self._dirty

    def read(self) -> Tables:
        if self._tables is None:
            self._tables = self._load()
        return self._tables

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        self._tables = data
        self._dirty = True
        if not self._held:
            self.flush()

    def hold(self) -> None:
        """Start keeping writes in memory (nests)."""
        self._held += 1

    def unhold(self) -> None:
        """Stop one level of `hold()`; the caller decides when to `flush()`."""
        self._held -= 1

    def flush(self, *, sync_dir: bool = True) -> None:
        """Write memory to disk if it changed; on failure forget memory (disk is the truth)."""
        if not self._dirty or self._tables is None:
            return
        try:
            write_atomic(self.path, encode(self._tables), sync_dir=sync_dir)
        except BaseException:
            self.discard()
            raise
        self._dirty = False
        self.writes += 1

    def discard(self) -> None:
        """Forget memory, unwritten changes included; the file is read again on next use."""
        self._tables = None
        self._dirty = False

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Every write inside rewrites the file once, at the end of the outermost batch."""
        self.hold()
        try:
            yield
        except BaseException:
            self.unhold()
            if not self._held:
                self.discard()
            raise
        self.unhold()
        if not self._held:
            self.flush()

    def close(self) -> None:
        if not self._held:
            self.flush()

    def _load(self) -> Tables:
        data = read_bytes(self.path)
        if data is None:
            return {}
        return parse_tables(self.path, data)


def encode(tables: Tables) -> bytes:
    """orjson, with UUIDs, instants, dates and enums written natively (instants in UTC as `Z`).

    Documents may hold those objects as they are (a model dumped in python
    mode), which saves pydantic's per-field JSON hooks on bulk writes.
    """
    return orjson.dumps(tables, option=orjson.OPT_UTC_Z)


def parse_tables(path: Path, data: bytes) -> Tables:
    """Parse a TinyDB file, refusing anything that is not `{table: {id: document}}`.

    Documents are checked by the models of whoever reads them.
    """
    try:
        tables = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise StoreFileCorrupt(path, f"not JSON ({error})") from None
    if not isinstance(tables, dict):
        raise StoreFileCorrupt(path, "not a JSON object of tables")
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise StoreFileCorrupt(path, f"table {name!r} is not an object")
    return tables


class KeyedTable(Table):
    """A TinyDB table whose document ids are our own strings (a case id, an item id)."""

    document_id_class = str  # type: ignore[assignment]


class KeyedTinyDB(TinyDB):
    """TinyDB over `AtomicJSONStorage`, with string document ids."""

    table_class = KeyedTable

    def __init__(self, path: Path) -> None:
        super().__init__(path, storage=AtomicJSONStorage)

    @property
    def file(self) -> AtomicJSONStorage:
        storage = self.storage
        assert isinstance(storage, AtomicJSONStorage)
        return storage

    def raw(self, table: str) -> Mapping[str, Doc]:
        """The documents of `table` as stored, without copies: read, never mutate."""
        return self.file.read().get(table, {})


def put_docs(table: Table, docs: Mapping[str, Mapping[str, Any]]) -> None:
    """Insert or replace documents by id in one batch: two table passes, one file write.

    TinyDB has no bulk upsert, and a loop of `upsert()` rebuilds the table
    once per document; remove-then-insert costs two passes whatever the count.
    """
    if not docs:
        return
    storage = table.storage
    assert isinstance(storage, AtomicJSONStorage)
    with storage.batch():
        remove_docs(table, docs)
        table.insert_multiple(Document(doc, doc_id) for doc_id, doc in docs.items())  # type: ignore[arg-type]


def set_entries(
    storage: AtomicJSONStorage,
    table: str,
    entries: Mapping[str, Any],
    removed: Iterable[str] = (),
) -> None:
    """Set and remove entries of `table` in place: O(changes), one write (or none, if held).

    For tables whose values are not TinyDB documents (the queue rows are
    arrays), or when a whole-table rebuild per change would cost too much.
    """
    tables = storage.read()
    current = tables.setdefault(table, {})
    current.update(entries)
    for key in removed:
        current.pop(key, None)
    storage.write(tables)


def remove_docs(table: Table, doc_ids: Iterable[str]) -> None:
    """Remove documents by id (absent ids are skipped), in one file write."""
    table.remove(doc_ids=list(doc_ids))  # type: ignore[arg-type]  # TinyDB types ids as int


def replace_docs(table: Table, docs: Mapping[str, Mapping[str, Any]]) -> None:
    """Make `docs` the whole content of `table`, in one file write."""
    storage = table.storage
    assert isinstance(storage, AtomicJSONStorage)
    with storage.batch():
        table.truncate()
        if docs:
            table.insert_multiple(Document(doc, doc_id) for doc_id, doc in docs.items())  # type: ignore[arg-type]


_gc_lock = threading.Lock()
_gc_pauses = 0
_gc_was_enabled = False


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Turn the cyclic GC off while building many objects (a bulk load or sync page).

    Case documents hold no reference cycles, so nothing leaks meanwhile; the
    GC's repeated scans of the growing heap are what made loads 2-3x slower.
    """
    global _gc_pauses, _gc_was_enabled
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                gc.enable()

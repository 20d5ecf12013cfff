"""Case details, sharded by a hash of the case id: opening one case parses one small file."""

import hashlib
import os
import re
import shutil
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from casedesk.store.cached import CaseDetails
from casedesk.store.errors import StoreFileCorrupt
from casedesk.store.files import ensure_private_dir, fsync_dir, remove_temp_leftovers
from casedesk.store.storage import KeyedTinyDB, set_entries

SHARD_COUNT = 1024
"""At 50,000 cases ~50 per shard (a few hundred KB); see benchmarks/store_bench.py."""

TABLE = "details"
_LAYOUT_DIR = re.compile(r"^details-\d+$")

OnCorrupt = Callable[[Path, str], None]
"""Called with a corrupt shard's path and the reason; it moves the file aside."""


class DetailShards:
    """`details-<count>/<shard>.json`: one TinyDB file per shard, table `details`, keyed by case id.

    Not thread-safe on its own: the `Cache` lock guards it. Writes happen only
    between `begin()` and `commit()`, and each touched shard is rewritten once.
    """

    def __init__(
        self, root: Path, on_corrupt: OnCorrupt, *, count: int = SHARD_COUNT, keep_open: int = 16
    ) -> None:
        self.count = count
        self.directory = root / f"details-{count}"
        self._on_corrupt = on_corrupt
        self._keep_open = keep_open
        self._open: OrderedDict[int, KeyedTinyDB] = OrderedDict()
        self._touched: dict[int, KeyedTinyDB] = {}
        self._width = len(f"{count - 1:x}")

    def prepare(self) -> list[Path]:
        """Create the directory, drop other layouts' directories, clean temp leftovers."""
        for entry in os.scandir(self.directory.parent):
            if (
                entry.is_dir()
                and _LAYOUT_DIR.match(entry.name)
                and entry.path != str(self.directory)
            ):
                shutil.rmtree(entry.path, ignore_errors=True)
        ensure_private_dir(self.directory)
        return remove_temp_leftovers(self.directory)

    def shard_of(self, case_id: UUID) -> int:
        """Which shard holds `case_id` (stable across runs and machines)."""
        digest = hashlib.blake2b(case_id.bytes, digest_size=4).digest()
        return int.from_bytes(digest, "big") % self.count

    def path_of(self, shard: int) -> Path:
        return self.directory / f"{shard:0{self._width}x}.json"

    def shard_at(self, path: Path) -> int | None:
        """The shard stored at `path`, or `None` for any other file."""
        if path.parent != self.directory or path.suffix != ".json":
            return None
        try:
            shard = int(path.stem, 16)
        except ValueError:
            return None
        return shard if 0 <= shard < self.count and self.path_of(shard) == path else None

    def get(self, case_id: UUID) -> CaseDetails | None:
        """The stored details of `case_id`; a corrupt shard is set aside and reads as empty."""
        shard = self.shard_of(case_id)
        raw = self._raw(shard).get(str(case_id))
        if raw is None:
            return None
        try:
            return CaseDetails.model_validate(raw)
        except ValidationError as error:
            self._set_aside(shard, f"details of {case_id} have the wrong shape: {error}")
            return None

    def raw(self, case_id: UUID) -> Mapping[str, Any] | None:
        """The stored document of `case_id`, unvalidated and not to be mutated."""
        return self._raw(self.shard_of(case_id)).get(str(case_id))

    def put(self, docs: Iterable[tuple[UUID, dict[str, Any]]]) -> None:
        """Insert or replace documents (`CaseDetails` dumped) by case id."""
        by_shard: dict[int, dict[str, dict[str, Any]]] = {}
        for case_id, doc in docs:
            by_shard.setdefault(self.shard_of(case_id), {})[str(case_id)] = doc
        for shard, shard_docs in by_shard.items():
            db = self._touch(shard)
            self._raw(shard)  # load (or set aside) before writing over it
            set_entries(db.file, TABLE, shard_docs)

    def put_cases(self, cases: Iterable[tuple[UUID, dict[str, Any]]]) -> None:
        """Store each case (dumped), keeping the related records already stored with it."""
        by_shard: dict[int, list[tuple[str, dict[str, Any]]]] = {}
        for case_id, case_doc in cases:
            by_shard.setdefault(self.shard_of(case_id), []).append((str(case_id), case_doc))
        for shard, items in by_shard.items():
            db = self._touch(shard)
            stored = self._raw(shard)
            docs: dict[str, dict[str, Any]] = {}
            for key, case_doc in items:
                previous = stored.get(key)
                docs[key] = {**previous, "case": case_doc} if previous else {"case": case_doc}
            set_entries(db.file, TABLE, docs)

    def remove(self, case_ids: Iterable[UUID]) -> None:
        by_shard: dict[int, list[str]] = {}
        for case_id in case_ids:
            by_shard.setdefault(self.shard_of(case_id), []).append(str(case_id))
        for shard, ids in by_shard.items():
            db = self._touch(shard)
            present = [case_id for case_id in ids if case_id in self._raw(shard)]
            set_entries(db.file, TABLE, {}, removed=present)

    def clear(self) -> None:
        """Forget every shard, on disk and in memory."""
        self._open.clear()
        self._touched.clear()
        shutil.rmtree(self.directory, ignore_errors=True)
        ensure_private_dir(self.directory)
        fsync_dir(self.directory.parent)

    def commit(self) -> int:
        """Write every shard touched since the last commit, once each; how many were written."""
        written = 0
        try:
            for db in self._touched.values():
                db.file.unhold()
                if db.file.dirty:
                    db.file.flush(sync_dir=False)
                    written += 1
        except BaseException:
            self.rollback()
            raise
        self._touched.clear()
        if written:
            fsync_dir(self.directory)
        self._trim()
        return written

    def rollback(self) -> None:
        """Forget unwritten changes: touched shards are read again from disk."""
        for shard, db in self._touched.items():
            db.file.discard()
            self._open.pop(shard, None)
        self._touched.clear()

    def _touch(self, shard: int) -> KeyedTinyDB:
        db = self._db(shard)
        if shard not in self._touched:
            db.file.hold()
            self._touched[shard] = db
        return db

    def _db(self, shard: int) -> KeyedTinyDB:
        db = self._open.get(shard)
        if db is None:
            db = KeyedTinyDB(self.path_of(shard))
            self._open[shard] = db
        self._open.move_to_end(shard)
        return db

    def _raw(self, shard: int) -> Mapping[str, Any]:
        db = self._db(shard)
        try:
            strangers = set(db.file.read()) - {TABLE}
            if strangers:  # JSON of the right kind, but not a shard of ours
                raise StoreFileCorrupt(db.file.path, f"unexpected tables {sorted(strangers)}")
            table = db.raw(TABLE)
        except StoreFileCorrupt as error:
            self._set_aside(shard, error.reason)
            return {}
        self._trim()
        return table

    def _set_aside(self, shard: int, reason: str) -> None:
        db = self._db(shard)
        db.file.discard()
        if db.file.path.exists():
            self._on_corrupt(db.file.path, reason)
        if shard in self._touched:
            db.file.read()  # keep writing on an empty shard within this batch

    def _trim(self) -> None:
        if len(self._open) <= self._keep_open + len(self._touched):
            return
        for shard in list(self._open):
            if len(self._open) <= self._keep_open:
                break
            if shard not in self._touched:
                del self._open[shard]

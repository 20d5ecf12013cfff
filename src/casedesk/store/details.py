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

import orjson
from pydantic import ValidationError

from casedesk.store.cached import CaseDetails
from casedesk.store.errors import StoreFileCorrupt
from casedesk.store.files import (
    ensure_private_dir,
    fsync_dir,
    read_bytes,
    remove_temp_leftovers,
    write_atomic,
)
from casedesk.store.storage import KeyedTinyDB, encode, set_entries

SHARD_COUNT = 1024
"""At 50,000 cases ~50 per shard (a few hundred KB); see benchmarks/store_bench.py."""

TABLE = "details"
RECENT_FILE = "recent.json"
RECENT_LIMIT = 2000
"""Cases kept in `recent.json` before they are folded into their shards."""
_LAYOUT_DIR = re.compile(r"^details-\d+$")

OnCorrupt = Callable[[Path, str], None]
"""Called with a corrupt shard's path and the reason; it moves the file aside."""


class DetailShards:
    """`details-<count>/<shard>.json`: one TinyDB file per shard, table `details`, keyed by case id.

    Not thread-safe on its own: the `Cache` lock guards it. Writes happen only
    between `begin()` and `commit()`, and each touched shard is rewritten once.

    A case stored from a list page (`put_cases`: no related records with it) goes
    to `recent.json` first, one small file, instead of its shard: an incremental
    sync of 100 changed cases rewrote ~100 shards for them. Read, a case in
    `recent.json` stands over its shard's copy unless that one has a higher
    revision; past `RECENT_LIMIT` cases they are folded into their shards.
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
        self._recent: dict[str, dict[str, Any]] | None = None
        """Case docs newer than their shards' (loaded on first use)."""
        self._recent_dirty = False

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
        raw = self._overlay(str(case_id), self._raw(shard).get(str(case_id)))
        if raw is None:
            return None
        try:
            return CaseDetails.model_validate(raw)
        except ValidationError as error:
            self._set_aside(shard, f"details of {case_id} have the wrong shape: {error}")
            return None

    def raw(self, case_id: UUID) -> Mapping[str, Any] | None:
        """The stored document of `case_id`, unvalidated and not to be mutated."""
        return self._overlay(str(case_id), self._raw(self.shard_of(case_id)).get(str(case_id)))

    def fetched_revisions(self, case_ids: Iterable[UUID]) -> dict[UUID, int]:
        """The revision each case's related records were fetched at, for those fetched.

        Each shard is read once however many of the cases it holds (a pull asks this of
        every case it received: 10,000 single look-ups opened shards 10,000 times).
        """
        by_shard: dict[int, list[UUID]] = {}
        for case_id in case_ids:
            by_shard.setdefault(self.shard_of(case_id), []).append(case_id)
        revisions: dict[UUID, int] = {}
        for shard, ids in by_shard.items():
            table = self._raw(shard)
            for case_id in ids:
                doc = table.get(str(case_id))
                if doc is None or doc.get("fetched_at") is None:
                    continue
                revision = doc.get("fetched_revision")
                if isinstance(revision, int):
                    revisions[case_id] = revision
        return revisions

    def put(self, docs: Iterable[tuple[UUID, dict[str, Any]]]) -> None:
        """Insert or replace documents (`CaseDetails` dumped) by case id."""
        by_shard: dict[int, dict[str, dict[str, Any]]] = {}
        for case_id, doc in docs:
            by_shard.setdefault(self.shard_of(case_id), {})[str(case_id)] = doc
        for shard, shard_docs in by_shard.items():
            db = self._touch(shard)
            self._raw(shard)  # load (or set aside) before writing over it
            set_entries(db.file, TABLE, shard_docs)
            self._forget_recent(shard_docs)  # each doc carries its case

    def put_cases(self, cases: Iterable[tuple[UUID, dict[str, Any]]]) -> None:
        """Store each case (dumped), keeping the related records already stored with it."""
        recent = self._recent_docs()
        for case_id, case_doc in cases:
            recent[str(case_id)] = case_doc
            self._recent_dirty = True
        if len(recent) > RECENT_LIMIT:
            self._fold_recent()

    def _fold_recent(self) -> None:
        """Move the cases of `recent.json` into their shards (written at the next commit)."""
        recent = self._recent_docs()
        by_shard: dict[int, list[str]] = {}
        for key in recent:
            by_shard.setdefault(self.shard_of(UUID(key)), []).append(key)
        for shard, keys in by_shard.items():
            db = self._touch(shard)
            stored = self._raw(shard)
            docs: dict[str, dict[str, Any]] = {}
            for key in keys:
                merged = self._overlay(key, stored.get(key))
                assert merged is not None
                docs[key] = dict(merged)
            set_entries(db.file, TABLE, docs)
        recent.clear()
        self._recent_dirty = True

    def _recent_docs(self) -> dict[str, dict[str, Any]]:
        if self._recent is None:
            self._recent = self._load_recent()
        return self._recent

    def _load_recent(self) -> dict[str, dict[str, Any]]:
        path = self.directory / RECENT_FILE
        data = read_bytes(path)
        if data is None:
            return {}
        try:
            docs = orjson.loads(data)
        except orjson.JSONDecodeError as error:
            docs, reason = None, f"not JSON ({error})"
        else:
            reason = "not an object of case documents"
        if isinstance(docs, dict) and all(isinstance(doc, dict) for doc in docs.values()):
            return docs
        self._on_corrupt(path, reason)
        return {}

    def _overlay(self, key: str, stored: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
        """`stored` with the case of `recent.json` over it, unless the shard's is newer."""
        case_doc = self._recent_docs().get(key)
        if case_doc is None:
            return stored
        if stored is None:
            return {"case": case_doc}
        previous = stored.get("case")
        if isinstance(previous, Mapping) and _revision(previous) > _revision(case_doc):
            return stored
        return {**stored, "case": case_doc}

    def _forget_recent(self, keys: Iterable[str]) -> None:
        recent = self._recent_docs()
        for key in keys:
            if recent.pop(key, None) is not None:
                self._recent_dirty = True

    def remove(self, case_ids: Iterable[UUID]) -> None:
        by_shard: dict[int, list[str]] = {}
        for case_id in case_ids:
            by_shard.setdefault(self.shard_of(case_id), []).append(str(case_id))
        for shard, ids in by_shard.items():
            db = self._touch(shard)
            present = [case_id for case_id in ids if case_id in self._raw(shard)]
            set_entries(db.file, TABLE, {}, removed=present)
            self._forget_recent(ids)

    def clear(self) -> None:
        """Forget every shard, on disk and in memory."""
        self._open.clear()
        self._touched.clear()
        self._recent, self._recent_dirty = {}, False
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
            if self._recent_dirty and self._recent is not None:
                # After the shards: a case folded into them stays in recent.json until now.
                write_atomic(self.directory / RECENT_FILE, encode(self._recent), sync_dir=False)
                self._recent_dirty = False
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
        if self._recent_dirty:
            self._recent, self._recent_dirty = None, False  # read again from disk

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


def _revision(case_doc: Mapping[str, Any]) -> int:
    revision = case_doc.get("revision")
    return revision if isinstance(revision, int) else 0

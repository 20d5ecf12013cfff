"""Files attached to queued comments, copied into the data directory until they are sent.

A comment typed offline must keep its documents even if the original files
move or change before the replay, so each file is copied here when the
comment is queued and uploaded from the copy. The comment's `document_ids`
hold the copy's local id until the upload answers with the API's id.

```
<data_dir>/attachments/<local id>.bin    the bytes, as they were when queued
<data_dir>/attachments/<local id>.json   a `StagedFile` (written last: it makes the copy real)
```
A copy nobody references (the comment was sent, discarded, or never queued
because of a crash) is removed by `remove_unreferenced`.
"""

import hashlib
import mimetypes
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated
from uuid import UUID, uuid4

import orjson
from pydantic import Field, ValidationError

from casedesk.domain import limits
from casedesk.domain.base import WireModel
from casedesk.store.errors import StoreError
from casedesk.store.files import ensure_private_dir, read_bytes, write_atomic

ATTACHMENTS_DIR = "attachments"


class AttachmentProblem(StoreError, ValueError):
    """A file cannot be attached (missing, not a file, too large, unreadable)."""


class AttachmentLost(StoreError):
    """The copy of a queued attachment is gone or changed: the comment cannot be sent as typed."""


class StagedFile(WireModel):
    """A copied file waiting to be uploaded, and the API's id for it once it is."""

    id: UUID
    """The local id, held in the queued comment's `document_ids` until the upload."""
    name: Annotated[str, Field(min_length=1, max_length=limits.DOCUMENT_NAME_MAX)]
    size: Annotated[int, Field(ge=0, le=limits.DOCUMENT_MAX_BYTES)]
    sha256: str
    content_type: str
    source: str
    """The path the reviewer attached (reopening the form shows it)."""
    upload_key: UUID
    """The Idempotency-Key of the upload: a repeat after a lost answer is the same document."""
    document_id: UUID | None = None
    """The API's id, once the upload was acknowledged."""


def attachment_problem(path: Path) -> str | None:
    """Why `path` cannot be attached to a comment, or `None` if it can."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return f"{path}: no such file."
    except OSError as error:
        return f"{path}: {error.strerror or error}."
    if not path.is_file():
        return f"{path}: not a file."
    if info.st_size > limits.DOCUMENT_MAX_BYTES:
        return (
            f"{path.name} is {info.st_size:,} bytes: documents are limited to "
            f"{limits.DOCUMENT_MAX_BYTES:,} bytes."
        )
    if len(path.name) > limits.DOCUMENT_NAME_MAX:
        return f"{path.name[:40]}…: the name is longer than {limits.DOCUMENT_NAME_MAX} characters."
    if not os.access(path, os.R_OK):
        return f"{path}: not readable."
    return None


class Attachments:
    """The copies of attached files, one pair of files per attachment. Thread-safe."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()

    def stage(self, source: Path) -> StagedFile:
        """Copy `source` in (fsynced) and return its record; raises `AttachmentProblem`."""
        problem = attachment_problem(source)
        if problem is not None:
            raise AttachmentProblem(problem)
        try:
            content = source.read_bytes()
        except OSError as error:
            raise AttachmentProblem(f"{source}: {error.strerror or error}.") from None
        if len(content) > limits.DOCUMENT_MAX_BYTES:  # it grew since the check
            raise AttachmentProblem(attachment_problem(source) or f"{source}: too large.")
        staged = StagedFile(
            id=uuid4(),
            name=source.name,
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
            content_type=mimetypes.guess_type(source.name)[0] or "application/octet-stream",
            source=str(source),
            upload_key=uuid4(),
        )
        with self._lock:
            ensure_private_dir(self.root)
            write_atomic(self._content_path(staged.id), content, sync_dir=False)
            self._write(staged)
        return staged

    def get(self, local_id: UUID) -> StagedFile | None:
        """The record of a staged file, or `None` (an API document id, or a lost copy)."""
        raw = read_bytes(self._record_path(local_id))
        if raw is None:
            return None
        try:
            return StagedFile.model_validate_json(raw)
        except ValidationError:
            return None

    def content(self, staged: StagedFile) -> bytes:
        """The bytes as they were queued; raises `AttachmentLost` if they are not."""
        content = read_bytes(self._content_path(staged.id))
        if content is None or hashlib.sha256(content).hexdigest() != staged.sha256:
            raise AttachmentLost(
                f"the copy of {staged.name!r} kept for this comment is missing or damaged "
                f"({self._content_path(staged.id)}); attach the file again"
            )
        return content

    def record_upload(self, staged: StagedFile, document_id: UUID) -> StagedFile:
        """Remember the API's id for the file (fsynced), so a later attempt does not upload it."""
        done = staged.model_copy(update={"document_id": document_id})
        with self._lock:
            self._write(done)
        return done

    def remove(self, local_ids: Iterable[UUID]) -> None:
        """Forget these copies (their comment was sent or discarded)."""
        with self._lock:
            for local_id in local_ids:
                for path in (self._record_path(local_id), self._content_path(local_id)):
                    path.unlink(missing_ok=True)

    def remove_unreferenced(self, referenced: set[UUID]) -> list[UUID]:
        """Remove every copy whose id is not in `referenced`; the ids removed."""
        if not self.root.is_dir():
            return []
        stale: set[UUID] = set()
        for path in self.root.iterdir():
            try:
                local_id = UUID(path.name.split(".", 1)[0])
            except ValueError:
                continue  # not ours (a temporary file is cleaned by the store)
            if local_id not in referenced:
                stale.add(local_id)
        self.remove(stale)
        return sorted(stale)

    def _write(self, staged: StagedFile) -> None:
        write_atomic(self._record_path(staged.id), orjson.dumps(staged.model_dump(mode="json")))

    def _record_path(self, local_id: UUID) -> Path:
        return self.root / f"{local_id}.json"

    def _content_path(self, local_id: UUID) -> Path:
        return self.root / f"{local_id}.bin"

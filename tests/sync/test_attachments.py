"""Files attached to a queued comment: copied in when queued, uploaded once, then the comment.

Effects are counted on the real server: its action log, its messages and the rows of
its `documents` table (read from its SQLite file).
"""

import hashlib
import sqlite3
import uuid
from pathlib import Path
from typing import Any

from synckit import Server, all_pages, entries_for

from casedesk.api.errors import ApiConnectionError
from casedesk.domain.actions import CommentAction
from casedesk.domain.enums import ActionType
from casedesk.domain.records import Document
from casedesk.store.outbox import OutboxState, ParkReason


def documents_with(server: Server, content: bytes) -> int:
    """How many documents the server stores with exactly these bytes."""
    digest = hashlib.sha256(content).hexdigest()
    with sqlite3.connect(server.data_dir / "casedesk.db") as db:
        (count,) = db.execute(
            "SELECT count(*) FROM documents WHERE sha256 = ?", (digest,)
        ).fetchone()
    return int(count)


def a_file(directory: Path, name: str, size: int = 3000) -> tuple[Path, bytes]:
    content = (name.encode() + uuid.uuid4().bytes) * (size // 20)
    path = directory / name
    path.write_bytes(content)
    return path, content


async def synced(up: Server, services: Any) -> tuple[Any, Any]:
    """A reviewer's service after a full sync, and an open case of its cache."""
    service = services(up.base_url, up.key("reviewer"))
    await service.sync(full=True)
    row = next(row for row in service.queue() if row.status.value in {"open", "in_progress"})
    return service, row


async def comment_with(service: Any, row: Any, paths: list[Path]) -> Any:
    copies = await service.stage_attachments([str(path) for path in paths])
    action = CommentAction(type=ActionType.COMMENT, body="see attached", document_ids=copies)
    return await service.act(row.reference, action)


def copies_kept(service: Any) -> list[Path]:
    root = service.store.attachments.root
    return sorted(root.iterdir()) if root.is_dir() else []


async def test_files_queued_offline_are_sent_from_their_copies_once_back_online(
    up: Server, services: Any, tmp_path: Path
) -> None:
    service, row = await synced(up, services)
    report, report_bytes = a_file(tmp_path, "report.pdf")
    scan, scan_bytes = a_file(tmp_path, "scan 2026 (final).png", size=40_000)
    up.stop()

    queued = await comment_with(service, row, [report, scan])
    assert not queued.sent
    [pending] = service.case_outbox(row.id)
    assert [f.name for f in pending.attachments] == ["report.pdf", "scan 2026 (final).png"]
    report.unlink()  # the reviewer tidies up: the copy queued with the comment is what goes
    scan.write_bytes(b"changed after queueing")

    up.start()
    result = await service.sync()
    assert result.push.sent == 1 and result.push.parked == 0
    with up.client(up.key("reviewer")) as reviewer:
        [entry] = entries_for(reviewer, row.id, queued.item.client_action_id)
        messages = all_pages(reviewer, f"/v1/cases/{row.id}/messages")
        [message] = [m for m in messages if m["body"] == "see attached"]
        sent = [Document.model_validate(d) for d in message["documents"]]
        assert [d.name for d in sent] == ["report.pdf", "scan 2026 (final).png"]
        assert [str(d.id) for d in sent] == entry["payload"]["document_ids"]
        for document, content in zip(sent, (report_bytes, scan_bytes), strict=True):
            answer = reviewer.get(f"/v1/documents/{document.id}/content")
            assert answer.content == content
    assert documents_with(up, report_bytes) == 1 and documents_with(up, scan_bytes) == 1
    assert copies_kept(service) == [], "the copies go once the comment is acknowledged"


class LosesFirstUploadAnswer:
    """The real client, except that the first upload's answer is lost after the server
    stored it — a connection cut between the commit and the reply (not producible on
    demand over loopback, so injected here; the upload itself really happens)."""

    def __init__(self, backend: Any) -> None:
        self._backend = backend
        self.uploads = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)

    async def upload_document(self, *args: Any, **kwargs: Any) -> Document:
        document: Document = await self._backend.upload_document(*args, **kwargs)
        self.uploads += 1
        if self.uploads == 1:
            raise ApiConnectionError("connection reset after the upload was stored")
        return document


async def test_an_upload_whose_answer_was_lost_is_repeated_as_the_same_document(
    up: Server, services: Any, tmp_path: Path
) -> None:
    service, row = await synced(up, services)
    path, content = a_file(tmp_path, "contract.pdf")
    service.backend = LosesFirstUploadAnswer(service.backend)

    queued = await comment_with(service, row, [path])
    item = service.store.outbox.get(queued.item.id)
    assert item.state is OutboxState.QUEUED and item.last_error.code == "unreachable"
    assert documents_with(up, content) == 1, "the server has the file; the client does not know"

    result = await service.sync()
    assert result.push.sent == 1
    assert service.backend.uploads == 2, "the upload was sent again, with its key"
    assert documents_with(up, content) == 1, "and the server answered with the same document"
    with up.client(up.key("reviewer")) as reviewer:
        [entry] = entries_for(reviewer, row.id, queued.item.client_action_id)
    assert len(entry["payload"]["document_ids"]) == 1


async def test_a_damaged_copy_parks_the_comment_and_sends_nothing(
    up: Server, services: Any, tmp_path: Path
) -> None:
    service, row = await synced(up, services)
    path, content = a_file(tmp_path, "statement.pdf")
    up.stop()
    queued = await comment_with(service, row, [path])
    [copy] = [p for p in copies_kept(service) if p.suffix == ".bin"]
    copy.write_bytes(b"bit rot")
    up.start()

    result = await service.sync()
    item = service.store.outbox.get(queued.item.id)
    assert item.park_reason is ParkReason.REJECTED and result.push.sent == 0
    assert item.last_error is not None and "statement.pdf" in item.last_error.message
    assert item.last_error.details[0].path == "document_ids"
    assert documents_with(up, content) == 0
    with up.client(up.key("reviewer")) as reviewer:
        assert entries_for(reviewer, row.id, queued.item.client_action_id) == []


async def test_copies_of_a_discarded_comment_or_of_one_never_queued_are_removed(
    up: Server, services: Any, tmp_path: Path
) -> None:
    service, row = await synced(up, services)
    path, _ = a_file(tmp_path, "draft.txt")
    up.stop()
    queued = await comment_with(service, row, [path])
    assert len(copies_kept(service)) == 2  # the bytes and their record
    service.discard(queued.item.id)
    assert copies_kept(service) == []

    await service.stage_attachments([str(path)])  # a crash before the comment was queued
    assert len(copies_kept(service)) == 2
    data_dir = service.store.data_dir
    await services.close(service)
    again = services(up.base_url, up.key("reviewer"), data_dir=data_dir)
    assert copies_kept(again) == [], "nothing refers to it: gone at the next start"

"""`POST /v1/documents` (upload, size-limited) and `GET /v1/documents/{id}/content`."""

import hashlib
import os
import uuid
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, File, Request, Response, UploadFile
from fastapi.responses import FileResponse
from sqlalchemy import Connection, insert, select
from starlette.concurrency import run_in_threadpool

from casedesk.domain import limits
from casedesk.domain.base import format_timestamp
from casedesk.domain.envelope import Envelope
from casedesk.domain.records import Document
from casedesk.server.errors import ApiError, Text, bad_request, not_found
from casedesk.server.http import meta
from casedesk.server.idempotency import run_once
from casedesk.server.routes.common import (
    CallerDep,
    documented_idempotency_key,
    error_responses,
    v1_router,
)
from casedesk.server.schema import documents
from casedesk.server.serialize import document_wire
from casedesk.server.state import server_state

router = v1_router("documents")

CHUNK = 256 * 1024
DOCUMENTS_DIR = "documents"


async def _receive(upload: UploadFile, target: Path, max_bytes: int) -> tuple[int, str]:
    """Copy the upload to `target`, refusing it (413) as soon as it passes `max_bytes`."""
    digest = hashlib.sha256()
    size = 0
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        while chunk := await upload.read(CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise ApiError(413, "payload_too_large", limit=max_bytes)
            digest.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    return size, digest.hexdigest()


@router.post(
    "/documents",
    response_model=Envelope[Document],
    status_code=201,
    dependencies=[Depends(documented_idempotency_key)],
    responses=error_responses(400, 409, 413, 415, 422),
    summary="Upload a document",
)
async def upload_document(
    request: Request,
    caller: CallerDep,
    file: Annotated[UploadFile, File(description="The document (multipart field `file`).")],
) -> Response:
    """Store a document for the caller's organization; attach it to a comment by id."""
    state = server_state(request)
    form = await request.form()
    for field in form:
        if field != "file":
            raise bad_request(
                field,
                Text(f"unknown form field {field!r}", f"champ de formulaire inconnu {field!r}"),
            )
    name = (file.filename or "").strip() or "document"
    if len(name) > limits.DOCUMENT_NAME_MAX:
        raise bad_request(
            "file",
            Text(
                f"file name longer than {limits.DOCUMENT_NAME_MAX} characters",
                f"nom de fichier de plus de {limits.DOCUMENT_NAME_MAX} caractères",
            ),
        )
    content_type = file.content_type or "application/octet-stream"
    folder = state.data_dir / DOCUMENTS_DIR
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    staging = folder / f".upload-{uuid.uuid4()}"
    try:
        size, sha256 = await _receive(file, staging, state.document_max_bytes)

        def effect(connection: Connection) -> tuple[int, dict[str, Any]]:
            document_id = str(uuid.uuid4())
            row: dict[str, Any] = {
                "id": document_id,
                "organization_id": caller.organization_id,
                "uploaded_by_id": caller.user_id,
                "name": name,
                "size": size,
                "sha256": sha256,
                "content_type": content_type,
                "storage_path": f"{DOCUMENTS_DIR}/{document_id}",
                "created_at": format_timestamp(state.clock()),
            }
            os.replace(staging, state.data_dir / row["storage_path"])
            connection.execute(insert(documents).values(**row))
            return 201, {"data": document_wire(row), "meta": meta(request)}

        fingerprint_source = f"{name}\0{content_type}\0{sha256}".encode()
        return await run_in_threadpool(
            run_once,
            request=request,
            database=state.database,
            in_flight=state.in_flight,
            clock=state.clock,
            user_id=caller.user_id,
            canonical_body=fingerprint_source,
            effect=effect,
        )
    finally:
        staging.unlink(missing_ok=True)


@router.get(
    "/documents/{document_id}/content",
    response_class=FileResponse,
    responses={
        200: {
            "description": "The document's bytes, in the media type it was uploaded with.",
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        },
        **error_responses(404),
    },
    summary="Download a document",
)
def document_content(request: Request, caller: CallerDep, document_id: str) -> Response:
    """The document's bytes, only within its organization."""
    state = server_state(request)
    with state.database.read() as connection:
        row = connection.execute(
            select(documents).where(
                documents.c.id == document_id.lower(),
                documents.c.organization_id == caller.organization_id,
            )
        ).first()
    if row is None:
        raise not_found("document")
    path = state.data_dir / row.storage_path
    if not path.is_file():
        raise not_found("document")
    return FileResponse(
        path,
        media_type=row.content_type,
        filename=row.name,
        headers={"X-Content-Type-Options": "nosniff", "X-Checksum-Sha256": row.sha256},
    )

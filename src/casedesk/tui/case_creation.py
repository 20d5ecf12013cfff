"""A new case from its form, into the outbox and to the API: one way for `N` and for a correction.

The queue's new-case form and the correction of a case the API refused (`e` in the
outbox) end the same way: the case is queued durably (the correction replaces the
refused item, as a new request), the form's draft is forgotten since the outbox now
holds the text, it is sent at once, and the reviewer is told what became of it.
"""

from typing import Any
from uuid import UUID

from textual.app import App

from casedesk.domain.create import NewCase
from casedesk.sync.service import CaseService, Queued
from casedesk.tui.screens.outbox import announce_cache_changed

TITLE = "New case"
"""The title of the notifications about a new case."""


async def queue_new_case(
    app: App[Any],
    service: CaseService,
    new_case: NewCase,
    *,
    draft: str,
    replacing: UUID | None = None,
) -> Queued | None:
    """Queue `new_case` (or, `replacing` a refused outbox item, the correction of it), forget
    the form's draft `draft`, send it and say what became of it; `None` if not queued."""
    try:
        if replacing is None:
            queued = await service.create_case(new_case, send=False)
        else:
            queued = await service.edit_create(replacing, new_case, send=False)
    except Exception as error:
        app.notify(f"Not queued: {error}", title=TITLE, severity="error", markup=False)
        return None
    await service.clear_draft(None, draft)
    queued = await service.deliver(queued)
    if queued.sent:
        app.notify(f"created: {new_case.name}", title=TITLE, markup=False)
    elif queued.item.state.value == "parked":
        app.notify(
            f"refused: {queued.error or 'refused by the API'}",
            title=TITLE,
            severity="error",
            timeout=12,
            markup=False,
        )
    else:
        reason = f" ({queued.error})" if queued.error else ""
        app.notify(
            f"queued: {new_case.name} — sent at the next sync{reason}",
            title=TITLE,
            severity="warning",
            markup=False,
        )
    announce_cache_changed(app)
    return queued

"""What the case screen's widgets share: the case they show, names of people, times, sizes.

Everything here returns plain `str` values; the widgets wrap them in
`rich.text.Text`, so no server text is ever read as markup.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from casedesk.domain.case import Case
from casedesk.domain.enums import SlaStatus
from casedesk.domain.people import User
from casedesk.domain.records import ActionLogEntry, Escalation, Message, Override
from casedesk.domain.sla import at_risk_from, sla_status
from casedesk.sync.service import PendingAction

NONE = "—"
SUMMARY_MAX = 200


class CaseView(Protocol):
    """A cached case and whatever details of it were fetched (`None`: never fetched)."""

    @property
    def case(self) -> Case: ...
    @property
    def messages(self) -> list[Message] | None: ...
    @property
    def escalations(self) -> list[Escalation] | None: ...
    @property
    def overrides(self) -> list[Override] | None: ...
    @property
    def actions(self) -> list[ActionLogEntry] | None: ...
    @property
    def fetched_at(self) -> datetime | None: ...
    @property
    def fetched(self) -> bool: ...
    @property
    def stale(self) -> bool: ...


class People:
    """Names of the organization's users by id; the signed-in reviewer is "(you)"."""

    def __init__(self, users: Iterable[User], me: User | None) -> None:
        self._names = {user.id: user.name for user in users}
        self._emails = {user.email.casefold(): user.id for user in users}
        self._me = me.id if me else None
        if me is not None:
            self._names.setdefault(me.id, me.name)

    def name(self, user_id: UUID | str | None, *, nobody: str = NONE) -> str:
        if user_id is None:
            return nobody
        try:
            key = user_id if isinstance(user_id, UUID) else UUID(str(user_id))
        except ValueError:
            return str(user_id)
        name = self._names.get(key)
        if name is None:
            return f"user {str(key)[:8]}"
        return f"{name} (you)" if key == self._me else name

    def by_email(self, email: str) -> str:
        """The name of the user with this email, or the email itself."""
        user_id = self._emails.get(email.casefold())
        return email if user_id is None else self.name(user_id)


@dataclass(frozen=True)
class CaseShown:
    """One case as the screen paints it, with the context every widget needs."""

    view: CaseView
    people: People
    now: datetime
    sla_hours: float | None
    loading: bool
    """A fetch of fresh details is under way."""
    fresh: bool
    """The details were fetched from the API since the screen opened this case."""
    online: bool | None
    position: int
    total: int
    pending: tuple[PendingAction, ...] = ()
    """The case's actions still in the outbox (pending or parked), oldest first."""

    @property
    def case(self) -> Case:
        return self.view.case

    @property
    def sla(self) -> SlaStatus:
        """Where the case stands against its deadline now (the clock moves; the cache does not)."""
        case = self.case
        if case.sla_deadline is None or self.sla_hours is None:
            return case.sla_status
        return sla_status(
            status=case.status,
            deadline=case.sla_deadline,
            at_risk_at=at_risk_from(case.sla_deadline, self.sla_hours),
            now=self.now,
            closed_at=case.closed_at,
        )


def sync_state(shown: CaseShown) -> tuple[str, str]:
    """What the header says about where the details come from, and its tone.

    Tones: `good` (fresh), `muted` (cached), `warn` (offline or never fetched).
    """
    view = shown.view
    if shown.fresh and not view.stale:
        return "fresh", "good"
    if not view.fetched:
        if shown.loading:
            return "details never fetched — loading…", "muted"
        if shown.online is False:
            return "offline — details never fetched", "warn"
        return "details never fetched", "warn"
    cached = f"cached {when(view.fetched_at, shown.now)}"
    if view.stale:
        cached += " (case changed since)"
    if shown.loading:
        return f"{cached} — refreshing…", "muted"
    if shown.online is False:
        return f"offline — {cached}", "warn"
    return cached, "muted"


def not_fetched(what: str, shown: CaseShown) -> str:
    """The sentence a tab shows instead of an empty list that was never fetched."""
    if shown.loading:
        return f"{what} not fetched yet — loading…"
    return f"{what} not fetched yet — it will load when the API is reachable."


def when(moment: datetime | None, now: datetime) -> str:
    """`09:14` today, `12 Jun 09:14` this year, `12 Jun 2024 09:14` before (local time)."""
    if moment is None:
        return NONE
    local = moment.astimezone()
    today = now.astimezone()
    if local.date() == today.date():
        return local.strftime("%H:%M")
    if local.year == today.year:
        return local.strftime("%d %b %H:%M")
    return local.strftime("%d %b %Y %H:%M")


def human_size(size: int) -> str:
    """`812 B`, `14.2 KB`, `3.4 MB` (powers of 1024)."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover - the loop always returns


def label(value: Any) -> str:
    """An enum member or value as a reviewer reads it: `in_progress` → `in progress`."""
    if value is None:
        return NONE
    return str(getattr(value, "value", value)).replace("_", " ")


def shorten(text: str, limit: int = SUMMARY_MAX) -> str:
    """The first line of `text`, cut to `limit` characters with an ellipsis."""
    lines = text.strip().splitlines()
    first = lines[0] if lines else ""
    more = len(lines) > 1
    if len(first) > limit:
        return first[: limit - 1] + "…"
    return first + (" …" if more else "")


def custom_value(value: Any) -> str:
    if value is None:
        return NONE
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or NONE
    return str(value)


def payload_summary(entry: ActionLogEntry, people: People) -> str:
    """A one-line reading of an action's payload (`comment: "Looks fine" +1 document`)."""
    payload: Mapping[str, Any] = entry.payload
    parts: list[str] = []
    for key in ("body", "reason", "prompt", "comment", "note", "name"):
        value = payload.get(key)
        if isinstance(value, str) and value.strip():
            parts.append(f"“{shorten(value, 80)}”")
            break
    for key in ("decision", "proposed_decision", "status"):
        value = payload.get(key)
        if isinstance(value, str):
            parts.append(f"{label(key)}: {label(value)}")
    if "assignee_id" in payload:
        parts.append(f"to {people.name(payload['assignee_id'], nobody='nobody')}")
    if payload.get("escalate_to"):
        parts.append(f"to {people.name(payload['escalate_to'])}")
    documents = payload.get("document_ids")
    if isinstance(documents, list) and documents:
        parts.append(f"+{len(documents)} document{'s' if len(documents) > 1 else ''}")
    reviewers = payload.get("reviewer_ids")
    if isinstance(reviewers, list) and reviewers:
        parts.append("reviewers: " + ", ".join(people.name(r) for r in reviewers))
    items = payload.get("escalations")
    if isinstance(items, list):
        parts.append(_escalation_items(items, people))
    return shorten(" · ".join(part for part in parts if part), SUMMARY_MAX)


def pending_state(pending: PendingAction) -> tuple[str, str]:
    """`pending` (not yet acknowledged) or `parked: <the API's reason>`, and its tone."""
    if pending.parked:
        named = "; ".join(
            f"{detail.path}: {detail.message}" if detail.path else detail.message
            for detail in pending.details
        )
        return f"parked: {named or pending.reason or 'waiting for you'}", "bad"
    return "pending", "warn"


def pending_summary(pending: PendingAction, people: People) -> str:
    """A one-line reading of an action still in the outbox (`close · decision: approve`)."""
    body = pending.action.model_dump(mode="json", exclude_none=True)
    parts = [label(pending.action.type)]
    for key in ("body", "reason", "prompt", "comment", "note"):
        value = body.get(key)
        if isinstance(value, str) and value.strip():
            parts.append(f"“{shorten(value, 60)}”")
            break
    for key in ("decision", "proposed_decision"):
        if isinstance(body.get(key), str):
            parts.append(f"{label(key)}: {label(body[key])}")
    if "assignee_id" in body:
        parts.append(f"to {people.name(body['assignee_id'], nobody='nobody')}")
    if body.get("escalate_to"):
        parts.append(f"to {people.name(body['escalate_to'])}")
    return shorten(" · ".join(parts), SUMMARY_MAX)


def _escalation_items(items: list[Any], people: People) -> str:
    changes: list[str] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        if item.get("note"):
            changes.append(f"note “{shorten(str(item['note']), 40)}”")
        if item.get("follow_up_due_at"):
            changes.append("follow-up set")
        if item.get("assigned_to_email"):
            changes.append(f"to {people.by_email(str(item['assigned_to_email']))}")
    count = len(items)
    head = f"{count} escalation{'s' if count != 1 else ''}"
    return f"{head}: {', '.join(changes)}" if changes else head

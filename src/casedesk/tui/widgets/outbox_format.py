"""How the console words an outbox item: its state, age, next try and last error.

The console may not import the store (import-linter), so the item is seen
through `OutboxEntry`, a read-only protocol that `OutboxItem` satisfies.
States and park reasons are `StrEnum`s there: they compare equal to their
wire values, which is all the console needs.
"""

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from rich.text import Text

from casedesk.domain.envelope import ErrorDetail

QUEUED = "queued"
SENDING = "sending"
PARKED = "parked"

PARK_REASONS = {
    "rejected": "rejected",
    "conflict": "conflict",
    "defect": "defect",
    "needs_credentials": "needs credentials",
}
"""Park reason -> the words the reviewer reads ("parked: needs credentials")."""

PARK_ADVICE = {
    "rejected": "The API refused this action. Edit it (e) or discard it (d).",
    "conflict": "The case changed since you saw it. Look at the case, then retry (r) or edit (e).",
    "defect": "The request was malformed (a casedesk bug). It is never resent as is: discard it.",
    "needs_credentials": "The API key was refused. Retry (r) once a key that works is set.",
}

ACTION_WORDS = {
    "comment": "comment",
    "escalate": "escalation",
    "update_escalation": "escalation update",
    "complete_escalation": "escalation completion",
    "request_override": "override request",
    "accept_override": "override acceptance",
    "refuse_override": "override refusal",
    "cancel_override": "override cancellation",
    "close": "close",
    "assign": "assignment",
    "query": "query",
    "resume": "resume",
    "reopen": "reopen",
    "create": "new case",
}
"""Action type -> a noun for sentences ("Discard the comment on CAS-000142?")."""


class ErrorView(Protocol):
    """The last failure of an item (`ItemError`)."""

    @property
    def code(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def details(self) -> Sequence[ErrorDetail]: ...
    @property
    def status(self) -> int | None: ...


class OutboxEntry(Protocol):
    """One outbox item as the console reads it (`OutboxItem` from the service)."""

    @property
    def id(self) -> UUID: ...
    @property
    def case_id(self) -> UUID | None: ...
    @property
    def case_reference(self) -> str | None: ...
    @property
    def type(self) -> str: ...
    @property
    def body(self) -> dict[str, Any]: ...
    @property
    def state(self) -> str: ...
    @property
    def attempts(self) -> int: ...
    @property
    def next_attempt_at(self) -> datetime | None: ...
    @property
    def retry_after(self) -> datetime | None: ...
    @property
    def last_error(self) -> ErrorView | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def park_reason(self) -> str | None: ...


def case_label(item: OutboxEntry) -> str:
    """`CAS-000142`, or `new case` for a case not created yet."""
    return item.case_reference or ("new case" if item.type == "create" else "unknown case")


def action_word(item: OutboxEntry) -> str:
    return ACTION_WORDS.get(item.type, item.type.replace("_", " "))


def is_parked(item: OutboxEntry) -> bool:
    return str(item.state) == PARKED


def is_pending(item: OutboxEntry) -> bool:
    return str(item.state) in (QUEUED, SENDING)


def can_discard(item: OutboxEntry) -> bool:
    """Parked or still queued; an item on the wire (`sending`) must finish first."""
    return str(item.state) in (QUEUED, PARKED)


def can_edit(item: OutboxEntry) -> bool:
    """Parked, or queued and never tried: the outbox refuses to edit anything else."""
    return is_parked(item) or (str(item.state) == QUEUED and item.attempts == 0)


def state_label(item: OutboxEntry) -> str:
    """`pending` (queued or sending) or `parked: <reason>`."""
    if is_parked(item):
        reason = str(item.park_reason or "")
        return f"parked: {PARK_REASONS.get(reason, reason.replace('_', ' '))}"
    return "pending"


def _span(seconds: float) -> str:
    """`40s`, `3m`, `2h`, `4d`: the largest whole unit."""
    whole = max(0, int(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m"
    if whole < 86_400:
        return f"{whole // 3600}h"
    return f"{whole // 86_400}d"


def age(moment: datetime, now: datetime) -> str:
    """`just now`, `40s ago`, `3m ago`, `2h ago`, `4d ago`."""
    seconds = (now - moment).total_seconds()
    if seconds < 5:
        return "just now"
    return f"{_span(seconds)} ago"


def next_try(item: OutboxEntry, now: datetime) -> str:
    """When the item goes out next: `now`, `in 40s`, `in 2m (Retry-After)`, or who must act."""
    state = str(item.state)
    if state == SENDING:
        return "sending…"
    if state == PARKED:
        return "when you retry"
    if item.retry_after is not None and item.retry_after > now:
        return f"in {_span((item.retry_after - now).total_seconds() + 0.999)} (Retry-After)"
    if item.next_attempt_at is not None and item.next_attempt_at > now:
        return f"in {_span((item.next_attempt_at - now).total_seconds() + 0.999)}"
    return "now"


def error_message(item: OutboxEntry) -> str:
    """The API's last message about the item, word for word."""
    return item.last_error.message if item.last_error is not None else ""


def error_paths(item: OutboxEntry) -> list[str]:
    """The fields the last error names (`escalations.0.escalation_id`), in its order."""
    if item.last_error is None:
        return []
    return list(dict.fromkeys(d.path for d in item.last_error.details if d.path))


def item_report(item: OutboxEntry, now: datetime) -> Text:
    """Everything about one item, for the details dialog: literal text, never markup."""
    report = Text()

    def line(label: str, value: str, style: str = "") -> None:
        report.append(f"{label:<12}", style="bold")
        report.append(value, style=style)
        report.append("\n")

    line("Case", case_label(item))
    line("Action", item.type)
    line("State", state_label(item), "bold yellow" if is_parked(item) else "")
    line(
        "Queued", f"{item.created_at.astimezone():%Y-%m-%d %H:%M:%S} ({age(item.created_at, now)})"
    )
    line("Attempts", str(item.attempts))
    line("Next try", next_try(item, now))
    if is_parked(item):
        report.append(PARK_ADVICE.get(str(item.park_reason), ""), style="italic")
        report.append("\n")
    error = item.last_error
    if error is not None:
        report.append("\nLast error\n", style="bold")
        status = f"HTTP {error.status}" if error.status is not None else "no answer"
        line("  Status", f"{status} · {error.code}")
        line("  Message", error.message)
        for detail in error.details:
            report.append(f"  {detail.path or '(request)'}: ", style="bold")
            report.append(f"{detail.message}\n")
    report.append("\nBody\n", style="bold")
    report.append(json.dumps(item.body, indent=2, ensure_ascii=False, sort_keys=True))
    return report

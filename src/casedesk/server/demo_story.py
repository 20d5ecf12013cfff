"""One demo case's story, simulated in memory.

Created, maybe assigned, chat, escalations, queries and resumes, overrides, maybe closed or
reopened: each event appends the rows the API would have written, so the action log,
revisions and summary counts agree.
"""

from __future__ import annotations

from collections.abc import Callable

from casedesk.server import demo_words as words
from casedesk.server.demo_draws import (
    DAY_US,
    HOUR_US,
    MINUTE_US,
    DemoDraws,
    DemoOrg,
    DemoUserRecord,
    Row,
    stamp,
)
from casedesk.server.schema import actions, escalations, messages, overrides

ESCALATION_TITLE_MAX = 80  # as the API titles escalations

Step = Callable[[int], None]
"""One event of a case's story, applied at an instant (microseconds since the epoch)."""


class CaseStory:
    """One case's life, told in order: each event appends the rows the API would have written."""

    def __init__(
        self, builder: DemoDraws, org: DemoOrg, *, reference: str, reporter: dict[str, str]
    ) -> None:
        self.builder = builder
        self.rng = builder.rng
        self.org = org
        self.case_id = builder.uuid()
        self.reference = reference
        self.reporter = reporter
        self.name = ""
        self.companies: list[Row] = []
        self.individuals: list[Row] = []
        self.status = "open"
        self.decision: str | None = None
        self.assignee: DemoUserRecord | None = None
        self.query_prompt: str | None = None
        self.paused_us: int | None = None
        self.closed_us: int | None = None
        self.revision = 0
        self.updated_us = 0
        self.messages_count = 0
        self.last_message_us: int | None = None
        self.open_escalations: list[Row] = []
        self.pending: Row | None = None
        self.awaiting = False
        self.paused_total_us = 0

    @property
    def open_escalations_count(self) -> int:
        return len(self.open_escalations)

    # Who acts

    def _worker(self) -> DemoUserRecord:
        """Mostly the assignee, otherwise anyone of the team."""
        if self.assignee is not None and self.rng.random() < 0.7:
            return self.assignee
        return self.rng.choice(self.org.users)

    def _reviewer(self) -> DemoUserRecord:
        if self.assignee is not None and self.assignee.is_reviewer and self.rng.random() < 0.8:
            return self.assignee
        return self.rng.choice(self.org.reviewers)

    # What every event writes

    def _log(self, kind: str, actor: DemoUserRecord, payload: Row, at: int) -> None:
        self.revision += 1
        self.updated_us = at
        self.builder.rows.add(
            actions,
            {
                "id": self.builder.uuid(),
                "case_id": self.case_id,
                "type": kind,
                "actor_id": actor.id,
                "client_action_id": None,
                "payload": payload,
                "case_revision": self.revision,
                "created_at": stamp(at),
            },
        )

    def _message(
        self, at: int, author_id: str | None, author_name: str, kind: str, body: str, ids: list[str]
    ) -> str:
        message_id = self.builder.uuid()
        self.builder.rows.add(
            messages,
            {
                "id": message_id,
                "case_id": self.case_id,
                "author_id": author_id,
                "author_name": author_name,
                "kind": kind,
                "body": body,
                "document_ids": ids,
                "created_at": stamp(at),
            },
        )
        self.messages_count += 1
        self.last_message_us = at
        return message_id

    def _attachments(self, at: int, uploader_id: str | None, chance: float) -> list[str]:
        if self.rng.random() >= chance:
            return []
        count = 1 if self.rng.random() < 0.75 else 2
        return [
            self.builder.document(
                at=at, uploader_id=uploader_id, org=self.org, reference=self.reference
            )
            for _ in range(count)
        ]

    # The events

    def create(self, at: int, status: str) -> None:
        self.status = status
        self._log(
            "create", self.rng.choice(self.org.users), {"name": self.name, "status": status}, at
        )

    def comment(self, at: int) -> None:
        actor = self._worker()
        body = self.rng.choice(words.USER_COMMENTS)
        document_ids = self._attachments(at, actor.id, 0.04)
        message_id = self._message(at, actor.id, actor.name, "message", body, document_ids)
        payload = {"body": body, "document_ids": document_ids, "message_id": message_id}
        self._log("comment", actor, payload, at)

    def reporter_message(self, at: int) -> None:
        """The other side writes in the chat: not an action, but the case is updated."""
        body = self.rng.choice(words.REPORTER_MESSAGES)
        document_ids = self._attachments(at, None, 0.12)
        self._message(at, None, self.reporter["name"], "message", body, document_ids)
        self.updated_us = at

    def escalate(self, at: int) -> None:
        rng = self.rng
        actor = self._worker()
        reason = rng.choice(words.ESCALATION_REASONS)
        others = [user for user in self.org.users if user is not actor]
        target = rng.choice(others).id if rng.random() < 0.7 else None
        escalation_id = self.builder.uuid()
        created = stamp(at)
        row: Row = {
            "id": escalation_id,
            "case_id": self.case_id,
            "type": "escalation",
            "title": reason.strip().splitlines()[0][:ESCALATION_TITLE_MAX],
            "reason": reason,
            "note": None,
            "follow_up_due_at": None,
            "assigned_to_user_id": target,
            "created_by_id": actor.id,
            "is_completed": False,
            "completed_at": None,
            "created_at": created,
            "updated_at": created,
        }
        self.builder.rows.add(escalations, row)
        self.open_escalations.append(row)
        payload = {"reason": reason, "escalate_to": target, "escalation_id": escalation_id}
        self._log("escalate", actor, payload, at)

    def update_escalation(self, at: int) -> None:
        rng = self.rng
        if not self.open_escalations:
            return self.comment(at)
        targets = self.open_escalations if rng.random() < 0.2 else self.open_escalations[-1:]
        items = []
        for row in targets:
            # The API logs every field of an item, null when not sent.
            item: Row = {
                "escalation_id": row["id"],
                "note": None,
                "follow_up_due_at": None,
                "assigned_to_email": None,
            }
            sent = False
            if rng.random() < 0.7:
                # A quick chase or a later check; many end up before `now`: overdue.
                soon = rng.random() < 0.4
                due = stamp(
                    at
                    + rng.randrange(*((MINUTE_US, 6 * HOUR_US) if soon else (HOUR_US, 4 * DAY_US)))
                )
                item["follow_up_due_at"] = row["follow_up_due_at"] = due
                sent = True
            if rng.random() < 0.25:
                user = rng.choice(self.org.users)
                item["assigned_to_email"] = user.email
                row["assigned_to_user_id"] = user.id
                sent = True
            if not sent or rng.random() < 0.6:
                item["note"] = row["note"] = rng.choice(words.ESCALATION_NOTES)
            row["updated_at"] = stamp(at)
            items.append(item)
        self._log("update_escalation", self._worker(), {"escalations": items}, at)
        return None

    def complete_escalation(self, at: int) -> None:
        if not self.open_escalations:
            return self.comment(at)
        row = self.open_escalations.pop()
        note = self.rng.choice(words.ESCALATION_NOTES) if self.rng.random() < 0.6 else None
        if note is not None:
            row["note"] = note
        row["is_completed"] = True
        row["completed_at"] = row["updated_at"] = stamp(at)
        self._log(
            "complete_escalation", self._worker(), {"escalation_id": row["id"], "note": note}, at
        )
        return None

    def request_override(self, at: int) -> None:
        rng = self.rng
        creator = self._worker()
        others = [user for user in self.org.reviewers if user.id != creator.id]
        reviewer_ids: list[str] = []
        if rng.random() < 0.5:
            reviewer_ids = [
                user.id for user in rng.sample(others, rng.randint(1, min(2, len(others))))
            ]
        override_id = self.builder.uuid()
        reason = rng.choice(words.OVERRIDE_REASONS)
        proposed = "approve" if rng.random() < 0.6 else "reject"
        row: Row = {
            "id": override_id,
            "case_id": self.case_id,
            "status": "pending",
            "creator_id": creator.id,
            "reason": reason,
            "proposed_decision": proposed,
            "reviewer_ids": reviewer_ids,
            "decided_by_id": None,
            "decision_comment": None,
            "created_at": stamp(at),
            "decided_at": None,
        }
        self.builder.rows.add(overrides, row)
        self.pending = row
        payload = {
            "reason": reason,
            "proposed_decision": proposed,
            "reviewer_ids": list(reviewer_ids),
            "override_id": override_id,
        }
        self._log("request_override", creator, payload, at)

    def _decider(self, override: Row) -> DemoUserRecord:
        """A reviewer allowed to decide: never the creator; one of `reviewer_ids` if any."""
        allowed = override["reviewer_ids"] or [user.id for user in self.org.reviewers]
        return self.rng.choice(
            [u for u in self.org.reviewers if u.id in allowed and u.id != override["creator_id"]]
        )

    def _decide(self, at: int, status: str, actor: DemoUserRecord, comment: str | None) -> Row:
        row = self.pending
        assert row is not None, "the plan decides only an override it requested"
        row["status"] = status
        row["decided_at"] = stamp(at)
        if status != "cancelled":  # the API records no decider for a cancellation
            row["decided_by_id"] = actor.id
            row["decision_comment"] = comment
        self.pending = None
        return row

    def accept_override(self, at: int) -> None:
        """Accepted: the override's decision closes the case."""
        row = self.pending
        assert row is not None, "the plan accepts only an override it requested"
        actor = self._decider(row)
        comment = self.rng.choice(words.ACCEPT_COMMENTS) if self.rng.random() < 0.5 else None
        self._decide(at, "accepted", actor, comment)
        self._closed(at, row["proposed_decision"])
        self._log("accept_override", actor, {"override_id": row["id"], "comment": comment}, at)

    def refuse_override(self, at: int) -> None:
        row = self.pending
        assert row is not None, "the plan refuses only an override it requested"
        actor = self._decider(row)
        comment = self.rng.choice(words.REFUSE_COMMENTS)
        self._decide(at, "refused", actor, comment)
        self._log("refuse_override", actor, {"override_id": row["id"], "comment": comment}, at)

    def cancel_override(self, at: int) -> None:
        row = self.pending
        assert row is not None, "the plan cancels only an override it requested"
        creator = next(user for user in self.org.users if user.id == row["creator_id"])
        self._decide(at, "cancelled", creator, None)
        self._log("cancel_override", creator, {"override_id": row["id"]}, at)

    def assign(self, at: int) -> None:
        actor = self.rng.choice(self.org.reviewers)
        assignee = actor if self.rng.random() < 0.4 else self.rng.choice(self.org.users)
        self._assign(at, actor, assignee)

    def reassign(self, at: int) -> None:
        others = [user for user in self.org.users if user is not self.assignee]
        self._assign(at, self.rng.choice(self.org.reviewers), self.rng.choice(others))

    def _assign(self, at: int, actor: DemoUserRecord, assignee: DemoUserRecord) -> None:
        self.assignee = assignee
        if self.status == "open":
            self.status = "in_progress"
        self._log("assign", actor, {"assignee_id": assignee.id}, at)

    def query(self, at: int) -> None:
        actor = self._worker()
        prompt = self.rng.choice(words.QUERY_PROMPTS)
        message_id = self._message(at, actor.id, actor.name, "query_prompt", prompt, [])
        self.status = "querying"
        self.query_prompt = prompt
        self.awaiting = True
        self.paused_us = at
        self._log("query", actor, {"prompt": prompt, "message_id": message_id}, at)

    def resume(self, at: int) -> None:
        comment = self.rng.choice(words.RESUME_COMMENTS) if self.rng.random() < 0.6 else None
        self.status = "in_progress"
        self.query_prompt = None
        self.awaiting = False
        if self.paused_us is not None:
            self.paused_total_us += at - self.paused_us
        self.paused_us = None
        self._log("resume", self._worker(), {"comment": comment}, at)

    def close(self, at: int) -> None:
        rng = self.rng
        decision = rng.choices(("approve", "reject", "none"), (55, 30, 15))[0]
        comment = rng.choice(words.CLOSE_COMMENTS) if rng.random() < 0.7 else None
        self._closed(at, decision)
        self._log("close", self._reviewer(), {"decision": decision, "comment": comment}, at)

    def _closed(self, at: int, decision: str) -> None:
        self.status = "closed"
        self.decision = decision
        self.closed_us = at
        self.query_prompt = None
        self.awaiting = False
        self.paused_us = None

    def reopen(self, at: int) -> None:
        comment = self.rng.choice(words.REOPEN_COMMENTS) if self.rng.random() < 0.7 else None
        self.status = "open"
        self.decision = None
        self.closed_us = None
        self._log("reopen", self._reviewer(), {"comment": comment}, at)

    # Who the case is about

    # Who the case is about

    def entities(self, *, company: bool) -> str:
        """Draw the case's companies and individuals and name it; return its entity category."""
        category, self.name, self.companies, self.individuals = self.builder.entities(
            company=company
        )
        return category

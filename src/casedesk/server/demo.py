"""Deterministic demo data for the case API (`casedesk serve --demo`).

Every case's story is simulated in memory (created, maybe assigned, chat,
escalations, queries, overrides, maybe closed), appending rows the way the API
would have written them, so the action log, revisions and summary counts agree.
All rows are then bulk-inserted in one write transaction. Only the API keys are
random; everything else follows from the seed and `now`.

`demo_draws` holds the records, fast helpers and organization setup; `demo_story`
tells each case's story.
"""

from __future__ import annotations

import gc
import json
import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from operator import itemgetter
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from casedesk.domain.base import format_timestamp
from casedesk.domain.sla import at_risk_from
from casedesk.server import demo_words as words
from casedesk.server.database import Database
from casedesk.server.demo_draws import (
    DAY_US,
    DOCUMENTS_DIR,
    EPOCH,
    HOUR_US,
    MINUTE_US,
    DemoDraws,
    DemoOrg,
    Row,
    stamp,
)
from casedesk.server.demo_story import CaseStory, Step
from casedesk.server.schema import (
    actions,
    api_keys,
    cases,
    custom_property_definitions,
    documents,
    escalations,
    messages,
    organizations,
    overrides,
    queues,
    tags,
    templates,
    users,
)

__all__ = ["DemoBuilder", "seed_demo", "stamp", "write_private_json"]

KEYS_FILE = "demo-keys.json"
SEEDING_CACHE_KIB = 256 * 1024

STATUSES = ("draft", "open", "in_progress", "querying", "closed")
STATUS_WEIGHTS = (4, 28, 34, 12, 22)
RISK_BANDS = {"low": (0, 39), "medium": (40, 69), "high": (70, 100)}
RISK_WEIGHTS = (55, 30, 15)


_INSERT_ORDER = (
    organizations,
    users,
    api_keys,
    queues,
    tags,
    custom_property_definitions,
    templates,
    cases,
    documents,
    messages,
    escalations,
    overrides,
    actions,
)


def seed_demo(
    database: Database,
    *,
    data_dir: Path,
    cases_per_org: int = 2000,
    seed: int = 0,
    now: datetime,
) -> Path:
    """Fill an empty database with two demo organizations; return the path of `demo-keys.json`.

    The same seed and `now` give the same rows (API keys aside, which are always fresh).
    """
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone, e.g. datetime.now(UTC)")
    if cases_per_org < 0:
        raise ValueError("cases_per_org must be 0 or more")
    if not database.is_empty():
        raise ValueError("the demo fills an empty database; this one already holds organizations")
    # Millions of acyclic rows: the cycle collector would rescan them again and again.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _seed(database, data_dir, cases_per_org, random.Random(seed), now)
    finally:
        if collecting:
            gc.enable()


def _seed(
    database: Database, data_dir: Path, cases_per_org: int, rng: random.Random, now: datetime
) -> Path:
    builder = DemoBuilder(rng, now)
    for spec in words.ORGANIZATIONS:
        org = builder.organization(spec)
        for number in range(1, cases_per_org + 1):
            builder.case(org, number)
    rows = builder.rows
    # Files first: written after SQLite has dirtied a large WAL, each one is throttled ~30x.
    written = _write_documents(data_dir / DOCUMENTS_DIR, rows.files)
    keys_path = data_dir / KEYS_FILE
    try:
        with database.write() as connection:
            if connection.execute(select(organizations.c.id).limit(1)).first() is not None:
                raise ValueError(
                    "the demo fills an empty database; this one already holds organizations"
                )
            with _page_cache(connection, SEEDING_CACHE_KIB):
                for table in _INSERT_ORDER:
                    table_rows = rows.tables.get(table.name, [])
                    if "case_id" in table.c:
                        # Grouped by case (stable: each case keeps its order), so the indexes
                        # that start with case_id grow at their end instead of at random.
                        table_rows = sorted(table_rows, key=itemgetter("case_id"))
                    if table_rows:
                        connection.execute(table.insert(), table_rows)
            # Before the commit: if it fails, no organization exists without its keys.
            write_private_json(keys_path, {"users": rows.keys})
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return keys_path


@contextmanager
def _page_cache(connection: Connection, kib: int) -> Iterator[None]:
    """A larger SQLite page cache for one bulk load, then the connection's own size again.

    Indexes on random UUIDs outgrow the default 2 MB at scale, costing ~20% more CPU.
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    previous = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    connection.exec_driver_sql(f"PRAGMA cache_size=-{int(kib)}")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size={int(previous or -2000)}")


def _write_documents(directory: Path, files: list[tuple[str, bytes]]) -> list[Path]:
    """Write the demo files; return those created here (the only ones a failure may remove)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in files:
        path = directory / name
        try:
            with path.open("xb") as file:
                file.write(content)
        except FileExistsError:
            continue  # left by an earlier run with this seed: same id, same bytes
        written.append(path)
    return written


def write_private_json(path: Path, value: Any) -> None:
    """Write JSON readable by its owner only (0600), atomically."""
    data = json.dumps(value, ensure_ascii=False, indent=2).encode("utf-8")
    temporary = path.with_name(path.name + ".tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        os.fchmod(file.fileno(), 0o600)
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


class DemoBuilder(DemoDraws):
    """Draws organizations and cases from one seeded random generator."""

    def case(self, org: DemoOrg, number: int) -> None:
        """Simulate one case's story and append its rows."""
        rng = self.rng
        queue_id, queue = rng.choices(org.queues, words.QUEUE_WEIGHTS)[0]
        status = rng.choices(STATUSES, STATUS_WEIGHTS)[0]
        sla_us = int(queue.sla_hours * HOUR_US)
        created_us, end_us = self._lifetime(status, sla_us)
        account_index = rng.randrange(len(org.accounts))
        story = CaseStory(
            self,
            org,
            reference=f"CAS-{number:06d}",
            reporter=rng.choice(org.reporters[account_index]),
        )
        entity_category = story.entities(company=rng.random() < queue.company_share)
        plan = self._plan(status, story)
        story.create(created_us, "draft" if status == "draft" else "open")
        span = end_us - created_us
        offsets = sorted(rng.randrange(1, span + 1) for _ in plan)
        for step, offset in zip(plan, offsets, strict=True):
            step(created_us + offset)
        tier = rng.choices(("low", "medium", "high"), RISK_WEIGHTS)[0]
        low, high = RISK_BANDS[tier]
        # As the API does: the deadline is set at creation and moved on by each paused spell.
        deadline_us = created_us + sla_us
        at_risk = at_risk_from(EPOCH + timedelta(microseconds=deadline_us), queue.sla_hours)
        deadline_us += story.paused_total_us
        at_risk += timedelta(microseconds=story.paused_total_us)
        open_case = story.status != "closed"
        alerts = rng.randint(1, 6) if queue.case_type == "Alert" else rng.choice((0, 0, 0, 0, 1, 2))
        row: Row = {
            "id": story.case_id,
            "organization_id": org.id,
            "reference": story.reference,
            "name": story.name,
            "name_key": story.name.casefold(),
            "type": queue.case_type,
            "status": story.status,
            "decision": story.decision,
            "entity_category": entity_category,
            "queue_id": queue_id,
            "assignee_id": story.assignee.id if story.assignee else None,
            "reporter": story.reporter,
            "account": org.accounts[account_index],
            "sla_deadline": stamp(deadline_us),
            "sla_at_risk_at": format_timestamp(at_risk),
            "sla_paused_at": stamp(story.paused_us) if story.paused_us is not None else None,
            "risk_tier": tier,
            "risk_score": rng.randint(low, high),
            "open_alerts_count": alerts if open_case else 0,
            "awaiting": story.awaiting,
            "query_prompt": story.query_prompt,
            "parameters": self._parameters(),
            "tag_ids": rng.sample(org.tag_ids, rng.choice((0, 0, 1, 1, 1, 2, 3))),
            "metadata": self._metadata(),
            "custom_properties": self._custom_properties(),
            "companies": story.companies,
            "individuals": story.individuals,
            "external_id": f"{org.spec.external_prefix}-{number:07d}"
            if rng.random() < 0.6
            else None,
            "template_key": rng.choice(org.template_keys) if rng.random() < 0.5 else None,
            "revision": story.revision,
            "created_at": stamp(created_us),
            "updated_at": stamp(story.updated_us),
            "closed_at": stamp(story.closed_us) if story.closed_us is not None else None,
            "open_escalations_count": story.open_escalations_count,
            "pending_override_id": story.pending["id"] if story.pending else None,
            "messages_count": story.messages_count,
            "last_message_at": stamp(story.last_message_us)
            if story.last_message_us is not None
            else None,
        }
        self.rows.add(cases, row)

    def _lifetime(self, status: str, sla_us: int) -> tuple[int, int]:
        """When the case was created, and when its last event happened."""
        rng, now = self.rng, self.now_us
        if status == "closed":
            age = int(sla_us * rng.uniform(0.5, 10.0)) + rng.randrange(20 * DAY_US)
            worked = min(int(sla_us * rng.uniform(0.2, 1.4)), age - MINUTE_US)
            return now - age, now - age + worked
        if status == "querying":
            factor = rng.uniform(0.2, 2.5)
        else:
            # SLA mix: about a fifth breached, a fifth at risk, the rest on track.
            draw = rng.random()
            if draw < 0.22:
                factor = rng.uniform(1.05, 3.0)
            elif draw < 0.4:
                factor = rng.uniform(0.77, 0.97)
            else:
                factor = rng.uniform(0.03, 0.7)
        age = max(int(sla_us * factor), 2 * MINUTE_US)
        return now - age, now - rng.randrange(age // 10 + 1)

    def _plan(self, status: str, story: CaseStory) -> list[Step]:
        """The events after creation that lead to `status`, in order."""
        rng = self.rng
        budget = self._chat_budget()
        if status == "draft":
            return [story.comment] * min(budget, 2)
        reopened = status == "open" and rng.random() < 0.25
        worked = status != "open" or reopened
        settled = status == "closed" or reopened  # everything resolved before the close
        first = rng.randint(0, budget)
        plan: list[Step] = [story.assign] if worked else []
        plan += self._chat(story, first)
        for _ in range(rng.choice((1, 1, 1, 2)) if rng.random() < (0.3 if worked else 0.1) else 0):
            plan += self._escalation(story, complete=True if settled else None)
        if status in ("in_progress", "closed") and rng.random() < 0.25:
            plan += [story.query, story.reporter_message, story.resume]
        closing: Step = story.close
        if rng.random() < (0.35 if settled else 0.2 if worked else 0.06):
            if rng.random() < 0.2:
                plan += self._override(story, rng.choice(("refused", "cancelled")))
            outcome: str | None
            if settled:
                outcome = rng.choices(("accepted", "refused", "cancelled"), (50, 30, 20))[0]
            else:
                outcome = rng.choices((None, "refused", "cancelled"), (50, 30, 20))[0]
            if outcome == "accepted":
                # Accepting an override applies its decision: that closes the case.
                plan += self._override(story, None)
                closing = story.accept_override
            else:
                plan += self._override(story, outcome)
        plan += self._chat(story, budget - first)
        if settled:
            plan.append(closing)
        if reopened:
            plan.append(story.reopen)
            plan += self._chat(story, rng.randint(0, 1))
        elif status == "querying":
            plan.append(story.query)
        elif status == "in_progress" and rng.random() < 0.1:
            plan.append(story.reassign)
        return plan

    def _chat_budget(self) -> int:
        draw = self.rng.random()
        if draw < 0.1:
            return 0
        if draw < 0.5:
            return self.rng.randint(1, 3)
        if draw < 0.97:
            return self.rng.randint(4, 8)
        return self.rng.randint(12, 30)  # a few long conversations

    def _chat(self, story: CaseStory, count: int) -> list[Step]:
        rng = self.rng
        return [
            story.comment if rng.random() < 0.55 else story.reporter_message for _ in range(count)
        ]

    def _escalation(self, story: CaseStory, *, complete: bool | None) -> list[Step]:
        rng = self.rng
        steps: list[Step] = [story.escalate]
        if rng.random() < 0.6:
            steps.append(story.update_escalation)
        if complete or (complete is None and rng.random() < 0.45):
            steps.append(story.complete_escalation)
        return steps

    def _override(self, story: CaseStory, outcome: str | None) -> list[Step]:
        """Request an override; refuse or cancel it (`None`: it stays pending)."""
        steps: list[Step] = [story.request_override]
        if self.rng.random() < 0.4:
            steps.append(story.comment)
        if outcome == "refused":
            steps.append(story.refuse_override)
        elif outcome == "cancelled":
            steps.append(story.cancel_override)
        return steps

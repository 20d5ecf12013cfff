"""Deterministic demo data for the case API (`casedesk serve --demo`).

Every case's story is simulated in memory (created, maybe assigned, chat,
escalations, queries, overrides, maybe closed), appending rows the way the API
would have written them, so the action log, revisions and summary counts agree.
All rows are then bulk-inserted in one write transaction. Only the API keys are
random; everything else follows from the seed and `now`.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import random
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from operator import itemgetter
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, select

from casedesk.domain.base import format_timestamp
from casedesk.domain.sla import at_risk_from
from casedesk.server import demo_words as words
from casedesk.server.database import Database
from casedesk.server.keys import hash_api_key, new_api_key
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

KEYS_FILE = "demo-keys.json"
SEEDING_CACHE_KIB = 256 * 1024
DOCUMENTS_DIR = "documents"

MINUTE_US = 60_000_000
HOUR_US = 60 * MINUTE_US
DAY_US = 24 * HOUR_US
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# RFC 4122 variant and version 4 bits, as `uuid.UUID(int=..., version=4)` sets them.
_UUID_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
_UUID_SET = (0x8000 << 48) | (4 << 76)

STATUSES = ("draft", "open", "in_progress", "querying", "closed")
STATUS_WEIGHTS = (4, 28, 34, 12, 22)
RISK_BANDS = {"low": (0, 39), "medium": (40, 69), "high": (70, 100)}
RISK_WEIGHTS = (55, 30, 15)
ESCALATION_TITLE_MAX = 80  # as the API titles escalations
RELATION_ROLES = ("shareholder", "beneficial_owner", "legal_representative", "director")

Row = dict[str, Any]
Step = Callable[[int], None]
"""One event of a case's story, applied at an instant (microseconds since the epoch)."""


def stamp(us: int) -> str:
    """Microseconds since the epoch, exactly as `format_timestamp` writes them, ~3x faster.

    A demo writes a few million instants; the tests check both agree.
    """
    day, rest = divmod(us, DAY_US)
    seconds, micro = divmod(rest, 1_000_000)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    return f"{_day_prefix(day)}{hours:02d}:{minutes:02d}:{seconds:02d}.{micro:06d}Z"


@lru_cache(maxsize=4096)
def _day_prefix(day: int) -> str:
    return format_timestamp(_EPOCH + timedelta(days=day))[:11]  # "2025-06-15T"


@dataclass(frozen=True)
class DemoUserRecord:
    """A user of the demo, as the stories pick actors from."""

    id: str
    name: str
    email: str
    roles: tuple[str, ...]

    @property
    def is_reviewer(self) -> bool:
        return "reviewer" in self.roles


@dataclass
class DemoOrg:
    """One demo organization and what its cases draw from."""

    id: str
    spec: words.DemoOrganization
    users: list[DemoUserRecord]
    queues: list[tuple[str, words.DemoQueue]]
    tag_ids: list[str]
    template_keys: list[str]
    accounts: list[dict[str, str]]
    reporters: list[list[dict[str, str]]]  # per account

    @property
    def reviewers(self) -> list[DemoUserRecord]:
        return [user for user in self.users if user.is_reviewer]


@dataclass
class DemoRows:
    """Everything to insert, per table, plus the files to write."""

    tables: dict[str, list[Row]] = field(default_factory=dict)
    files: list[tuple[str, bytes]] = field(default_factory=list)
    keys: list[dict[str, Any]] = field(default_factory=list)

    def add(self, table: Table, row: Row) -> None:
        self.tables.setdefault(table.name, []).append(row)


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


class DemoBuilder:
    """Draws organizations and cases from one seeded random generator."""

    def __init__(self, rng: random.Random, now: datetime) -> None:
        self.rng = rng
        self.now_us = (now - _EPOCH) // timedelta(microseconds=1)
        self.now_stamp = stamp(self.now_us)
        self.rows = DemoRows()

    def uuid(self) -> str:
        """A version 4 UUID drawn from the seeded generator: `str(uuid.UUID(int=…, version=4))`."""
        bits = self.rng.getrandbits(128) & _UUID_CLEAR | _UUID_SET
        text = f"{bits:032x}"
        return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"

    def short_id(self, prefix: str) -> str:
        """An id shaped like the reference platforms' (`ACC-1234-5678`)."""
        rng = self.rng
        return f"{prefix}-{rng.randrange(1000, 10000)}-{rng.randrange(1000, 10000)}"

    def organization(self, spec: words.DemoOrganization) -> DemoOrg:
        rng, add = self.rng, self.rows.add
        org_id = self.uuid()
        add(organizations, {"id": org_id, "name": spec.name})
        people: list[DemoUserRecord] = []
        for person in spec.users:
            user = DemoUserRecord(
                self.uuid(), person.name, f"{person.email_local}@{spec.email_domain}", person.roles
            )
            people.append(user)
            add(users, _user_row(user, org_id))
            key = new_api_key()
            add(
                api_keys,
                {"key_hash": hash_api_key(key), "user_id": user.id, "created_at": self.now_stamp},
            )
            self.rows.keys.append(
                {
                    "name": user.name,
                    "email": user.email,
                    "organization": {"id": org_id, "name": spec.name},
                    "roles": list(user.roles),
                    "api_key": key,
                }
            )
        queue_ids = []
        for position, queue in enumerate(words.QUEUES):
            queue_id = self.uuid()
            queue_ids.append((queue_id, queue))
            add(queues, _queue_row(queue_id, org_id, queue, position))
        tag_ids = []
        for label in words.TAGS:
            tag_id = self.uuid()
            tag_ids.append(tag_id)
            add(
                tags,
                {
                    "id": tag_id,
                    "organization_id": org_id,
                    "label": label,
                    "label_key": label.casefold(),
                },
            )
        for key, value_type, archived in words.CUSTOM_PROPERTIES:
            add(
                custom_property_definitions,
                {
                    "organization_id": org_id,
                    "key": key,
                    "value_type": value_type,
                    "archived": archived,
                },
            )
        for key, name in words.TEMPLATES:
            add(templates, {"id": self.uuid(), "organization_id": org_id, "key": key, "name": name})
        accounts = [{"id": self.short_id("ACC"), "name": name} for name in words.ACCOUNT_NAMES]
        reporters = [
            [
                {
                    "id": self.short_id("USR"),
                    "name": f"{rng.choice(words.REPORTER_FIRST_NAMES)} "
                    f"{rng.choice(words.REPORTER_LAST_NAMES)}",
                }
                for _ in range(rng.randint(1, 3))
            ]
            for _ in accounts
        ]
        return DemoOrg(
            org_id,
            spec,
            people,
            queue_ids,
            tag_ids,
            [key for key, _ in words.TEMPLATES],
            accounts,
            reporters,
        )

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
        at_risk = at_risk_from(_EPOCH + timedelta(microseconds=deadline_us), queue.sla_hours)
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

    def _parameters(self) -> list[Row]:
        rng = self.rng
        chosen = rng.sample(words.PARAMETERS, rng.choice((0, 1, 1, 2, 3)))
        return [
            {
                "id": self.short_id("PAR"),
                "name": name,
                "scope": scope,
                "phase": phase,
                "constraints": {"visible_to_reporter": rng.random() < 0.7},
                "external_id": f"ext-id-{rng.randrange(1000, 10000)}"
                if rng.random() < 0.5
                else None,
                "value": rng.choice(values),
            }
            for name, scope, phase, values in chosen
        ]

    def _metadata(self) -> dict[str, str]:
        rng = self.rng
        result: dict[str, str] = {}
        for key, values in rng.sample(words.METADATA_KEYS, rng.choice((0, 1, 2, 3))):
            result[key] = rng.choice(values) if values else f"CRM-{rng.randrange(10**5, 10**6)}"
        return result

    def _custom_properties(self) -> dict[str, Any]:
        rng = self.rng
        result: dict[str, Any] = {}
        if rng.random() < 0.6:
            result["tier"] = rng.choice(words.TIERS)
        if rng.random() < 0.5:
            result["pep"] = rng.random() < 0.15
        if rng.random() < 0.4:
            result["sources"] = rng.sample(words.SOURCES, rng.randint(1, 3))
        if rng.random() < 0.5:
            result["score"] = round(rng.uniform(0, 100), 1)
        return result

    def document(self, *, at: int, uploader_id: str | None, org: DemoOrg, reference: str) -> str:
        """Store one small demo file and its row; return the document id."""
        rng = self.rng
        name, content_type = rng.choice(words.DEMO_DOCUMENTS)
        document_id = self.uuid()
        content = words.document_bytes(name, content_type, org.spec.name, reference)
        self.rows.files.append((document_id, content))
        self.rows.add(
            documents,
            {
                "id": document_id,
                "organization_id": org.id,
                "uploaded_by_id": uploader_id,
                "name": name,
                "size": len(content),
                "sha256": hashlib.sha256(content).hexdigest(),
                "content_type": content_type,
                "storage_path": f"{DOCUMENTS_DIR}/{document_id}",
                "created_at": stamp(at - rng.randrange(1, 120_000_000)),
            },
        )
        return document_id


def _user_row(user: DemoUserRecord, org_id: str) -> Row:
    return {
        "id": user.id,
        "organization_id": org_id,
        "name": user.name,
        "email": user.email,
        "roles": list(user.roles),
        "assignable": True,
    }


def _queue_row(queue_id: str, org_id: str, queue: words.DemoQueue, position: int) -> Row:
    return {
        "id": queue_id,
        "organization_id": org_id,
        "name": queue.name,
        "workflow": queue.workflow,
        "sla_hours": queue.sla_hours,
        "position": position,
    }


class CaseStory:
    """One case's life, told in order: each event appends the rows the API would have written."""

    def __init__(
        self, builder: DemoBuilder, org: DemoOrg, *, reference: str, reporter: dict[str, str]
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

    def entities(self, *, company: bool) -> str:
        """Draw the case's companies and individuals and name it; return its entity category."""
        rng = self.rng
        unowned: dict[str, float] = defaultdict(lambda: 100.0)  # per company ref
        if company:
            self.name = words.company_name(rng)
            self.companies = [self._company("main", "main", self.name)]
            for index in range(rng.choice((0, 0, 1, 1, 2, 3))):
                self.companies.append(
                    self._company(f"aff-{index + 1}", "affiliated", words.company_name(rng))
                )
            for _ in range(rng.choice((0, 1, 1, 2, 2, 3, 4))):
                relations = [self._relation("main", unowned)]
                if len(self.companies) > 1 and rng.random() < 0.3:
                    ref = rng.choice(self.companies[1:])["ref"]
                    relations.append(self._relation(ref, unowned))
                self.individuals.append(self._person(*words.person_name(rng), relations))
            return "company"
        # The API calls any case with a company a company case: an individual's case has none.
        first, last = words.person_name(rng)
        self.individuals = [self._person(first, last, [])]
        self.name = f"{first} {last}"
        return "individual"

    def _company(self, ref: str, kind: str, name: str) -> Row:
        rng = self.rng
        country = rng.choice(words.COUNTRIES)
        number = f"{country}{rng.randrange(10**7, 10**9)}" if rng.random() < 0.9 else None
        return {
            "id": self.builder.uuid(),
            "ref": ref,
            "type": kind,
            "name": name,
            "registration_number": number,
            "country": country,
        }

    def _relation(self, company_ref: str, unowned: dict[str, float]) -> Row:
        """A role in one company; owners take a share of what is left, so shares add up."""
        rng = self.rng
        roles = rng.sample(RELATION_ROLES, rng.choice((1, 1, 2)))
        share = None
        if ("shareholder" in roles or "beneficial_owner" in roles) and unowned[company_ref] >= 1:
            share = round(unowned[company_ref] * rng.uniform(0.2, 0.8), 2)
            unowned[company_ref] -= share
        return {"source_company_ref": company_ref, "roles": roles, "ownership_percentage": share}

    def _person(self, first: str, last: str, relations: list[Row]) -> Row:
        rng = self.rng
        birth = None
        if rng.random() < 0.9:
            birth = f"{rng.randint(1945, 2004)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        return {
            "id": self.builder.uuid(),
            "first_name": first,
            "last_name": last,
            "birth_date": birth,
            "email": words.person_email(rng, first, last) if rng.random() < 0.5 else None,
            "relations": relations,
        }

"""What the demo draws from: its records, fast helpers and each organization's setup.

`DemoDraws` holds the seeded random generator and the rows drawn so far; it sets up an
organization (users, keys, queues, tags, properties, templates, accounts, reporters), stores
documents and draws who a case is about. `demo_story` tells each case's story with it.
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Table

from casedesk.domain.base import format_timestamp
from casedesk.server import demo_words as words
from casedesk.server.keys import hash_api_key, new_api_key
from casedesk.server.schema import (
    api_keys,
    custom_property_definitions,
    documents,
    organizations,
    queues,
    tags,
    templates,
    users,
)

DOCUMENTS_DIR = "documents"

MINUTE_US = 60_000_000
HOUR_US = 60 * MINUTE_US
DAY_US = 24 * HOUR_US
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# RFC 4122 variant and version 4 bits, as `uuid.UUID(int=..., version=4)` sets them.
_UUID_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
_UUID_SET = (0x8000 << 48) | (4 << 76)
RELATION_ROLES = ("shareholder", "beneficial_owner", "legal_representative", "director")

Row = dict[str, Any]


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
    return format_timestamp(EPOCH + timedelta(days=day))[:11]  # "2025-06-15T"


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


class DemoDraws:
    """One seeded random generator, the rows drawn so far, and what cases share."""

    def __init__(self, rng: random.Random, now: datetime) -> None:
        self.rng = rng
        self.now_us = (now - EPOCH) // timedelta(microseconds=1)
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

    # Who a case is about

    def entities(self, *, company: bool) -> tuple[str, str, list[Row], list[Row]]:
        """Draw a case's companies and individuals and name it.

        Return its entity category, name, companies and individuals.
        """
        rng = self.rng
        unowned: dict[str, float] = defaultdict(lambda: 100.0)  # per company ref
        companies: list[Row] = []
        individuals: list[Row] = []
        if company:
            name = words.company_name(rng)
            companies = [self._company("main", "main", name)]
            for index in range(rng.choice((0, 0, 1, 1, 2, 3))):
                companies.append(
                    self._company(f"aff-{index + 1}", "affiliated", words.company_name(rng))
                )
            for _ in range(rng.choice((0, 1, 1, 2, 2, 3, 4))):
                relations = [self._relation("main", unowned)]
                if len(companies) > 1 and rng.random() < 0.3:
                    ref = rng.choice(companies[1:])["ref"]
                    relations.append(self._relation(ref, unowned))
                individuals.append(self._person(*words.person_name(rng), relations))
            return "company", name, companies, individuals
        # The API calls any case with a company a company case: an individual's case has none.
        first, last = words.person_name(rng)
        individuals = [self._person(first, last, [])]
        return "individual", f"{first} {last}", companies, individuals

    def _company(self, ref: str, kind: str, name: str) -> Row:
        rng = self.rng
        country = rng.choice(words.COUNTRIES)
        number = f"{country}{rng.randrange(10**7, 10**9)}" if rng.random() < 0.9 else None
        return {
            "id": self.uuid(),
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
            "id": self.uuid(),
            "first_name": first,
            "last_name": last,
            "birth_date": birth,
            "email": words.person_email(rng, first, last) if rng.random() < 0.5 else None,
            "relations": relations,
        }

    # What a case carries

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

"""The demo data: deterministic, and as consistent as if the API had written it."""

import hashlib
import json
import random
import stat
import unicodedata
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, select

from casedesk.domain.base import format_timestamp, parse_timestamp
from casedesk.domain.case import Case, Company, Individual, Parameter
from casedesk.domain.enums import CaseStatus
from casedesk.domain.records import ActionLogEntry, Escalation, Message, Override
from casedesk.domain.sla import at_risk_from, sla_status
from casedesk.server import schema
from casedesk.server.database import Database
from casedesk.server.demo import DemoBuilder, seed_demo, stamp
from casedesk.server.keys import hash_api_key

NOW = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)
CASES_PER_ORG = 150  # enough for every status, outcome and kind of hostile text to occur
RISK_BANDS = {"low": (0, 39), "medium": (40, 69), "high": (70, 100)}

Rows = list[dict[str, Any]]


def _seed(
    directory: Path, *, seed: int = 3, cases_per_org: int = CASES_PER_ORG
) -> tuple[Database, Path]:
    database = Database.in_directory(directory)
    keys = seed_demo(database, data_dir=directory, cases_per_org=cases_per_org, seed=seed, now=NOW)
    return database, keys


def _rows(database: Database, table: Table) -> Rows:
    order = [table.c.seq] if "seq" in table.c else list(table.primary_key.columns)
    with database.read() as connection:
        return [dict(row._mapping) for row in connection.execute(select(table).order_by(*order))]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Database, Path, Path]]:
    directory = tmp_path_factory.mktemp("demo")
    database, keys = _seed(directory)
    yield database, directory, keys
    database.dispose()


@pytest.fixture(scope="module")
def tables(demo: tuple[Database, Path, Path]) -> dict[str, Rows]:
    database = demo[0]
    return {table.name: _rows(database, table) for table in schema.metadata.sorted_tables}


def _by_case(rows: Rows) -> dict[str, Rows]:
    grouped: dict[str, Rows] = defaultdict(list)
    for row in rows:
        grouped[row["case_id"]].append(row)
    return grouped


# Determinism


def test_the_same_seed_gives_the_same_data_and_another_seed_other_data(tmp_path: Path) -> None:
    first, _ = _seed(tmp_path / "a", cases_per_org=40)
    second, _ = _seed(tmp_path / "b", cases_per_org=40)
    third, _ = _seed(tmp_path / "c", seed=4, cases_per_org=40)
    compared = [t for t in schema.metadata.sorted_tables if t.name not in {"api_keys"}]
    for table in compared:
        assert _rows(first, table) == _rows(second, table), table.name
    assert _rows(first, schema.cases) != _rows(third, schema.cases)
    first_files = sorted(p.name for p in (tmp_path / "a" / "documents").iterdir())
    assert first_files == sorted(p.name for p in (tmp_path / "b" / "documents").iterdir())
    for database in (first, second, third):
        database.dispose()


def test_fast_helpers_match_the_standard_formats() -> None:
    builder, reference = DemoBuilder(random.Random(9), NOW), random.Random(9)
    for _ in range(2000):
        assert builder.uuid() == str(uuid.UUID(int=reference.getrandbits(128), version=4))
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    draws = random.Random(1)
    for _ in range(2000):
        us = draws.randrange(0, 4_000_000_000_000_000)
        assert stamp(us) == format_timestamp(epoch + timedelta(microseconds=us))


def test_a_database_that_holds_data_is_refused(demo: tuple[Database, Path, Path]) -> None:
    database, directory, _ = demo
    with pytest.raises(ValueError, match="empty database"):
        seed_demo(database, data_dir=directory, cases_per_org=1, now=NOW)


# Cases


def _wire_case(row: dict[str, Any], tables: dict[str, Rows]) -> dict[str, Any]:
    """The case as the API would show it, from its row and the rows it points at."""
    queue = next(q for q in tables["queues"] if q["id"] == row["queue_id"])
    users = {u["id"]: u for u in tables["users"]}
    tags = {t["id"]: t for t in tables["tags"]}
    assignee = users.get(row["assignee_id"]) if row["assignee_id"] else None
    status = CaseStatus(row["status"])

    def instant(text: str | None) -> datetime | None:
        return parse_timestamp(text) if text else None

    return {
        **{k: row[k] for k in ("id", "reference", "name", "type", "status", "decision")},
        "entity_category": row["entity_category"],
        "queue": {"id": queue["id"], "name": queue["name"], "workflow": queue["workflow"]},
        "assignee": assignee
        and {"id": assignee["id"], "name": assignee["name"], "email": assignee["email"]},
        "reporter": row["reporter"],
        "account": row["account"],
        "sla_deadline": row["sla_deadline"],
        "sla_status": sla_status(
            status=status,
            deadline=instant(row["sla_deadline"]),
            at_risk_at=instant(row["sla_at_risk_at"]),
            now=NOW,
            closed_at=instant(row["closed_at"]),
        ),
        **{
            k: row[k]
            for k in (
                "risk_tier",
                "risk_score",
                "open_alerts_count",
                "awaiting",
                "query_prompt",
                "parameters",
                "metadata",
                "custom_properties",
                "companies",
                "individuals",
                "external_id",
                "template_key",
                "revision",
                "created_at",
                "updated_at",
                "closed_at",
            )
        },
        "total_entities_count": len(row["companies"]) + len(row["individuals"]),
        "tags": [{"id": t, "label": tags[t]["label"]} for t in row["tag_ids"]],
        "summary": {
            k: row[k]
            for k in (
                "open_escalations_count",
                "pending_override_id",
                "messages_count",
                "last_message_at",
            )
        },
    }


def test_every_case_is_a_valid_wire_case(tables: dict[str, Rows]) -> None:
    for row in tables["cases"]:
        Case.model_validate(_wire_case(row, tables))
    assert len(tables["cases"]) == 2 * CASES_PER_ORG


def test_cases_cover_every_status_with_decisions_only_when_closed(tables: dict[str, Rows]) -> None:
    cases = tables["cases"]
    statuses = Counter(c["status"] for c in cases)
    assert set(statuses) == {s.value for s in CaseStatus}
    assert statuses["open"] + statuses["in_progress"] > len(cases) / 2
    assert 0.1 < statuses["closed"] / len(cases) < 0.35
    for case in cases:
        closed = case["status"] == "closed"
        assert (case["decision"] is not None) == closed
        assert (case["closed_at"] is not None) == closed
        if case["status"] == "in_progress":
            assert case["assignee_id"] is not None
        low, high = RISK_BANDS[case["risk_tier"]]
        assert low <= case["risk_score"] <= high
    assert any(c["status"] == "open" and c["assignee_id"] is None for c in cases)
    assert {c["decision"] for c in cases} == {None, "approve", "reject", "none"}


def test_sla_deadlines_follow_the_queue_and_every_sla_state_occurs(tables: dict[str, Rows]) -> None:
    queues = {q["id"]: q for q in tables["queues"]}
    actions = _by_case(tables["actions"])
    states: Counter[str] = Counter()
    for case in tables["cases"]:
        hours = queues[case["queue_id"]]["sla_hours"]
        deadline = parse_timestamp(case["created_at"]) + timedelta(hours=hours)
        at_risk = at_risk_from(deadline, hours)
        paused_at = None
        for entry in actions[case["id"]]:  # like the API, each resume moves the deadline on
            if entry["type"] == "query":
                paused_at = parse_timestamp(entry["created_at"])
            elif entry["type"] == "resume" and paused_at is not None:
                paused = parse_timestamp(entry["created_at"]) - paused_at
                deadline, at_risk, paused_at = deadline + paused, at_risk + paused, None
        assert case["sla_deadline"] == format_timestamp(deadline)
        assert case["sla_at_risk_at"] == format_timestamp(at_risk)
        querying = case["status"] == "querying"
        assert (case["sla_paused_at"] is not None) == querying
        if querying:
            assert case["sla_paused_at"] == format_timestamp(paused_at)
        assert (case["query_prompt"] is not None) == querying
        assert case["awaiting"] == querying  # query sets it; resume and close clear it
        states[_wire_case(case, tables)["sla_status"]] += 1
    assert set(states) == {"on_track", "at_risk", "breached", "paused"}


def test_references_count_per_organization(tables: dict[str, Rows]) -> None:
    for org in tables["organizations"]:
        cases = [c for c in tables["cases"] if c["organization_id"] == org["id"]]
        expected = [f"CAS-{n:06d}" for n in range(1, CASES_PER_ORG + 1)]
        assert [c["reference"] for c in cases] == expected
        external_ids = [c["external_id"] for c in cases if c["external_id"] is not None]
        assert len(external_ids) == len(set(external_ids)) > 0


def test_case_fields_point_inside_their_organization(tables: dict[str, Rows]) -> None:
    definitions = {
        (d["organization_id"], d["key"]): d for d in tables["custom_property_definitions"]
    }
    types = {"string": str, "boolean": bool, "number": (int, float), "string_list": list}
    users = {u["id"]: u for u in tables["users"]}
    for case in tables["cases"]:
        org = case["organization_id"]
        assert all(
            t["organization_id"] == org for t in tables["tags"] if t["id"] in case["tag_ids"]
        )
        assert len({t["id"] for t in tables["tags"] if t["organization_id"] == org}) >= 6
        if case["assignee_id"]:
            assert users[case["assignee_id"]]["organization_id"] == org
        for key, value in case["custom_properties"].items():
            definition = definitions[(org, key)]
            assert not definition["archived"]
            assert isinstance(value, types[definition["value_type"]])
        for parameter in case["parameters"]:
            Parameter.model_validate(parameter)
        assert all(isinstance(v, str) for v in case["metadata"].values())
        assert case["name_key"] == case["name"].casefold()
    keys = {t["key"] for t in tables["templates"]}
    assert {c["template_key"] for c in tables["cases"]} <= keys | {None}
    assert {"kyb-standard", "kyc-light"} <= keys
    archived = [d["key"] for d in tables["custom_property_definitions"] if d["archived"]]
    assert archived == ["legacy_id", "legacy_id"]


def test_entities_have_one_main_company_and_relations_resolve(tables: dict[str, Rows]) -> None:
    for case in tables["cases"]:
        companies = [Company.model_validate(c) for c in case["companies"]]
        refs = {c.ref for c in companies}
        owned: dict[str, float] = defaultdict(float)
        if companies:
            assert [c.type for c in companies].count("main") == 1
        # The API's rule: a case with individuals and no company is an individual's case.
        individual_case = bool(case["individuals"]) and not companies
        assert case["entity_category"] == ("individual" if individual_case else "company")
        if case["entity_category"] == "company":
            assert companies[0].name == case["name"]
        for person in case["individuals"]:
            individual = Individual.model_validate(person)
            for relation in individual.relations:
                assert relation.source_company_ref in refs
                owned[relation.source_company_ref] += relation.ownership_percentage or 0
            if person["birth_date"] is not None:
                assert date.fromisoformat(person["birth_date"]) < NOW.date()
        assert all(share <= 100 for share in owned.values())


def test_untrusted_looking_names_and_messages_exist(tables: dict[str, Rows]) -> None:
    texts = [c["name"] for c in tables["cases"]]
    texts += [
        f"{p['first_name']} {p['last_name']}" for c in tables["cases"] for p in c["individuals"]
    ]
    bodies = [m["body"] for m in tables["messages"]]
    for pool in (texts, bodies):
        assert any("[" in t and "]" in t for t in pool)
        assert any(any(unicodedata.category(ch) == "So" for ch in t) for t in pool)  # emoji
        assert any(any(not ch.isascii() and ch.isalpha() for ch in t) for t in pool)  # accents
    assert any("\n" in b for b in bodies)
    assert any("[link=" in b for b in bodies)
    assert "[legacy]" in {t["label"] for t in tables["tags"]}


# The action log, chat, escalations and overrides


def test_the_action_log_counts_every_revision_in_order(tables: dict[str, Rows]) -> None:
    actions = _by_case(tables["actions"])
    messages = _by_case(tables["messages"])
    for case in tables["cases"]:
        log = actions[case["id"]]
        for entry in log:
            ActionLogEntry.model_validate({k: v for k, v in entry.items() if k != "seq"})
        assert [e["case_revision"] for e in log] == list(range(1, len(log) + 1))
        assert case["revision"] == len(log)
        assert log[0]["type"] == "create"
        assert log[0]["payload"]["name"] == case["name"]
        assert log[0]["created_at"] == case["created_at"]
        stamps = [e["created_at"] for e in log]
        assert stamps == sorted(stamps)
        last = max([stamps[-1], *(m["created_at"] for m in messages[case["id"]])])
        assert case["updated_at"] == last
        assert last <= format_timestamp(NOW)
        assert all(e["client_action_id"] is None for e in log)


def test_replaying_the_log_gives_the_case_state(tables: dict[str, Rows]) -> None:
    users = {u["id"]: u for u in tables["users"]}
    overrides = {o["id"]: o for o in tables["overrides"]}
    closed_by: Counter[str] = Counter()
    logs = _by_case(tables["actions"])
    for case in tables["cases"]:
        status, decision, assignee = None, None, None
        for entry in logs[case["id"]]:
            assert status != "closed" or entry["type"] == "reopen"  # a closed case only reopens
            kind, payload = entry["type"], entry["payload"]
            actor = users[entry["actor_id"]]
            assert actor["organization_id"] == case["organization_id"]
            if kind in {"assign", "close", "reopen", "accept_override", "refuse_override"}:
                assert "reviewer" in actor["roles"], kind
            if kind == "create":
                status = payload["status"]
            elif kind == "assign":
                assignee = payload["assignee_id"]
                status = "in_progress" if status == "open" else status
            elif kind == "query":
                status = "querying"
            elif kind == "resume":
                status = "in_progress"
            elif kind == "close":
                status, decision = "closed", payload["decision"]
                closed_by[kind] += 1
            elif kind == "accept_override":  # its decision closes the case
                status = "closed"
                decision = overrides[payload["override_id"]]["proposed_decision"]
                closed_by[kind] += 1
            elif kind == "reopen":
                status, decision = "open", None
        assert (status, decision, assignee) == (
            case["status"],
            case["decision"],
            case["assignee_id"],
        )
    assert set(closed_by) == {"close", "accept_override"}


PAYLOAD_KEYS = {
    "create": {"name", "status"},
    "comment": {"body", "document_ids", "message_id"},
    "escalate": {"reason", "escalate_to", "escalation_id"},
    "update_escalation": {"escalations"},
    "complete_escalation": {"escalation_id", "note"},
    "request_override": {"reason", "proposed_decision", "reviewer_ids", "override_id"},
    "accept_override": {"override_id", "comment"},
    "refuse_override": {"override_id", "comment"},
    "cancel_override": {"override_id"},
    "close": {"decision", "comment"},
    "assign": {"assignee_id"},
    "query": {"prompt", "message_id"},
    "resume": {"comment"},
    "reopen": {"comment"},
}


def test_payloads_name_what_each_action_created(tables: dict[str, Rows]) -> None:
    messages = {m["id"]: m for m in tables["messages"]}
    escalations = {e["id"]: e for e in tables["escalations"]}
    overrides = {o["id"]: o for o in tables["overrides"]}
    seen = set()
    for entry in tables["actions"]:
        kind, payload = entry["type"], entry["payload"]
        seen.add(kind)
        assert set(payload) == PAYLOAD_KEYS[kind], kind
        if "message_id" in payload:
            message = messages[payload["message_id"]]
            assert message["author_id"] == entry["actor_id"]
            assert message["created_at"] == entry["created_at"]
            assert message["body"] == payload.get("body", payload.get("prompt"))
            assert message["kind"] == ("query_prompt" if kind == "query" else "message")
        if kind == "escalate":
            escalation = escalations[payload["escalation_id"]]
            assert escalation["created_by_id"] == entry["actor_id"]
            assert escalation["reason"] == payload["reason"]
            assert escalation["type"] == "escalation"
            assert escalation["title"] == payload["reason"].strip().splitlines()[0][:80]
        if kind == "update_escalation":
            for item in payload["escalations"]:  # every field, null when not sent (as the API)
                assert set(item) == {
                    "escalation_id",
                    "note",
                    "follow_up_due_at",
                    "assigned_to_email",
                }
                assert item["escalation_id"] in escalations
                assert any(value is not None for value in item.values())
        if "override_id" in payload:
            assert overrides[payload["override_id"]]["case_id"] == entry["case_id"]
    assert seen == set(PAYLOAD_KEYS)


def test_summary_counts_match_the_child_tables(tables: dict[str, Rows]) -> None:
    messages = _by_case(tables["messages"])
    escalations = _by_case(tables["escalations"])
    overrides = _by_case(tables["overrides"])
    for case in tables["cases"]:
        chat = messages[case["id"]]
        assert case["messages_count"] == len(chat)
        assert case["last_message_at"] == max((m["created_at"] for m in chat), default=None)
        active = [e for e in escalations[case["id"]] if not e["is_completed"]]
        assert case["open_escalations_count"] == len(active)
        pending = [o for o in overrides[case["id"]] if o["status"] == "pending"]
        assert len(pending) <= 1
        assert case["pending_override_id"] == (pending[0]["id"] if pending else None)
        if case["status"] == "closed":
            assert not pending and not active
    counts = [c["messages_count"] for c in tables["cases"]]
    assert min(counts) == 0 and max(counts) > 8


def test_chat_messages_and_documents_are_real(
    tables: dict[str, Rows], demo: tuple[Database, Path, Path]
) -> None:
    directory = demo[1]
    documents = {d["id"]: d for d in tables["documents"]}
    cases = {c["id"]: c for c in tables["cases"]}
    users = {u["id"]: u for u in tables["users"]}
    attached = 0
    for message in tables["messages"]:
        case = cases[message["case_id"]]
        wire = {**message, "documents": [documents[i] for i in message["document_ids"]]}
        for document in wire["documents"]:
            del document["organization_id"], document["uploaded_by_id"]
            del document["storage_path"], document["created_at"]
        Message.model_validate({k: v for k, v in wire.items() if k not in {"seq", "document_ids"}})
        if message["author_id"] is None:
            assert message["author_name"] == case["reporter"]["name"]
        else:
            assert message["author_name"] == users[message["author_id"]]["name"]
        attached += len(message["document_ids"])
    assert attached == len(documents) > 0
    for row in _rows(demo[0], schema.documents):
        path = directory / row["storage_path"]
        assert row["storage_path"] == f"documents/{row['id']}"
        content = path.read_bytes()
        assert (len(content), hashlib.sha256(content).hexdigest()) == (row["size"], row["sha256"])


def test_escalations_and_overrides_are_consistent(tables: dict[str, Rows]) -> None:
    users = {u["id"]: u for u in tables["users"]}
    cases = {c["id"]: c for c in tables["cases"]}
    overdue = 0
    for row in tables["escalations"]:
        org = cases[row["case_id"]]["organization_id"]
        Escalation.model_validate({k: v for k, v in row.items() if k != "seq"})
        assert (row["completed_at"] is not None) == row["is_completed"]
        if row["assigned_to_user_id"]:
            assert users[row["assigned_to_user_id"]]["organization_id"] == org
        if not row["is_completed"] and row["follow_up_due_at"]:
            overdue += row["follow_up_due_at"] < format_timestamp(NOW)
    assert overdue > 0
    assert {True, False} == {row["is_completed"] for row in tables["escalations"]}
    statuses: Counter[str] = Counter()
    for row in tables["overrides"]:
        Override.model_validate({k: v for k, v in row.items() if k != "seq"})
        statuses[row["status"]] += 1
        assert (row["decided_at"] is not None) == (row["status"] != "pending")
        # As the API: accept and refuse record their reviewer, a cancellation records none.
        assert (row["decided_by_id"] is not None) == (row["status"] in {"accepted", "refused"})
        if row["status"] in {"accepted", "refused"}:
            assert row["decided_by_id"] != row["creator_id"]
            assert "reviewer" in users[row["decided_by_id"]]["roles"]
            if row["reviewer_ids"]:
                assert row["decided_by_id"] in row["reviewer_ids"]
        if row["status"] == "refused":
            assert row["decision_comment"]
    assert set(statuses) == {"pending", "accepted", "refused", "cancelled"}


# Users and keys


def test_demo_keys_file_is_private_and_lists_every_user(
    demo: tuple[Database, Path, Path], tables: dict[str, Rows]
) -> None:
    _, directory, keys = demo
    assert keys == directory / "demo-keys.json"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    listed = json.loads(keys.read_text(encoding="utf-8"))
    assert list(listed) == ["users"]
    hashes = {k["key_hash"] for k in tables["api_keys"]}
    orgs = {o["id"]: o["name"] for o in tables["organizations"]}
    assert sorted(orgs.values()) == ["Helix Health Desk", "Northwind Compliance"]
    for user in listed["users"]:
        assert set(user) == {"name", "email", "organization", "roles", "api_key"}
        assert user["organization"] == {
            "id": user["organization"]["id"],
            "name": orgs[user["organization"]["id"]],
        }
        assert hash_api_key(user["api_key"]) in hashes
    assert len(hashes) == len(listed["users"]) == len(tables["users"])
    assert listed["users"][0]["roles"] == ["reviewer"]
    assert listed["users"][0]["organization"]["name"] == "Northwind Compliance"
    for org_id in orgs:
        members = [u for u in listed["users"] if u["organization"]["id"] == org_id]
        roles = Counter(tuple(sorted(u["roles"])) for u in members)
        assert roles[("reviewer",)] >= 2 and roles[("contributor",)] >= 2
        assert roles[("contributor", "reviewer")] >= 1
        emails = [u["email"] for u in members]
        assert len(set(emails)) == len(emails)
        assert all(e.isascii() and e == e.lower() for e in emails)
    assert any(not u["name"].isascii() for u in listed["users"])


def test_queues_keep_their_sla_policies_in_order(tables: dict[str, Rows]) -> None:
    for org in tables["organizations"]:
        queues = sorted(
            (q for q in tables["queues"] if q["organization_id"] == org["id"]),
            key=lambda q: q["position"],
        )
        assert [(q["name"], q["sla_hours"]) for q in queues] == [
            ("Business Onboarding", 48),
            ("Individual KYC", 24),
            ("Periodic Review", 168),
            ("Alert Review", 4),
        ]

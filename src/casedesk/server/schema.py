"""The tables of the case API (SQLAlchemy Core, portable to PostgreSQL).

Ids are UUID strings; instants are ISO 8601 UTC strings in one fixed-width
format (`domain.base.format_timestamp`), so they compare correctly as text.
Counts the queue needs (open escalations, pending override, messages) are kept
on the case row, updated in the same transaction as the action that changes them.
"""

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

ID = 36  # a UUID as text
TS = 32  # an instant as text

organizations = Table(
    "organizations",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("name", String(200), nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("organization_id", String(ID), ForeignKey("organizations.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("email", String(320), nullable=False),
    Column("roles", JSON, nullable=False),  # ["contributor", "reviewer"]
    Column("assignable", Boolean, nullable=False, default=True),
    UniqueConstraint("organization_id", "email"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_hash", String(64), primary_key=True),  # sha256 hex of the key; never the key
    Column("user_id", String(ID), ForeignKey("users.id"), nullable=False),
    Column("created_at", String(TS), nullable=False),
)

queues = Table(
    "queues",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("organization_id", String(ID), ForeignKey("organizations.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("workflow", String(200), nullable=False),
    Column("sla_hours", Float, nullable=False),
    Column("position", Integer, nullable=False, default=0),
)

tags = Table(
    "tags",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("organization_id", String(ID), ForeignKey("organizations.id"), nullable=False),
    Column("label", String(64), nullable=False),
    Column(
        "label_key", String(64), nullable=False
    ),  # casefolded label: labels are case-insensitive
    UniqueConstraint("organization_id", "label_key"),
)

custom_property_definitions = Table(
    "custom_property_definitions",
    metadata,
    Column("organization_id", String(ID), ForeignKey("organizations.id"), primary_key=True),
    Column("key", String(100), primary_key=True),
    Column("value_type", String(16), nullable=False),  # string | boolean | number | string_list
    Column("archived", Boolean, nullable=False, default=False),
)

templates = Table(
    "templates",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("organization_id", String(ID), ForeignKey("organizations.id"), nullable=False),
    Column("key", String(255), nullable=False),
    Column("name", String(200), nullable=False),
    UniqueConstraint("organization_id", "key"),
)

cases = Table(
    "cases",
    metadata,
    # `seq` gives pagination a stable, immutable order (and references their number).
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(ID), nullable=False, unique=True),
    Column("organization_id", String(ID), ForeignKey("organizations.id"), nullable=False),
    Column("reference", String(20), nullable=False),
    Column("name", String(180), nullable=False),
    Column("name_key", String(180), nullable=False),  # casefolded, for text search
    Column("type", String(80), nullable=False),
    Column("status", String(16), nullable=False),
    Column("decision", String(16)),
    Column("entity_category", String(16), nullable=False),
    Column("queue_id", String(ID), ForeignKey("queues.id"), nullable=False),
    Column("assignee_id", String(ID), ForeignKey("users.id")),
    Column("reporter", JSON),  # {"id", "name"}
    Column("account", JSON),  # {"id", "name"}
    Column("sla_deadline", String(TS)),
    Column("sla_at_risk_at", String(TS)),  # deadline minus a share of the queue's SLA
    Column("sla_paused_at", String(TS)),  # set while querying: the clock is stopped
    Column("risk_tier", String(8), nullable=False),
    Column("risk_score", Integer, nullable=False),
    Column("open_alerts_count", Integer, nullable=False, default=0),
    Column("awaiting", Boolean, nullable=False, default=False),
    Column("query_prompt", Text),
    Column("parameters", JSON, nullable=False),
    Column("tag_ids", JSON, nullable=False),
    Column("metadata", JSON, nullable=False),
    Column("custom_properties", JSON, nullable=False),
    Column("companies", JSON, nullable=False),
    Column("individuals", JSON, nullable=False),
    Column("external_id", String(255)),
    Column("template_key", String(255)),
    Column("revision", Integer, nullable=False),
    Column("created_at", String(TS), nullable=False),
    Column("updated_at", String(TS), nullable=False),
    Column("closed_at", String(TS)),
    Column("open_escalations_count", Integer, nullable=False, default=0),
    Column("pending_override_id", String(ID)),
    Column("messages_count", Integer, nullable=False, default=0),
    Column("last_message_at", String(TS)),
    UniqueConstraint("organization_id", "reference"),
    UniqueConstraint("organization_id", "external_id"),
)
Index("ix_cases_org_updated", cases.c.organization_id, cases.c.updated_at, cases.c.seq)
Index("ix_cases_org_status", cases.c.organization_id, cases.c.status)

documents = Table(
    "documents",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("organization_id", String(ID), ForeignKey("organizations.id"), nullable=False),
    Column("uploaded_by_id", String(ID), ForeignKey("users.id")),
    Column("name", String(255), nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("content_type", String(255), nullable=False),
    Column("storage_path", String(500), nullable=False),  # relative to the data dir
    Column("created_at", String(TS), nullable=False),
)

messages = Table(
    "messages",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(ID), nullable=False, unique=True),
    Column("case_id", String(ID), ForeignKey("cases.id"), nullable=False, index=True),
    Column("author_id", String(ID)),
    Column("author_name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("body", Text, nullable=False),
    Column("document_ids", JSON, nullable=False),
    Column("created_at", String(TS), nullable=False),
)

escalations = Table(
    "escalations",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(ID), nullable=False, unique=True),
    Column("case_id", String(ID), ForeignKey("cases.id"), nullable=False, index=True),
    Column("type", String(40), nullable=False),
    Column("title", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Column("note", Text),
    Column("follow_up_due_at", String(TS)),
    Column("assigned_to_user_id", String(ID)),
    Column("created_by_id", String(ID)),
    Column("is_completed", Boolean, nullable=False, default=False),
    Column("completed_at", String(TS)),
    Column("created_at", String(TS), nullable=False),
    Column("updated_at", String(TS), nullable=False),
)

overrides = Table(
    "overrides",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(ID), nullable=False, unique=True),
    Column("case_id", String(ID), ForeignKey("cases.id"), nullable=False, index=True),
    Column("status", String(16), nullable=False),
    Column("creator_id", String(ID), nullable=False),
    Column("reason", Text, nullable=False),
    Column("proposed_decision", String(16), nullable=False),
    Column("reviewer_ids", JSON, nullable=False),
    Column("decided_by_id", String(ID)),
    Column("decision_comment", Text),
    Column("created_at", String(TS), nullable=False),
    Column("decided_at", String(TS)),
)

actions = Table(
    "actions",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(ID), nullable=False, unique=True),
    Column("case_id", String(ID), ForeignKey("cases.id"), nullable=False),
    Column("type", String(32), nullable=False),
    Column("actor_id", String(ID)),
    Column("client_action_id", String(ID)),
    Column("payload", JSON, nullable=False),
    Column("case_revision", Integer, nullable=False),
    Column("created_at", String(TS), nullable=False),
    # A replayed action is never applied twice, even after its Idempotency-Key expired.
    UniqueConstraint("case_id", "client_action_id"),
)
Index("ix_actions_case", actions.c.case_id, actions.c.seq)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    # Scoped to the caller: one caller's key never replays another caller's response.
    Column("user_id", String(ID), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),  # sha256 of method, path and body
    Column("response_status", Integer, nullable=False),
    Column("response_body", Text, nullable=False),
    Column("created_at", String(TS), nullable=False),
)

"""Property test of the action rules: random valid and invalid actions by random demo users.

Each example creates a fresh case and applies a random sequence of actions to
it. A small model of DESIGN.md's rules predicts every answer (status and error
code); after every step the case, its action log, escalations and overrides
must agree with each other and with the model.
"""

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

from casedesk.domain import limits

Json = dict[str, Any]

ACTORS = ("contributor", "contributor2", "reviewer", "reviewer2", "both")
ACTION_TYPES = (
    "comment",
    "escalate",
    "update_escalation",
    "complete_escalation",
    "query",
    "resume",
    "request_override",
    "accept_override",
    "refuse_override",
    "cancel_override",
    "assign",
    "close",
    "reopen",
)
REVIEWER_ONLY = {"assign", "close", "reopen", "accept_override", "refuse_override"}
INVALID_BODY = 3  # the `variant` that sends a body the schema refuses, where one exists
PICKS = 8
CONCURRENT_WRITERS = 20


@dataclass(frozen=True)
class Actor:
    name: str
    client: httpx.Client
    user_id: str
    is_reviewer: bool


@dataclass
class Override:
    id: str
    creator_id: str
    reviewer_ids: list[str]
    proposed: str
    status: str = "pending"


@dataclass
class Model:
    """What DESIGN.md says the case should look like."""

    status: str = "open"
    decision: str | None = None
    revision: int = 1
    active: list[str] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)
    overrides: list[Override] = field(default_factory=list)

    @property
    def pending(self) -> Override | None:
        return next((o for o in self.overrides if o.status == "pending"), None)


@dataclass(frozen=True)
class Expected:
    status: int
    code: str | None = None


# -- helpers -------------------------------------------------------------------------


def body_of(response: httpx.Response, status: int) -> Json:
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    body: Json = response.json()
    return body


def children(client: httpx.Client, case_id: str, child: str) -> list[Json]:
    url = f"/v1/cases/{case_id}/{child}"
    items: list[Json] = body_of(client.get(url, params={"limit": limits.PAGE_LIMIT_MAX}), 200)[
        "data"
    ]
    return items


def _pick(options: list[str], pick: int) -> str:
    """Mostly one of `options` (newest first); for the last `pick`, an id never seen here."""
    if not options or pick == PICKS - 1:
        return str(uuid.uuid4())
    return options[-1 - pick % len(options)]


# -- building an action and predicting its answer ------------------------------------


def build(
    kind: str, actor: Actor, pick: int, variant: int, model: Model, people: dict[str, Actor]
) -> tuple[Json, Expected | None]:
    """The action body, and the answer when the request itself is malformed (else None)."""
    invalid = variant == INVALID_BODY
    escalations = model.active + model.completed
    overrides = [o.id for o in model.overrides]
    if kind == "comment":
        return {"type": kind, "body": "" if invalid else f"note {pick}"}, (
            Expected(400, "validation_error") if invalid else None
        )
    if kind == "escalate":
        body: Json = {"type": kind} if invalid else {"type": kind, "reason": f"reason {pick}"}
        return body, Expected(400, "validation_error") if invalid else None
    if kind == "update_escalation":
        if invalid:
            return {"type": kind, "escalations": []}, Expected(400, "validation_error")
        item = {"escalation_id": _pick(escalations, pick), "note": f"note {variant}"}
        return {"type": kind, "escalations": [item]}, None
    if kind == "complete_escalation":
        return {"type": kind, "escalation_id": _pick(escalations, pick)}, None
    if kind == "query":
        return {"type": kind, "prompt": f"question {pick}"}, None
    if kind in {"resume", "reopen"}:
        return {"type": kind}, None
    if kind == "request_override":
        named = [[], [people["reviewer"].user_id], [people["both"].user_id]]
        named.append([people["contributor"].user_id])  # not a reviewer: refused
        decision = ("approve", "reject")[pick % 2]
        return {
            "type": kind,
            "reason": "policy exception",
            "proposed_decision": decision,
            "reviewer_ids": named[variant],
        }, None
    if kind == "accept_override":
        return {"type": kind, "override_id": _pick(overrides, pick)}, None
    if kind == "refuse_override":
        if invalid:  # a refusal needs a comment
            return {"type": kind, "override_id": _pick(overrides, pick)}, Expected(
                400, "validation_error"
            )
        return {"type": kind, "override_id": _pick(overrides, pick), "comment": "no"}, None
    if kind == "cancel_override":
        return {"type": kind, "override_id": _pick(overrides, pick)}, None
    if kind == "assign":
        users = [None, *(person.user_id for person in people.values())]
        return {"type": kind, "assignee_id": users[pick % len(users)]}, None
    assert kind == "close"
    return {"type": kind, "decision": ("approve", "reject", "none")[pick % 3]}, None


def predict(model: Model, actor: Actor, action: Json, people: dict[str, Actor]) -> Expected:
    """DESIGN.md's answer to `action` by `actor`, applying its effect to `model` on success."""
    kind = action["type"]
    if kind in REVIEWER_ONLY and not actor.is_reviewer:
        return Expected(403, "forbidden_role")
    if model.status == "closed" and kind != "reopen":
        return Expected(409, "case_closed")
    if kind in {"update_escalation", "complete_escalation"}:
        target = (
            action["escalations"][0]["escalation_id"]
            if kind == "update_escalation"
            else action["escalation_id"]
        )
        if target not in model.active:
            return Expected(400, "escalation_not_found")
        if kind == "complete_escalation":
            model.active.remove(target)
            model.completed.append(target)
    elif kind == "escalate":
        pass  # the new escalation's id is read from the answer
    elif kind == "query":
        if model.status == "querying":
            return Expected(409, "case_already_querying")
        model.status = "querying"
    elif kind == "resume":
        if model.status != "querying":
            return Expected(409, "case_not_querying")
        model.status = "in_progress"
    elif kind == "request_override":
        if model.pending is not None:
            return Expected(409, "override_pending")
        for reviewer_id in action["reviewer_ids"]:
            named = next(p for p in people.values() if p.user_id == reviewer_id)
            if not named.is_reviewer or reviewer_id == actor.user_id:
                return Expected(400, "validation_error")
    elif kind in {"accept_override", "refuse_override", "cancel_override"}:
        override = next((o for o in model.overrides if o.id == action["override_id"]), None)
        if override is None:
            return Expected(400, "override_not_found")
        if override.status != "pending":
            return Expected(409, "override_not_pending")
        if kind == "cancel_override":
            if override.creator_id != actor.user_id:
                return Expected(403, "override_creator_only")
            override.status = "cancelled"
        else:
            if override.creator_id == actor.user_id:
                return Expected(403, "override_creator_cannot_decide")
            if override.reviewer_ids and actor.user_id not in override.reviewer_ids:
                return Expected(403, "not_assigned_reviewer")
            override.status = "accepted" if kind == "accept_override" else "refused"
            if kind == "accept_override":
                model.status, model.decision = "closed", override.proposed
    elif kind == "close":
        if model.pending is not None:
            return Expected(409, "override_blocks_close")
        model.status, model.decision = "closed", action["decision"]
    elif kind == "reopen":
        if model.status != "closed":
            return Expected(409, "case_not_closed")
        model.status, model.decision = "open", None
    elif kind == "assign" and action["assignee_id"] is not None and model.status == "open":
        model.status = "in_progress"
    model.revision += 1
    return Expected(201)


# -- checking the server against the model -------------------------------------------


def check_invariants(owner: httpx.Client, case_id: str, model: Model) -> Json:
    case: Json = body_of(owner.get(f"/v1/cases/{case_id}"), 200)["data"]
    log = children(owner, case_id, "actions")
    escalations = children(owner, case_id, "escalations")
    overrides = children(owner, case_id, "overrides")
    assert case["revision"] == len(log) == model.revision
    assert [entry["case_revision"] for entry in log] == list(range(1, len(log) + 1))
    active = [e["id"] for e in escalations if not e["is_completed"]]
    assert case["summary"]["open_escalations_count"] == len(active)
    assert active == model.active
    pending = [o["id"] for o in overrides if o["status"] == "pending"]
    assert len(pending) <= 1
    assert case["summary"]["pending_override_id"] == (pending[0] if pending else None)
    assert [(o["id"], o["status"]) for o in overrides] == [
        (o.id, o.status) for o in model.overrides
    ]
    assert case["status"] == model.status
    assert case["decision"] == model.decision
    assert (case["closed_at"] is not None) == (model.status == "closed")
    assert (case["query_prompt"] is not None) == (model.status == "querying")
    return case


# -- fixtures ------------------------------------------------------------------------


def people_keys(live_server: Any) -> dict[str, str]:
    return {
        "contributor": live_server.key("contributor"),
        "contributor2": live_server.key("contributor", index=1),
        "reviewer": live_server.key("reviewer"),
        "reviewer2": live_server.key("reviewer", index=1),
        "both": live_server.key("both"),
    }


@pytest.fixture(scope="module")
def people(live_server: Any) -> Iterator[dict[str, Actor]]:
    actors: dict[str, Actor] = {}
    for name, key in people_keys(live_server).items():
        client = live_server.client(key)
        user = body_of(client.get("/v1/me"), 200)["data"]
        actors[name] = Actor(name, client, user["id"], "reviewer" in user["roles"])
    yield actors
    for actor in actors.values():
        actor.client.close()


def draw_step(data: st.DataObject, model: Model) -> tuple[str, str, int, int]:
    """A random step, drawn more often among the actions the case's state makes interesting."""
    kinds = [*ACTION_TYPES, "request_override", "request_override"]
    if model.pending is not None:
        kinds += ["accept_override", "refuse_override", "cancel_override"] * 3
    if model.active:
        kinds += ["update_escalation", "complete_escalation"]
    if model.status == "closed":
        kinds += ["reopen"] * 4
    return (
        data.draw(st.sampled_from(kinds), label="type"),
        data.draw(st.sampled_from(ACTORS), label="actor"),
        data.draw(st.integers(min_value=0, max_value=PICKS - 1), label="pick"),
        data.draw(st.integers(min_value=0, max_value=INVALID_BODY), label="variant"),
    )


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.generate, Phase.shrink],  # no "explain": it replays hundreds of cases
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data(), length=st.integers(min_value=8, max_value=30))
def test_random_actions_keep_the_case_its_log_and_its_children_consistent(
    people: dict[str, Actor], data: st.DataObject, length: int
) -> None:
    owner = people["both"].client
    created = owner.post("/v1/cases", json={"name": f"Property case {uuid.uuid4().hex[:8]}"})
    case = body_of(created, 201)["data"]
    model = Model()
    check_invariants(owner, case["id"], model)
    for _ in range(length):
        kind, actor_name, pick, variant = draw_step(data, model)
        actor = people[actor_name]
        action, malformed = build(kind, actor, pick, variant, model, people)
        expected = malformed or predict(model, actor, action, people)
        response = actor.client.post(f"/v1/cases/{case['id']}/actions", json=action)
        step = f"{actor_name} {action} -> {response.status_code} {response.text[:300]}"
        event(f"{kind} -> {expected.status} {expected.code or ''}".rstrip())
        assert response.status_code == expected.status, step
        if expected.status == 201:
            answer = response.json()["data"]
            assert answer["action"]["case_revision"] == case["revision"] + 1, step
            assert answer["action"]["type"] == kind
            assert answer["action"]["actor_id"] == actor.user_id
            if kind == "escalate":
                model.active.append(answer["action"]["payload"]["escalation_id"])
            if kind == "request_override":
                model.overrides.append(
                    Override(
                        answer["action"]["payload"]["override_id"],
                        actor.user_id,
                        action["reviewer_ids"],
                        action["proposed_decision"],
                    )
                )
            after = check_invariants(owner, case["id"], model)
            assert answer["case"] == after, step
            assert after["updated_at"] >= case["updated_at"]
        else:
            assert response.json()["error"]["code"] == expected.code, step
            after = check_invariants(owner, case["id"], model)
            assert after == case, f"a refused action changed the case: {step}"
        case = after


def test_concurrent_actions_on_one_case_each_get_their_own_revision(
    live_server: Any, people: dict[str, Actor]
) -> None:
    owner = people["both"].client
    created = owner.post("/v1/cases", json={"name": f"Busy case {uuid.uuid4().hex[:8]}"})
    case = body_of(created, 201)["data"]
    start = threading.Barrier(CONCURRENT_WRITERS)
    names = [ACTORS[n % len(ACTORS)] for n in range(CONCURRENT_WRITERS)]

    def comment(n: int) -> int:
        with live_server.client(people_keys(live_server)[names[n]]) as client:
            start.wait()
            response = client.post(
                f"/v1/cases/{case['id']}/actions", json={"type": "comment", "body": f"#{n}"}
            )
            return int(body_of(response, 201)["data"]["action"]["case_revision"])

    with ThreadPoolExecutor(CONCURRENT_WRITERS) as pool:
        revisions = sorted(pool.map(comment, range(CONCURRENT_WRITERS)))
    assert revisions == list(range(2, CONCURRENT_WRITERS + 2))
    model = Model(revision=CONCURRENT_WRITERS + 1)
    after = check_invariants(owner, case["id"], model)
    assert after["summary"]["messages_count"] == CONCURRENT_WRITERS
    bodies = {m["body"] for m in children(owner, case["id"], "messages")}
    assert bodies == {f"#{n}" for n in range(CONCURRENT_WRITERS)}

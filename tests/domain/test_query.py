"""The queue filter language: what reviewers type and what it finds."""

from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casedesk.domain.query import FIELDS, QueryContext, QueryError, completions, parse_query

ME = "u-me"
CONTEXT = QueryContext(me=ME, unread={"c1"}, emails={ME: "zoe@example.com"})


def row(**overrides: object) -> SimpleNamespace:
    base: dict[str, object] = {
        "id": "c1",
        "reference": "CAS-000142",
        "name": "Société Générale [Holdings]",
        "external_id": "ext-9",
        "type": "Onboarding",
        "status": "open",
        "decision": None,
        "risk_tier": "high",
        "risk_score": 82,
        "sla_status": "breached",
        "assignee_id": ME,
        "assignee_name": "Zoë Brontë",
        "queue_name": "Business Onboarding",
        "tags": ["PEP", "vip"],
        "open_escalations_count": 1,
        "pending_override_id": None,
    }
    base.update(overrides)
    return SimpleNamespace(**base)


def test_design_example_matches_a_case_with_all_those_facts() -> None:
    query = parse_query(
        'status:open risk:high sla:breached assignee:me tag:pep queue:"Business Onboarding" '
        "generale",
        context=CONTEXT,
    )
    assert query.matches(row())
    assert not query.matches(row(status="closed"))
    assert not query.matches(row(assignee_id="someone-else"))


def test_text_search_ignores_case_and_accents() -> None:
    assert parse_query("SOCIETE").matches(row())
    assert parse_query("cas-000142").matches(row())
    assert parse_query('"générale [holdings]"').matches(row())
    assert not parse_query("acme").matches(row())


def test_comma_lists_are_alternatives_and_minus_negates() -> None:
    assert parse_query("status:open,in_progress").matches(row(status="in_progress"))
    assert not parse_query("-status:open").matches(row())
    assert parse_query("-status:closed").matches(row())
    assert not parse_query("-generale").matches(row())


def test_score_compares() -> None:
    assert parse_query("score>=82").matches(row())
    assert not parse_query("score>82").matches(row())
    assert parse_query("score<90").matches(row())


def test_assignee_words_and_names() -> None:
    assert parse_query("assignee:none").matches(row(assignee_id=None))
    assert parse_query("assignee:zoe").matches(row())
    assert parse_query("assignee:zoe@example", CONTEXT).matches(row(assignee_name="Z"))
    assert not parse_query("assignee:me").matches(row())


def test_has_flags() -> None:
    assert parse_query("has:escalation,override").matches(row())
    assert not parse_query("has:override").matches(row())
    assert parse_query("has:unread", CONTEXT).matches(row())
    assert not parse_query("has:unread", CONTEXT).matches(row(id="c2"))
    assert not parse_query("has:pending", CONTEXT).matches(row())


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("status:opn", 0, "unknown status 'opn'"),
        ("acme colour:red", 5, "unknown field 'colour'"),
        ("risk:", 0, "needs a value"),
        ("score>lots", 0, "needs a number"),
        ("status>open", 0, "only score compares"),
    ],
)
def test_bad_terms_name_the_term_and_where_it_is(text: str, position: int, fragment: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(text)
    assert fragment in caught.value.message
    assert caught.value.position == position


def test_completion_offers_fields_then_values() -> None:
    assert completions("st") == ["status:"]
    assert completions("status:in") == ["in_progress"]
    assert completions("acme risk:h") == ["high"]
    assert completions("assignee:") == ["me", "none"]
    assert set(completions("")) == {f"{name}:" for name in FIELDS}


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(max_size=60))
def test_any_text_either_parses_or_raises_a_query_error(text: str) -> None:
    try:
        query = parse_query(text, CONTEXT)
    except QueryError as error:
        assert 0 <= error.position <= len(text)
    else:
        query.matches(row())


def test_text_search_finds_the_name_reference_or_external_id_but_not_across_them() -> None:
    assert parse_query("ext-9").matches(row())
    assert parse_query("000142").matches(row())
    # The name ends in "holdings]" and the reference starts "cas-": no match spans both.
    assert not parse_query('"holdings]cas"').matches(row())
    assert not parse_query("holdings]cas-000142").matches(row())
    assert parse_query("").matches(row()) and parse_query("   ").matches(row())

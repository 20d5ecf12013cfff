"""The queue's filter language: parse once, evaluate over queue rows.

    status:open,in_progress risk:high sla:breached assignee:me tag:pep
    queue:"Business Onboarding" -status:closed score>=70 has:escalation acme

Terms are ANDed; a comma list within a term is ORed; a leading `-` negates;
bare words and "quoted phrases" search reference, name and external id
(case- and accent-insensitive). A bad term is a `QueryError` naming the
term and its position, so the console can show it under the filter line.

Rows are objects with the attributes of `ROW_KEYS` (the compact queue index
rows); what a row cannot know by itself (unread chat, unsynced local changes,
assignees' emails) comes in a `QueryContext`.
"""

import re
import unicodedata
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from casedesk.domain.enums import CaseStatus, Decision, RiskTier, SlaStatus

ROW_KEYS = (
    "id", "reference", "name", "external_id", "type", "status", "decision", "risk_tier",
    "risk_score", "sla_status", "assignee_id", "assignee_name", "queue_name", "tags",
    "open_escalations_count", "pending_override_id",
)  # fmt: skip
"""The attributes a queue row carries for the terms to work (a missing one reads as None)."""

Row = Any
Predicate = Callable[[Row], bool]


@dataclass(frozen=True)
class QueryContext:
    """What the console knows beyond the rows: who "me" is, and per-case local facts."""

    me: Any = None
    """The current user's id (same type as the rows' `assignee_id`)."""
    unread: Container[Any] = frozenset()
    """Ids of cases with chat the reviewer has not read."""
    pending: Container[Any] = frozenset()
    """Ids of cases with actions not yet acknowledged by the API."""
    emails: Mapping[Any, str] = field(default_factory=dict)
    """Assignee id -> email, so `assignee:` matches emails too."""


HAS_VALUES = ("escalation", "override", "unread", "pending")
ASSIGNEE_WORDS = ("me", "none")

FIELDS: dict[str, str] = {
    "status": "case status",
    "risk": "risk tier",
    "score": "risk score (also score>N, score<N, score>=N, score<=N)",
    "sla": "SLA state",
    "assignee": "me, none, or part of a name or email",
    "queue": "part of a queue name",
    "tag": "tag label",
    "decision": "decision of a closed case",
    "type": "case type",
    "ref": "start of a reference",
    "has": "escalation, override, unread, pending",
}
"""Every field the language knows, with what its values are (for help and completion)."""

ENUM_VALUES: dict[str, tuple[str, ...]] = {
    "status": tuple(member.value for member in CaseStatus),
    "risk": tuple(member.value for member in RiskTier),
    "sla": tuple(member.value for member in SlaStatus),
    "decision": tuple(member.value for member in Decision),
    "has": HAS_VALUES,
}

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<neg>-)?(?P<field>[A-Za-z_]+)(?P<op>:|>=|<=|>|<)(?P<value>"[^"]*"?|[^\s"]*)
      | (?P<phrase>"[^"]*"?)
      | (?P<word>\S+)
    )""",
    re.VERBOSE,
)


class QueryError(ValueError):
    """A filter the language does not understand; `position` is where the bad term starts."""

    def __init__(self, message: str, *, position: int, term: str) -> None:
        super().__init__(message)
        self.message = message
        self.position = position
        self.term = term


@dataclass(frozen=True)
class Term:
    field: str | None  # None: free text
    op: str
    values: tuple[str, ...]
    negated: bool
    position: int
    text: str


@dataclass(frozen=True)
class Query:
    """A parsed filter; `matches(row)` says whether a queue row passes it."""

    text: str
    terms: tuple[Term, ...]
    predicate: Predicate

    def matches(self, row: Row) -> bool:
        return self.predicate(row)

    @property
    def is_empty(self) -> bool:
        return not self.terms


@lru_cache(maxsize=200_000)
def fold(text: str) -> str:
    """Case- and accent-insensitive form used for every text comparison.

    Memoised: a filter keystroke folds every row's name, and names rarely change.
    """
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


@lru_cache(maxsize=200_000)
def _haystack(name: str, reference: str, external_id: str) -> str:
    """What free text searches in a row, folded, one line per field (a needle has no line
    break, so it never matches across two fields). Memoised like `fold`: one lookup per
    row and keystroke instead of three folds."""
    return f"{fold(name)}\n{fold(reference)}\n{fold(external_id)}"


def _unquote(value: str) -> str:
    if value.startswith('"'):
        return value[1:-1] if value.endswith('"') and len(value) > 1 else value[1:]
    return value


def tokenize(text: str) -> list[Term]:
    terms: list[Term] = []
    for match in _TOKEN.finditer(text):
        start = match.start() + (len(match.group(0)) - len(match.group(0).lstrip()))
        raw = match.group(0).strip()
        if not raw:
            continue
        if match.group("field") is not None:
            value = match.group("value")
            values = (
                (_unquote(value),)
                if value.startswith('"')
                else tuple(part for part in value.split(",") if part)
            )
            terms.append(
                Term(
                    field=match.group("field").lower(),
                    op=match.group("op"),
                    values=values,
                    negated=match.group("neg") is not None,
                    position=start,
                    text=raw,
                )
            )
        else:
            phrase = match.group("phrase")
            word = _unquote(phrase) if phrase is not None else match.group("word")
            negated = phrase is None and word.startswith("-") and len(word) > 1
            terms.append(
                Term(
                    field=None,
                    op=":",
                    values=(word[1:] if negated else word,),
                    negated=negated,
                    position=start,
                    text=raw,
                )
            )
    return terms


def _fail(term: Term, message: str) -> QueryError:
    return QueryError(message, position=term.position, term=term.text)


def _enum_test(term: Term, key: str) -> Predicate:
    allowed = ENUM_VALUES[term.field or ""]
    wanted = set()
    for value in term.values:
        normalised = value.lower().replace("-", "_")
        if normalised not in allowed:
            raise _fail(
                term, f"unknown {term.field} {value!r}; expected one of {', '.join(allowed)}"
            )
        wanted.add(normalised)
    return lambda row: getattr(row, key, None) in wanted


def _score_test(term: Term) -> Predicate:
    if len(term.values) != 1:
        raise _fail(term, "score takes one number, e.g. score>=70")
    try:
        bound = float(term.values[0])
    except ValueError:
        raise _fail(term, f"score needs a number, not {term.values[0]!r}") from None
    compare: dict[str, Callable[[float], bool]] = {
        ":": lambda score: score == bound,
        ">": lambda score: score > bound,
        "<": lambda score: score < bound,
        ">=": lambda score: score >= bound,
        "<=": lambda score: score <= bound,
    }
    test = compare[term.op]
    return lambda row: test(float(getattr(row, "risk_score", None) or 0))


def _assignee_test(term: Term, context: QueryContext) -> Predicate:
    me = context.me
    tests: list[Predicate] = []
    for value in term.values:
        lowered = value.lower()
        if lowered == "me":
            tests.append(lambda row: me is not None and row.assignee_id == me)
        elif lowered == "none":
            tests.append(lambda row: row.assignee_id is None)
        else:
            tests.append(_person_matches(fold(value), context.emails))
    return lambda row: any(test(row) for test in tests)


def _person_matches(needle: str, emails: Mapping[Any, str]) -> Predicate:
    def test(row: Row) -> bool:
        if needle in fold(row.assignee_name or ""):
            return True
        return row.assignee_id is not None and needle in emails.get(row.assignee_id, "").casefold()

    return test


def _text_in(key: str, term: Term, *, exact: bool = False, prefix: bool = False) -> Predicate:
    needles = [fold(value) for value in term.values]
    if exact:
        return lambda row: fold(str(getattr(row, key, None) or "")) in needles
    if prefix:
        return lambda row: any(
            fold(str(getattr(row, key, None) or "")).startswith(n) for n in needles
        )
    return lambda row: any(n in fold(str(getattr(row, key, None) or "")) for n in needles)


def _tag_test(term: Term) -> Predicate:
    wanted = {fold(value) for value in term.values}
    return lambda row: any(fold(tag) in wanted for tag in row.tags or ())


def _has_test(term: Term, context: QueryContext) -> Predicate:
    checks: dict[str, Predicate] = {
        "escalation": lambda row: bool(row.open_escalations_count),
        "override": lambda row: row.pending_override_id is not None,
        "unread": lambda row: row.id in context.unread,
        "pending": lambda row: row.id in context.pending,
    }
    _enum_test(term, "")  # validates the values
    chosen = [checks[value.lower()] for value in term.values]
    return lambda row: any(check(row) for check in chosen)


def _free_text(term: Term) -> Predicate:
    needle = fold(term.values[0])
    return lambda row: (
        needle in _haystack(row.name, row.reference, getattr(row, "external_id", None) or "")
    )


def _term_predicate(term: Term, context: QueryContext) -> Predicate:
    if term.field is None:
        return _free_text(term)
    if term.field not in FIELDS:
        raise _fail(term, f"unknown field {term.field!r}; known: {', '.join(FIELDS)}")
    if not term.values or not any(value.strip() for value in term.values):
        raise _fail(term, f"{term.field}: needs a value ({FIELDS[term.field]})")
    if term.op != ":" and term.field != "score":
        raise _fail(term, f"{term.field} takes field:value; only score compares with < and >")
    builders: dict[str, Callable[[], Predicate]] = {
        "status": lambda: _enum_test(term, "status"),
        "risk": lambda: _enum_test(term, "risk_tier"),
        "sla": lambda: _enum_test(term, "sla_status"),
        "decision": lambda: _enum_test(term, "decision"),
        "score": lambda: _score_test(term),
        "assignee": lambda: _assignee_test(term, context),
        "queue": lambda: _text_in("queue_name", term),
        "tag": lambda: _tag_test(term),
        "type": lambda: _text_in("type", term, exact=True),
        "ref": lambda: _text_in("reference", term, prefix=True),
        "has": lambda: _has_test(term, context),
    }
    return builders[term.field]()


def _negation(test: Predicate) -> Predicate:
    return lambda row: not test(row)


def parse_query(text: str, context: QueryContext | None = None) -> Query:
    """Parse `text`; `context` says who "me" is and which cases are unread or pending."""
    known = context or QueryContext()
    terms = tokenize(text)
    predicates: list[Predicate] = []
    for term in terms:
        test = _term_predicate(term, known)
        predicates.append(_negation(test) if term.negated else test)

    return Query(text=text, terms=tuple(terms), predicate=_all_of(predicates))


def _all_of(predicates: list[Predicate]) -> Predicate:
    """One predicate: the single term's own test when there is one (a keystroke runs it
    over every row of the view, so each call layer shows)."""
    if not predicates:
        return _every_row
    if len(predicates) == 1:
        return predicates[0]

    def matches(row: Row) -> bool:
        # A loop, not all(<generator>): no generator per row.
        for test in predicates:  # noqa: SIM110
            if not test(row):
                return False
        return True

    return matches


def _every_row(row: Row) -> bool:  # noqa: ARG001 - an empty query passes every row
    return True


def completions(text: str, cursor: int | None = None) -> list[str]:
    """Candidates for the word being typed at `cursor`: field names, then known values."""
    upto = text[: len(text) if cursor is None else cursor]
    word = upto.rsplit(" ", 1)[-1].lstrip("-")
    if ":" not in word:
        return [f"{name}:" for name in FIELDS if name.startswith(word.lower())]
    field, _, typed = word.partition(":")
    last = typed.rsplit(",", 1)[-1].lower()
    values: Sequence[str] = ENUM_VALUES.get(field.lower(), ())
    if field.lower() == "assignee":
        values = ASSIGNEE_WORDS
    return [value for value in values if value.startswith(last)]

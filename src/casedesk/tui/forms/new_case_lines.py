"""The lines of the new-case form: affiliated companies and individuals, read into bodies.

One item per non-blank line, its parts split by `;`:

- an affiliated company: `ref; name; registration number; country` (an empty part is
  "none": `sub; Sub GmbH;; DE`);
- an individual: `First Last <email>; born YYYY-MM-DD; roles 25% @ref; roles @ref …` —
  the name first (`Last, First` when the first name has several words), then in any
  order an optional birth date and one part per relation: its roles (comma-separated,
  a unique start is enough: `dir`, `share`), an optional ownership percentage and the
  `@ref` of the company (none: the main company). A part holding only a percentage or
  only an `@ref` completes the relation before it (`director; 40%; @sub`), and parts
  naming the same company make one relation (`director; beneficial_owner`).

Reading never raises: each line gives the body the API expects and the problems found
in it, each named by its path inside the item (`relations.1.roles`), so the form can
show it on its line. What the API's model checks itself (lengths, the email's shape,
the percentage's range) is left to the model. Writing is the inverse (`write_companies`,
`write_individuals`): the items of a queued case as lines that read back into the same
bodies, for the form to reopen a case the API refused. The last helpers name a part of a line
in a message (`Line 3, relation to 'sub', roles: …`) and give the domain's cross-field
rules a body to read while some of its fields are still invalid.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from casedesk.domain.create import NewCase, NewCompany, NewIndividual, NewRelation
from casedesk.domain.enums import CompanyType, RelationRole

ROLES = tuple(role.value for role in RelationRole)
"""The relation roles the API knows, in its order."""

COMPANY_PARTS = ("ref", "name", "registration number", "country")

_COMMA = re.compile(r"(?<!\d),|,(?!\d)")
"""A comma between roles, not the decimal comma of `12,5%`."""
_SPACED_PERCENT = re.compile(r"(\d)\s+%")
_PERCENTAGE = re.compile(r"^[+-]?\d+(?:[.,]\d+)?%?$")
_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_BORN = re.compile(r"^born\b\s*", re.IGNORECASE)
_EMAIL_BRACKETS = re.compile(r"<([^<>]*)>")


@dataclass(frozen=True)
class LineProblem:
    """Something wrong on a line: `path` inside the item (`""` for the whole line)."""

    path: str
    message: str


@dataclass
class Line:
    """One item typed on one line: its request body and what is wrong with it."""

    number: int
    """The line's number in the field, from 1."""
    body: dict[str, Any]
    problems: list[LineProblem] = field(default_factory=list)
    relation_refs: list[str | None] = field(default_factory=list)
    """For an individual: the `@ref` each relation names (`None`: the main company)."""


def numbered_lines(text: str) -> list[tuple[int, str]]:
    """The non-blank lines of `text`, stripped, each with its number (from 1)."""
    return [
        (number, line.strip()) for number, line in enumerate(text.splitlines(), 1) if line.strip()
    ]


def country_code(text: str) -> str:
    """Two letters are a country code whatever their case (`de` → `DE`); else as typed."""
    return text.upper() if len(text) == 2 and text.isascii() and text.isalpha() else text


def role_of(word: str) -> RelationRole | None:
    """The role `word` names: its name (spaces or hyphens for `_`) or a unique start of it."""
    key = re.sub(r"[\s\-_]+", "_", word.strip().casefold())
    if not key:
        return None
    if key in ROLES:
        return RelationRole(key)
    starts = [role for role in ROLES if role.startswith(key)]
    return RelationRole(starts[0]) if len(starts) == 1 else None


# -- companies -----------------------------------------------------------------------------


def read_companies(text: str) -> list[Line]:
    """The affiliated companies typed in `text`, one per line."""
    return [_company(number, line) for number, line in numbered_lines(text)]


def _company(number: int, line: str) -> Line:
    parts = [part.strip() for part in line.split(";")]
    problems: list[LineProblem] = []
    if len(parts) > len(COMPANY_PARTS):
        problems.append(
            LineProblem(
                "",
                f"{len(parts)} parts where at most {len(COMPANY_PARTS)} are read: "
                + "; ".join(COMPANY_PARTS)
                + ".",
            )
        )
    ref, name, registration, country = (parts + [""] * len(COMPANY_PARTS))[: len(COMPANY_PARTS)]
    body: dict[str, Any] = {"type": CompanyType.AFFILIATED.value, "name": name}
    if ref:
        body["ref"] = ref
    if registration:
        body["registration_number"] = registration
    if country:
        body["country"] = country_code(country)
    if not name:
        if len(parts) == 1:
            hint = f"only {ref!r} is typed, read as the ref: write ref; name."
        else:
            hint = "write ref; name; registration number; country."
        problems.append(LineProblem("name", f"Required — {hint}"))
    return Line(number, body, problems)


# -- individuals ---------------------------------------------------------------------------


@dataclass
class _Relation:
    roles: list[str] = field(default_factory=list)
    share: float | None = None
    ref: str | None = None
    problems: list[LineProblem] = field(default_factory=list)
    """Problems with paths inside the relation (`roles`, `ownership_percentage`, `""`)."""
    role_text: bool = False
    """Whether anything was typed as a role (even an unknown one)."""


def read_individuals(text: str, main_ref: str | None) -> list[Line]:
    """The individuals typed in `text`, one per line; a relation without `@ref` goes to
    `main_ref` (left without `source_company_ref` when the main company has no ref)."""
    return [_individual(number, line, main_ref) for number, line in numbered_lines(text)]


def _individual(number: int, line: str, main_ref: str | None) -> Line:
    person_part, *parts = (part.strip() for part in line.split(";"))
    body: dict[str, Any] = {}
    problems: list[LineProblem] = []
    _person(person_part, body, problems)
    relations: list[_Relation] = []
    for part in parts:
        if not part:
            continue
        if _BORN.match(part) or _DATE.match(part):
            _birth_date(part, body, problems)
            continue
        relation = _relation(part)
        previous = relations[-1] if relations else None
        if previous is not None and _completes(previous, relation):
            previous.share = relation.share if relation.share is not None else previous.share
            previous.ref = relation.ref if relation.ref is not None else previous.ref
            previous.problems.extend(relation.problems)
        else:
            relations.append(relation)
    relations = _one_per_company(relations, main_ref)
    found = Line(number, body, problems)
    if relations:
        body["relations"] = []
    for index, relation in enumerate(relations):
        wire: dict[str, Any] = {"roles": relation.roles}
        ref = relation.ref if relation.ref is not None else main_ref
        if ref is not None:
            wire["source_company_ref"] = ref
        if relation.share is not None:
            wire["ownership_percentage"] = relation.share
        body["relations"].append(wire)
        found.relation_refs.append(relation.ref)
        for problem in relation.problems:
            path = f"relations.{index}" + (f".{problem.path}" if problem.path else "")
            problems.append(LineProblem(path, problem.message))
        if not relation.roles and not relation.role_text:
            problems.append(
                LineProblem(
                    f"relations.{index}.roles",
                    "Required — name at least one: " + ", ".join(ROLES) + ".",
                )
            )
    return found


def _one_per_company(relations: list[_Relation], main_ref: str | None) -> list[_Relation]:
    """Parts naming the same company make one relation (`dir; bene` is one, to the main
    company), unless both give a percentage."""
    kept: list[_Relation] = []
    for relation in relations:
        company = relation.ref if relation.ref is not None else main_ref
        same = next(
            (
                earlier
                for earlier in kept
                if (earlier.ref if earlier.ref is not None else main_ref) == company
                and (earlier.share is None or relation.share is None)
            ),
            None,
        )
        if same is None:
            kept.append(relation)
            continue
        same.roles.extend(role for role in relation.roles if role not in same.roles)
        same.share = same.share if same.share is not None else relation.share
        same.role_text = same.role_text or relation.role_text
        same.problems.extend(relation.problems)
    return kept


def _person(part: str, body: dict[str, Any], problems: list[LineProblem]) -> None:
    """The name and the email of `First Last <email>` (or `Last, First <email>`)."""
    email: str | None = None
    bracketed = _EMAIL_BRACKETS.search(part)
    if bracketed is not None:
        email = bracketed.group(1).strip()
        part = part[: bracketed.start()] + " " + part[bracketed.end() :]
    if "<" in part or ">" in part:
        problems.append(
            LineProblem("email", "Write the email between < and >, such as <ada@example.com>.")
        )
        part = part.replace("<", " ").replace(">", " ")
    words: list[str] = []
    for word in part.split():
        if word.startswith("@"):
            problems.append(
                LineProblem(
                    "",
                    f"{word!r} belongs in a relation, after a ';': such as 'Ada Lovelace; "
                    f"director {word}'.",
                )
            )
        elif "@" in word and email is None:
            email = word  # a bare address is an email too
        elif "@" in word:
            problems.append(LineProblem("email", f"{word!r} is a second email: keep one."))
        else:
            words.append(word)
    if email is not None:
        body["email"] = email
    strays = [word for word in re.split(r"[\s,]+", " ".join(words)) if word.casefold() in ROLES]
    if strays:
        problems.append(
            LineProblem(
                "",
                f"{strays[0]!r} is read as a name: roles go after a ';', "
                f"such as 'Ada Lovelace; {strays[0]}'.",
            )
        )
    name = " ".join(words)
    if "," in name:
        last, _, first = (piece.strip() for piece in name.partition(","))
    else:
        first, _, last = name.partition(" ")
        last = last.strip()
    body["first_name"] = first
    body["last_name"] = last
    if not first and not last:
        problems.append(LineProblem("first_name", "Required — each line starts with First Last."))
        problems.append(LineProblem("last_name", "Required — each line starts with First Last."))
    elif not first:
        problems.append(LineProblem("first_name", "Required — write Last, First."))
    elif "," in first:
        problems.append(LineProblem("", "One comma at most in a name: Last, First."))
    elif not last:
        problems.append(
            LineProblem(
                "last_name",
                f"Required — only {first!r} is typed: write First Last (or Last, First).",
            )
        )


def _birth_date(part: str, body: dict[str, Any], problems: list[LineProblem]) -> None:
    text = _BORN.sub("", part).strip()
    if "birth_date" in body:
        problems.append(LineProblem("birth_date", f"Given twice ({text!r} again): keep one."))
        return
    shape = _DATE.match(text)
    try:
        if shape is None:
            raise ValueError(text)
        year, month, day = (int(piece) for piece in shape.groups())
        body["birth_date"] = date(year, month, day).isoformat()
    except ValueError:
        body["birth_date"] = None
        problems.append(
            LineProblem("birth_date", f"{text!r} is not a date — write born YYYY-MM-DD.")
        )


def _relation(part: str) -> _Relation:
    """`roles 25% @ref`, in any order; roles split by commas."""
    relation = _Relation()
    for piece in _COMMA.split(_SPACED_PERCENT.sub(r"\1%", part)):
        rest: list[str] = []
        for word in piece.split():
            if word.startswith("@"):
                _ref(word[1:], relation)
            elif word.endswith("%") or _PERCENTAGE.match(word):
                _share(word, relation)
            else:
                rest.append(word)
        if rest:
            relation.role_text = True
            _roles(rest, relation)
    return relation


def _ref(name: str, relation: _Relation) -> None:
    if not name:
        relation.problems.append(
            LineProblem("", "'@' needs the ref of a company after it, such as @sub.")
        )
    elif relation.ref is not None and relation.ref != name:
        relation.problems.append(
            LineProblem(
                "",
                f"Two companies in one part (@{relation.ref}, @{name}): "
                f"write '; roles @{name}' for the second.",
            )
        )
    else:
        relation.ref = name


def _share(word: str, relation: _Relation) -> None:
    if not _PERCENTAGE.match(word):
        relation.problems.append(
            LineProblem("ownership_percentage", f"{word!r} is not a percentage such as 25%.")
        )
    elif relation.share is not None:
        relation.problems.append(
            LineProblem("ownership_percentage", f"Given twice ({word} again): keep one.")
        )
    else:
        relation.share = float(word.removesuffix("%").replace(",", "."))


def _roles(words: list[str], relation: _Relation) -> None:
    """One role, possibly of several words (`legal representative`), or several without
    commas (`director shareholder`)."""
    whole = role_of(" ".join(words))
    found = [whole] if whole is not None else [role_of(word) for word in words]
    if any(role is None for role in found):
        relation.problems.append(
            LineProblem(
                "roles",
                f"{' '.join(words)!r} is not a role — use "
                + ", ".join(ROLES)
                + " (a start such as 'dir' will do).",
            )
        )
        return
    for role in found:
        if role is not None and role.value not in relation.roles:
            relation.roles.append(role.value)


def _completes(previous: _Relation, part: _Relation) -> bool:
    """Whether `part` (only a percentage and/or an @ref) fills what `previous` lacks."""
    if part.role_text or (part.share is None and part.ref is None):
        return False
    if part.share is not None and previous.share is not None:
        return False
    return not (part.ref is not None and previous.ref is not None)


# -- what the form says about a line -------------------------------------------------------

_COMPANY_PARTS = {"registration_number": "registration number"}
_PERSON_PARTS = {"first_name": "first name", "last_name": "last name", "birth_date": "birth date"}


def on_line(number: int, part: str, message: str) -> str:
    """`Line 3, email: …`, or `Line 3: …` for the whole line."""
    return f"Line {number}, {part}: {message}" if part else f"Line {number}: {message}"


def company_part(path: str) -> str:
    """The part of a company line a path inside the company names (`registration number`)."""
    return _COMPANY_PARTS.get(path, path)


def person_part(person: Line | None, parts: list[str]) -> str:
    """The part of an individual's line a path names: `relation to 'sub', roles` for
    `relations.1.roles`, `birth date` for `birth_date`."""
    if not parts:
        return ""
    if parts[0] != "relations" or len(parts) < 2 or not parts[1].isdigit():
        return _PERSON_PARTS.get(parts[0], ".".join(parts))
    index = int(parts[1])
    ref = None
    if person is not None and index < len(person.relation_refs):
        ref = person.relation_refs[index]
    relation = "relation to the main company" if ref is None else f"relation to {ref!r}"
    inside = parts[2] if len(parts) > 2 else ""
    if inside in ("", "source_company_ref"):
        return relation
    return f"{relation}, " + ("ownership" if inside == "ownership_percentage" else inside)


def rules_probe(body: Mapping[str, Any]) -> NewCase:
    """The parts of `body` the cross-field rules read, unvalidated: those rules are
    checked even while another field is still wrong."""
    return NewCase.model_construct(
        name=str(body.get("name", "")),
        template_key=body.get("template_key"),
        template_id=None,
        companies=[
            NewCompany.model_construct(
                ref=company.get("ref"), type=CompanyType(company["type"]), name=""
            )
            for company in body.get("companies", [])
        ],
        individuals=[
            NewIndividual.model_construct(
                first_name="",
                last_name="",
                relations=[
                    NewRelation.model_construct(
                        source_company_ref=relation.get("source_company_ref"), roles=[]
                    )
                    for relation in person.get("relations", [])
                ],
            )
            for person in body.get("individuals", [])
        ],
    )

"""The new-case form (`N` on the queue), driven with Pilot against a server of our own.

What is created is looked up on the server with plain HTTP, never counted as calls.
The lines of the affiliated companies and individuals are also read without a
console (`new_case_lines`), and written back from a queued case (`fields_of`, a
hypothesis round trip): those tests are pure and quick. Last, a case the API refused
is corrected from the outbox (`e`) and created.
"""

import string
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from textual.message import Message
from textual.notifications import Notify
from textual.widgets import Input, Static, TextArea

from casedesk.api.client import CaseApiClient
from casedesk.api.retry import RetryPolicy
from casedesk.api.secret import ApiKey
from casedesk.domain import limits
from casedesk.domain.create import NewCase
from casedesk.domain.enums import CompanyType
from casedesk.domain.envelope import ErrorDetail
from casedesk.server_process import ServerProcess, start_server
from casedesk.store.local import LocalStore
from casedesk.store.outbox_item import ItemError, ParkReason
from casedesk.sync.service import CaseService
from casedesk.tui.app import CasedeskApp
from casedesk.tui.forms.fields import FormField
from casedesk.tui.forms.new_case import AFFILIATED, FORM, NewCaseForm, fields_of
from casedesk.tui.forms.new_case_lines import ROLES, read_companies, read_individuals
from casedesk.tui.screens.outbox import OutboxScreen
from casedesk.tui.screens.queue import QueueScreen
from casedesk.tui.settings import ConsoleSettings

SIZE = (160, 50)


# -- the lines, read without a console -----------------------------------------------------


@pytest.mark.parametrize(
    ("line", "person"),
    [
        (
            "Ada Lovelace <ada@example.com>; born 1815-12-10; director, shareholder 40%; "
            "beneficial_owner @sub",
            {
                "first_name": "Ada",
                "last_name": "Lovelace",
                "email": "ada@example.com",
                "birth_date": "1815-12-10",
                "relations": [
                    {
                        "source_company_ref": "main",
                        "roles": ["director", "shareholder"],
                        "ownership_percentage": 40.0,
                    },
                    {"source_company_ref": "sub", "roles": ["beneficial_owner"]},
                ],
            },
        ),
        (  # the parts of one relation may come one after another; a unique start names a role
            "Lovelace, Ada Augusta; legal rep, dir; 12,5 %; @sub",
            {
                "first_name": "Ada Augusta",
                "last_name": "Lovelace",
                "relations": [
                    {
                        "source_company_ref": "sub",
                        "roles": ["legal_representative", "director"],
                        "ownership_percentage": 12.5,
                    }
                ],
            },
        ),
        (
            "Grace Hopper grace@example.com",
            {"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com"},
        ),
        (  # two parts for the same company are one relation to it
            "Cy Young; dir; bene 30%",
            {
                "first_name": "Cy",
                "last_name": "Young",
                "relations": [
                    {
                        "source_company_ref": "main",
                        "roles": ["director", "beneficial_owner"],
                        "ownership_percentage": 30.0,
                    }
                ],
            },
        ),
    ],
    ids=["everything", "spread-out", "no-relation", "one-relation-per-company"],
)
def test_an_individual_line_reads_into_the_body_the_api_expects(
    line: str, person: dict[str, Any]
) -> None:
    [read] = read_individuals(line, "main")
    assert read.problems == []
    assert read.body == person


@pytest.mark.parametrize(
    ("line", "path", "words"),
    [
        ("Ada", "last_name", "First Last"),
        ("Ada Lovelace director", "", "after a ';'"),
        ("Ada Lovelace; ceo", "relations.0.roles", "'ceo' is not a role"),
        ("Ada Lovelace; 40%", "relations.0.roles", "Required"),
        ("Ada Lovelace; director lots%", "relations.0.ownership_percentage", "percentage"),
        ("Ada Lovelace; director @a @b", "relations.0", "Two companies"),
        ("Ada Lovelace; born 1815-13-10", "birth_date", "YYYY-MM-DD"),
        ("Ada Lovelace <ada@example.com", "email", "between < and >"),
    ],
)
def test_a_mistyped_individual_line_names_what_is_wrong(line: str, path: str, words: str) -> None:
    [read] = read_individuals(line, "main")
    assert [problem.path for problem in read.problems] == [path]
    assert words in read.problems[0].message


def test_a_company_line_is_ref_name_registration_country_with_empty_parts_allowed() -> None:
    first, second, third = read_companies("sub; Sub GmbH;; de\n\n; No Ref Ltd\nalone\n")
    assert first.body == {"type": "affiliated", "ref": "sub", "name": "Sub GmbH", "country": "DE"}
    assert (second.number, second.body) == (3, {"type": "affiliated", "name": "No Ref Ltd"})
    assert [(p.path, "read as the ref" in p.message) for p in third.problems] == [("name", True)]


# -- a queued case written back into the form ----------------------------------------------


def bare_form() -> NewCaseForm:
    """The form's reading, without a console (building a case needs neither app nor service)."""
    return NewCaseForm(cast(CaseService, None), queues=[])


def wire(case: NewCase) -> dict[str, Any]:
    """The body as queued (only what was set, as the outbox keeps it)."""
    return case.model_dump(mode="json", exclude_unset=True)


def test_typed_lines_come_back_as_lines_that_read_into_the_same_case() -> None:
    form = bare_form()
    case = form.build(
        {
            "name": "Nordwind",
            "companies.0.ref": "main",
            "companies.0.name": "Nordwind Holding GmbH",
            AFFILIATED: "logi; Nordwind Logistik AG; CHE-123; ch\n\n; No Ref Ltd\n"
            "fin; Nordwind Finance Ltd;;\n",
            "individuals": "Greta Lindqvist <greta@example.com>; born 1971-04-02; shareholder, "
            "director 40%; beneficial_owner 100% @logi\n"
            "Jonas Berg; legal rep @fin\n"
            "Lovelace, Ada Augusta; dir; 12,5 %; @logi; share 5% @fin\n"
            "Cy Young; dir; bene 30%; @main\n"
            "Grace Hopper grace@example.com\n",
        }
    )
    values = fields_of(case)
    assert values[AFFILIATED] == (
        "logi; Nordwind Logistik AG; CHE-123; CH\n; No Ref Ltd\nfin; Nordwind Finance Ltd"
    )
    assert values["individuals"] == (
        "Greta Lindqvist <greta@example.com>; born 1971-04-02; shareholder, director 40%; "
        "beneficial_owner 100% @logi\n"
        "Jonas Berg; legal_representative @fin\n"
        "Lovelace, Ada Augusta; director 12.5% @logi; shareholder 5% @fin\n"
        "Cy Young; director, beneficial_owner 30%\n"
        "Grace Hopper <grace@example.com>"
    )
    assert wire(form.build(values)) == wire(case)


_SINGLE_LINE = st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp"))
"""Any character a line of text can hold (no line breaks of any kind)."""


def _typed(*, without: str = "", size: int = 20) -> st.SearchStrategy[str]:
    """Text as the form keeps it: on one line, trimmed, not empty."""
    chars = st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp"), exclude_characters=without)
    return st.text(chars, min_size=1, max_size=size).map(str.strip).filter(bool)


_REFS = st.text(string.ascii_letters + string.digits + "-_./", min_size=1, max_size=8)
_WORDS = st.text(
    st.characters(categories=("L",), include_characters="'-."), min_size=1, max_size=10
).filter(lambda word: word.casefold() not in ROLES)
_NAMES = st.lists(_WORDS, min_size=1, max_size=3).map(" ".join)
_SHARES = st.none() | st.floats(min_value=0, max_value=100, allow_nan=False)


def _one_relation_per_company_unless_all_have_a_share(relations: list[dict[str, Any]]) -> bool:
    """What reading leaves: parts naming one company are one relation, unless each has a share."""
    by_company: dict[str, list[dict[str, Any]]] = {}
    for relation in relations:
        by_company.setdefault(relation["source_company_ref"], []).append(relation)
    return all(
        len(same) == 1 or all("ownership_percentage" in r for r in same)
        for same in by_company.values()
    )


@st.composite
def _relations(draw: st.DrawFn, refs: list[str]) -> list[dict[str, Any]]:
    if not refs:
        return []
    relations = []
    for _ in range(draw(st.integers(0, 3))):
        relation: dict[str, Any] = {
            "roles": draw(st.lists(st.sampled_from(ROLES), min_size=1, unique=True)),
            "source_company_ref": draw(st.sampled_from(refs)),
        }
        share = draw(_SHARES)
        if share is not None:
            relation["ownership_percentage"] = share
        relations.append(relation)
    return relations


@st.composite
def _individual(draw: st.DrawFn, refs: list[str]) -> dict[str, Any]:
    person: dict[str, Any] = {"first_name": draw(_NAMES), "last_name": draw(_NAMES)}
    email = draw(
        st.none() | st.from_regex(r"[a-z0-9._+-]{1,8}@[a-z0-9-]{1,8}\.[a-z]{2,4}", fullmatch=True)
    )
    if email is not None:
        person["email"] = email
    born = draw(st.none() | st.dates())
    if born is not None:
        person["birth_date"] = born.isoformat()
    relations = draw(_relations(refs).filter(_one_relation_per_company_unless_all_have_a_share))
    if relations:
        person["relations"] = relations
    return person


@st.composite
def _company(draw: st.DrawFn, kind: CompanyType, ref: str | None) -> dict[str, Any]:
    company: dict[str, Any] = {"type": kind.value, "name": draw(_typed(without=";"))}
    for key, value in (
        ("ref", ref),
        ("registration_number", draw(st.none() | _typed(without=";"))),
        ("country", draw(st.none() | st.text(string.ascii_uppercase, min_size=2, max_size=2))),
    ):
        if value is not None:
            company[key] = value
    return company


@st.composite
def queued_cases(draw: st.DrawFn) -> dict[str, Any]:
    """Bodies of new cases as the form queues them (what reading its fields can give)."""
    body: dict[str, Any] = {
        "name": draw(st.text(_SINGLE_LINE, min_size=1, max_size=30).filter(str.strip)),
        "status": draw(st.sampled_from(["open", "draft"])),
    }
    for key, value in (
        ("type", draw(st.none() | _typed())),
        ("queue_id", draw(st.none() | st.uuids().map(str))),
        ("template_key", draw(st.none() | _typed())),
        ("external_id", draw(st.none() | _typed())),
        ("tags", draw(st.lists(_typed(without=","), max_size=4) | st.none())),
        (
            "metadata",
            draw(
                st.dictionaries(
                    _typed(without="="),
                    st.text(_SINGLE_LINE, max_size=12).map(str.strip),
                    max_size=3,
                )
            ),
        ),
    ):
        if value:
            body[key] = value
    refs: list[str] = []
    if draw(st.booleans()):  # a main company, then affiliated ones
        count = draw(st.integers(0, 3))
        own = draw(st.lists(st.none() | _REFS, min_size=count + 1, max_size=count + 1))
        unique = [ref for ref in own if ref is not None]
        assume(len(unique) == len(set(unique)))
        body["companies"] = [
            draw(_company(CompanyType.MAIN if index == 0 else CompanyType.AFFILIATED, ref))
            for index, ref in enumerate(own)
        ]
        refs = unique
    people = draw(st.lists(_individual(refs), max_size=3))
    if people:
        body["individuals"] = people
    return body


@settings(max_examples=150, derandomize=True, deadline=None, database=None)
@given(queued_cases())
def test_a_queued_case_written_into_the_fields_reads_back_into_the_same_body(
    body: dict[str, Any],
) -> None:
    case = NewCase.model_validate(body)
    assert wire(case) == body  # the strategy makes bodies as the outbox keeps them
    assert wire(bare_form().build(fields_of(case))) == body


# -- the console ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = start_server(tmp_path_factory.mktemp("new-case") / "data", demo_cases=10, seed=4)
    yield process
    process.stop()


def reviewer_key(server: ServerProcess) -> str:
    users = server.demo_users()
    org = users[0]["organization"]["id"]
    user = next(
        u for u in users if u["organization"]["id"] == org and set(u["roles"]) == {"reviewer"}
    )
    return str(user["api_key"])


@asynccontextmanager
async def desk(
    server: ServerProcess, data: Path, *, sync: bool = True
) -> AsyncIterator[CaseService]:
    """A local store and the service over it, as `cli.py` wires them; closed on leaving."""
    store = LocalStore.open(data)
    client = CaseApiClient(
        server.base_url, ApiKey(reviewer_key(server)), retry=RetryPolicy(attempts=1)
    )
    service = CaseService(profile_name="test", store=store, backend=client)
    try:
        if sync:
            await service.sync()
        yield service
    finally:
        await client.aclose()
        store.close()


@pytest.fixture
async def service(server: ServerProcess, tmp_path: Path) -> AsyncIterator[CaseService]:
    async with desk(server, tmp_path / "data") as opened:
        yield opened


def console(service: CaseService) -> CasedeskApp:
    return CasedeskApp(service, ConsoleSettings(profile="test", sync_on_start=False))


def cases_named(server: ServerProcess, name: str) -> list[dict[str, Any]]:
    with httpx.Client(
        base_url=server.base_url, headers={"X-API-KEY": reviewer_key(server)}, timeout=30
    ) as http:
        answer = http.get("/v1/cases", params={"q": name, "limit": 200})
    assert answer.status_code == 200, answer.text
    return [case for case in answer.json()["data"] if case["name"] == name]


async def settle(pilot: Any) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def open_form(pilot: Any) -> NewCaseForm:
    await settle(pilot)
    assert isinstance(pilot.app.screen, QueueScreen)
    await pilot.press("N")
    await pilot.pause()
    form = pilot.app.screen
    assert isinstance(form, NewCaseForm), type(form).__name__
    return form


def put(form: NewCaseForm, path: str, text: str) -> None:
    editor = form.fields[path].editor
    if isinstance(editor, TextArea):
        editor.load_text(text)
    else:
        assert isinstance(editor, Input)
        editor.value = text


def error_of(form: NewCaseForm, path: str) -> str:
    shown: FormField = form.fields[path]
    return str(shown.error.render()) if shown.invalid else ""


def notes(seen: list[Message]) -> list[str]:
    said = [m.notification for m in seen if isinstance(m, Notify)]
    assert all(not n.markup for n in said)
    return [n.message for n in said]


def typed(text: str) -> tuple[str, ...]:
    """Key names that type `text` (Pilot names some characters by their key)."""
    names = {
        " ": "space",
        ";": "semicolon",
        "@": "at",
        "%": "percent_sign",
        "<": "less_than_sign",
        ">": "greater_than_sign",
        ",": "comma",
        ".": "full_stop",
        "-": "minus",
    }
    return tuple(names.get(char, char) for char in text)


async def test_a_blank_name_is_shown_under_the_name_and_nothing_is_queued(
    service: CaseService,
) -> None:
    app = console(service)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is form
        assert error_of(form, "name") == "Required."
        put(form, "name", "   ")
        put(form, "companies.0.name", "Acme")
        put(form, "companies.0.country", "france")
        put(form, "individuals", "[b]Ada[/b]; director")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is form
        assert error_of(form, "name")
        assert "'france' is not two letters" in error_of(form, "companies.0.country")
        assert error_of(form, "individuals").startswith(  # what was typed, shown literally
            "Line 1, last name: Required — only '[b]Ada[/b]' is typed"
        )
        assert "Required: line 1 of the individuals" in error_of(form, "companies.0.ref")
    assert service.outbox(include_done=True) == []


async def test_a_case_with_a_main_and_two_affiliated_companies_and_their_people_is_created(
    server: ServerProcess, service: CaseService
) -> None:
    name = f"Nordwind Holding {uuid.uuid4().hex[:6]}"
    queue = service.queues()[-1]
    app = console(service)
    seen: list[Message] = []
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        form = await open_form(pilot)
        assert app.focused is form.fields["name"].editor
        await pilot.press(*"Nordwind")
        await pilot.press("tab")
        assert app.focused is form.fields["type"].editor
        put(form, "name", name)
        put(form, "type", "kyb")
        form.fields["queue_id"].set_value(str(queue.id))
        put(form, "external_id", f"ext-{uuid.uuid4().hex[:8]}")
        put(form, "tags", "urgent, new client")
        put(form, "metadata", "source=console\nchannel = phone\n")
        put(form, "companies.0.ref", "main")
        put(form, "companies.0.name", "Nordwind Holding GmbH")
        put(form, "companies.0.registration_number", "HRB 12345")
        # Enter in the last one-line field moves on to the affiliated companies, typed by key.
        form.fields["companies.0.country"].editor.focus()
        await pilot.press("d", "e", "enter")
        assert app.focused is form.fields[AFFILIATED].editor
        await pilot.press(*typed("logi; Nordwind Logistik AG; CHE-123; ch"), "enter")
        await pilot.press(*typed("fin; Nordwind Finance Ltd"))
        await pilot.press("tab")
        assert app.focused is form.fields["individuals"].editor
        await pilot.press("shift+tab")
        assert app.focused is form.fields[AFFILIATED].editor
        put(
            form,
            "individuals",
            "Greta Lindqvist <greta@example.com>; born 1971-04-02; shareholder, director 40%;"
            " beneficial_owner 100% @logi\n"
            "Jonas Berg; legal rep @fin\n"
            "\n"
            "Lovelace, Ada Augusta; dir; 12.5%; @logi; share 5% @fin\n",
        )
        await pilot.press("ctrl+s")
        await settle(pilot)
        await settle(pilot)
        assert isinstance(app.screen, QueueScreen)
        said = notes(seen)
        assert any(note.startswith("created") for note in said), said
    [case] = cases_named(server, name)
    companies = [
        (c["ref"], c["type"], c["name"], c["registration_number"], c["country"])
        for c in case["companies"]
    ]
    assert companies == [
        ("main", "main", "Nordwind Holding GmbH", "HRB 12345", "DE"),
        ("logi", "affiliated", "Nordwind Logistik AG", "CHE-123", "CH"),
        ("fin", "affiliated", "Nordwind Finance Ltd", None, None),
    ]
    people = {(p["first_name"], p["last_name"]): p for p in case["individuals"]}
    assert list(people) == [("Greta", "Lindqvist"), ("Jonas", "Berg"), ("Ada Augusta", "Lovelace")]
    greta = people["Greta", "Lindqvist"]
    assert (greta["email"], greta["birth_date"]) == ("greta@example.com", "1971-04-02")

    def relations(person: dict[str, Any]) -> list[tuple[str, list[str], float | None]]:
        return [
            (r["source_company_ref"], r["roles"], r["ownership_percentage"])
            for r in person["relations"]
        ]

    assert relations(greta) == [
        ("main", ["shareholder", "director"], 40),
        ("logi", ["beneficial_owner"], 100),
    ]
    assert relations(people["Jonas", "Berg"]) == [("fin", ["legal_representative"], None)]
    assert relations(people["Ada Augusta", "Lovelace"]) == [
        ("logi", ["director"], 12.5),
        ("fin", ["shareholder"], 5),
    ]
    assert service.draft(None, FORM) is None


async def test_each_mistake_is_named_on_its_field_and_line_before_anything_is_queued(
    service: CaseService,
) -> None:
    app = console(service)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot)
        put(form, "name", "Mistakes")
        put(form, "companies.0.ref", "main")
        put(form, "companies.0.name", "Main Ltd")
        put(
            form,
            AFFILIATED,
            "sub; Sub GmbH; HRB 1; DE\n"
            "main; Twin Ltd\n"  # 2: the main company's ref again
            "sub; Sub Again\n"  # 3: a ref of line 1 again
            "lonely\n"  # 4: no name
            "far; Far Ltd;; Germany\n"  # 5: not a country code
            "x; X; 1; FR; extra\n",  # 6: a part too many
        )
        put(
            form,
            "individuals",
            "Ada Lovelace; director\n"  # 1: fine
            "Bob\n"  # 2: no last name
            "Cy Twombly <cy at example.com>; director\n"  # 3: not an email
            "Di Prince; born 1990-02-30; director\n"  # 4: not a date
            "Ed Ruscha; ceo\n"  # 5: not a role
            "Flo Kahn; shareholder 150%\n"  # 6: over 100%
            "Gil Scott; shareholder -5%\n"  # 7: under 0%
            "Hal Foster; director @nowhere\n"  # 8: no such company
            "Ida Wells; @sub\n",  # 9: a relation without a role
        )
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is form
        companies = error_of(form, AFFILIATED).splitlines()
        assert companies[:3] == [
            "Line 2, ref: The ref 'main' is taken by the main company: each company needs its own.",
            "Line 3, ref: The ref 'sub' is taken by line 1: each company needs its own.",
            "Line 4, name: Required — only 'lonely' is typed, read as the ref: write ref; name.",
        ]
        assert companies[3].startswith("Line 5, country: 'Germany' is not two letters")
        assert companies[4].startswith("Line 6: 5 parts where at most 4 are read")
        assert len(companies) == 5
        people = error_of(form, "individuals")
        expected = [
            "Line 2, last name: Required",
            "Line 3, email: Must be an email address",
            "Line 4, birth date: '1990-02-30' is not a date",
            "Line 5, relation to the main company, roles: 'ceo' is not a role",
            "Line 6, relation to the main company, ownership: At most 100% (150% given).",
            "Line 7, relation to the main company, ownership: At least 0% (-5% given).",
            "… and 2 more.",
        ]
        assert [
            line[: len(want)] for line, want in zip(people.splitlines(), expected, strict=True)
        ] == expected
        # The focus goes to the first field to mend, the cursor to its first bad line.
        editor = form.fields[AFFILIATED].editor
        assert isinstance(editor, TextArea)
        assert app.focused is editor
        assert editor.cursor_location[0] == 1

        # The lines beyond the first six, once those are mended.
        put(form, AFFILIATED, "sub; Sub GmbH; HRB 1; DE\n")
        put(
            form,
            "individuals",
            "Gil Scott; shareholder -5%\nHal Foster; director @nowhere\nIda Wells; @sub\n",
        )
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert error_of(form, AFFILIATED) == ""
        assert error_of(form, "individuals").splitlines() == [
            "Line 1, relation to the main company, ownership: At least 0% (-5% given).",
            "Line 2, relation to 'nowhere': No company has the ref 'nowhere' "
            "(the refs: 'main', 'sub').",
            "Line 3, relation to 'sub', roles: Required — name at least one: shareholder, "
            "beneficial_owner, legal_representative, director.",
        ]

        # Affiliated companies and relations need a main company (with a ref for the
        # relations without @ref).
        for path in ("companies.0.ref", "companies.0.name"):
            put(form, path, "")
        put(form, "individuals", "Ada Lovelace; director\nJo March; director @sub\n")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert error_of(form, "companies.0.name") == (
            "Required: the companies of a case include exactly one main company."
        )
        assert error_of(form, "companies.0.ref") == (
            "Required: line 1 of the individuals relates to the main company by its ref "
            "(or name another company there with @ref)."
        )
        assert error_of(form, "individuals") == ""

        # The limits of the API, from the domain's limits.
        put(form, "companies.0.ref", "main")
        put(form, "companies.0.name", "Main Ltd")
        put(form, AFFILIATED, "".join(f"c{n}; C {n}\n" for n in range(limits.COMPANIES_MAX)))
        put(
            form,
            "individuals",
            "".join(f"Person Number{n}\n" for n in range(limits.INDIVIDUALS_MAX + 1)),
        )
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert error_of(form, AFFILIATED) == (
            f"{limits.COMPANIES_MAX + 1} companies, the main one included: "
            f"at most {limits.COMPANIES_MAX}."
        )
        assert error_of(form, "individuals") == (
            f"{limits.INDIVIDUALS_MAX + 1} individuals: at most {limits.INDIVIDUALS_MAX}."
        )
        assert app.screen is form
    assert service.outbox(include_done=True) == []


async def test_escape_keeps_the_draft_and_n_reopens_it(service: CaseService) -> None:
    app = console(service)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot)
        await pilot.press(*"Half typed")
        put(form, "individuals", "Ada Lovelace; director")
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, QueueScreen)
        kept = service.draft(None, FORM)
        assert kept is not None and kept["name"] == "Half typed"
        again = await open_form(pilot)
        assert again.fields["name"].value == "Half typed"
        assert again.fields["individuals"].value == "Ada Lovelace; director"
        assert again.fields["status"].value == "open"
    assert service.outbox(include_done=True) == []


async def test_the_typed_companies_and_people_survive_a_restart(
    server: ServerProcess, tmp_path: Path
) -> None:
    affiliated = "sub; Sub GmbH; HRB 1; DE\nfin; Fin Ltd"
    people = "Ada Lovelace <ada@example.com>; born 1815-12-10; director 40%; share @sub"
    async with desk(server, tmp_path / "data") as first:
        app = console(first)
        async with app.run_test(size=SIZE) as pilot:
            form = await open_form(pilot)
            put(form, "name", "Kept across a restart")
            put(form, AFFILIATED, affiliated)
            put(form, "individuals", people.removesuffix("; share @sub"))
            editor = form.fields["individuals"].editor
            assert isinstance(editor, TextArea)
            editor.focus()
            editor.move_cursor(editor.document.end)
            await pilot.press(*typed("; share @sub"), "ctrl+q")  # quicker than the draft delay
            await pilot.pause()
    async with desk(server, tmp_path / "data", sync=False) as again:
        app = console(again)
        async with app.run_test(size=SIZE) as pilot:
            form = await open_form(pilot)
            assert form.fields["name"].value == "Kept across a restart"
            assert form.fields[AFFILIATED].value == affiliated
            assert form.fields["individuals"].value == people
            await pilot.press("escape")
            await settle(pilot)
        assert again.outbox(include_done=True) == []


# -- a case the API refused, corrected from the outbox -------------------------------------


async def test_a_refused_case_reopens_from_the_outbox_as_typed_and_its_correction_is_created(
    server: ServerProcess, service: CaseService
) -> None:
    taken = f"ext-{uuid.uuid4().hex[:8]}"
    with httpx.Client(
        base_url=server.base_url, headers={"X-API-KEY": reviewer_key(server)}, timeout=30
    ) as http:
        answer = http.post(
            "/v1/cases",
            json={"name": "Holds the external id", "external_id": taken},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert answer.status_code == 201, answer.text
        listed = http.get("/v1/cases", params={"limit": 200}).json()["data"]
    template_key = next(case["template_key"] for case in listed if case["template_key"])
    name = f"Refused Holding {uuid.uuid4().hex[:6]}"
    queue = service.queues()[-1]
    # Typed as the form writes lines back, so that "as typed" can be compared exactly.
    typed_in = {
        "name": name,
        "type": "kyb",
        "template_key": template_key,
        "external_id": taken,
        "tags": "urgent, new client",
        "metadata": "source=console\nchannel=phone",
        "companies.0.ref": "main",
        "companies.0.name": "Refused Holding GmbH",
        "companies.0.registration_number": "HRB 12345",
        "companies.0.country": "DE",
        AFFILIATED: "logi; Refused Logistik AG; CHE-123; CH\n; No Ref Ltd",
        "individuals": "Greta Lindqvist <greta@example.com>; born 1971-04-02; shareholder, "
        "director 40%; beneficial_owner 100% @logi\n"
        "Lovelace, Ada Augusta; director 12.5% @logi; shareholder 5%\n"
        "Jonas Berg",
    }
    app = console(service)
    seen: list[Message] = []
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        form = await open_form(pilot)
        for path, text in typed_in.items():
            put(form, path, text)
        form.fields["queue_id"].set_value(str(queue.id))
        await pilot.press("ctrl+s")
        await settle(pilot)
        refused = f"A case with external_id {taken!r} already exists."
        assert f"refused: {refused}" in notes(seen)
        [item] = service.outbox()
        assert (item.state, item.last_error and item.last_error.status) == ("parked", 409)
        # Meanwhile the reviewer starts another case: that draft is not the correction's.
        await service.save_draft(None, FORM, {"name": "Another case"})

        await pilot.press("O")
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        fix = app.screen
        assert isinstance(fix, NewCaseForm), type(fix).__name__
        assert str(fix.title_content()) == f"Correct a refused case — {name}"
        assert {path: fix.fields[path].value for path in typed_in} == typed_in
        assert fix.fields["queue_id"].value == str(queue.id)
        assert error_of(fix, "external_id") == "Must be unique: another case already uses it."
        box = fix.query_one("#form-error", Static)
        assert str(box.render()) == f"Refused by the API: {refused}"
        assert app.focused is fix.fields["external_id"].editor

        # Esc keeps the correction's own draft; `e` reopens it, the API's answer still shown.
        fixed = f"{taken}-b"
        put(fix, "external_id", fixed)
        await pilot.press("escape")
        await settle(pilot)
        correction = f"{FORM}@{item.id}"
        kept = service.draft(None, correction)
        assert kept is not None and kept["external_id"] == fixed
        assert service.draft(None, FORM) == {"name": "Another case"}
        await pilot.press("e")
        await settle(pilot)
        fix = app.screen
        assert isinstance(fix, NewCaseForm)
        assert fix.fields["external_id"].value == fixed
        assert error_of(fix, "external_id") == "Must be unique: another case already uses it."

        await pilot.press("ctrl+s")
        await settle(pilot)
        await settle(pilot)
        assert isinstance(app.screen, OutboxScreen)
        assert app.screen.table.row_count == 0
        assert f"created: {name}" in notes(seen)
    assert service.outbox() == []
    assert service.draft(None, correction) is None
    assert service.draft(None, FORM) == {"name": "Another case"}
    [case] = cases_named(server, name)
    assert case["external_id"] == fixed
    assert [(c["ref"], c["type"], c["name"]) for c in case["companies"]] == [
        ("main", "main", "Refused Holding GmbH"),
        ("logi", "affiliated", "Refused Logistik AG"),
        (None, "affiliated", "No Ref Ltd"),
    ]
    people = {
        (p["first_name"], p["last_name"]): [
            (r["source_company_ref"], r["roles"], r["ownership_percentage"]) for r in p["relations"]
        ]
        for p in case["individuals"]
    }
    assert people == {
        ("Greta", "Lindqvist"): [
            ("main", ["shareholder", "director"], 40),
            ("logi", ["beneficial_owner"], 100),
        ],
        ("Ada Augusta", "Lovelace"): [("logi", ["director"], 12.5), ("main", ["shareholder"], 5)],
        ("Jonas", "Berg"): [],
    }


async def test_the_paths_of_a_refusal_are_shown_on_the_lines_they_name(
    service: CaseService,
) -> None:
    case = bare_form().build(
        {
            "name": "Paths",
            "companies.0.ref": "main",
            "companies.0.name": "Main Ltd",
            AFFILIATED: "sub; Sub GmbH\nfin; Fin Ltd",
            "individuals": "Ada Lovelace; director @fin\nJo March; director",
        }
    )
    queued = await service.create_case(case, send=False)
    details = [
        ErrorDetail(path="companies.1.ref", message="ref 'sub' is reserved"),
        ErrorDetail(
            path="individuals.1.relations.0.source_company_ref",
            message="no company with ref 'main' in this request",
        ),
        ErrorDetail(path="assignee_id", message="no such user"),
    ]
    error = ItemError(code="invalid_request", message="Invalid.", details=details, status=400)
    service.store.outbox.park(queued.item.id, ParkReason.REJECTED, error)
    app = console(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("O")
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        fix = app.screen
        assert isinstance(fix, NewCaseForm), type(fix).__name__
        assert error_of(fix, AFFILIATED) == "Line 1, ref: Ref 'sub' is reserved."
        assert error_of(fix, "individuals") == (
            "Line 2, relation to the main company: No company with ref 'main' in this request."
        )
        box = str(fix.query_one("#form-error", Static).render())
        assert box.splitlines() == ["Refused by the API: Invalid.", "assignee_id: No such user."]
        assert app.focused is fix.fields[AFFILIATED].editor
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, OutboxScreen)
    assert [item.state for item in service.outbox()] == ["parked"]

"""The sanitiser: what untrusted text may still contain once it has entered casedesk."""

import json
import unicodedata

import orjson
from hypothesis import example, given
from hypothesis import strategies as st

from casedesk.domain.sanitize import (
    FORBIDDEN_CODE_POINTS,
    REPLACEMENT,
    json_needs_sanitizing,
    sanitize_json,
    sanitize_text,
)

ESC = "\x1b"

any_text = st.text(alphabet=st.characters(exclude_categories=()), max_size=200)
"""Every code point, surrogates and controls included."""

dangerous = st.sampled_from(sorted(chr(code) for code in FORBIDDEN_CODE_POINTS))
mixed_text = st.lists(st.one_of(dangerous, st.text(max_size=5)), max_size=40).map("".join)


@given(st.one_of(any_text, mixed_text))
@example("\r\n\r\r\n\u2028\u2029")
@example("\ud800abc\udfff")
def test_output_never_contains_a_forbidden_code_point(text: str) -> None:
    cleaned = sanitize_text(text)
    assert not FORBIDDEN_CODE_POINTS.intersection(map(ord, cleaned))
    cleaned.encode("utf-8")  # no lone surrogate left: always encodable


@given(st.one_of(any_text, mixed_text))
def test_sanitising_twice_changes_nothing_more(text: str) -> None:
    once = sanitize_text(text)
    assert sanitize_text(once) == once


@given(st.text(alphabet=st.characters(exclude_categories=["Cc", "Cf", "Cs", "Zl", "Zp"])))
@example("Société Générale — dossier n° 42 [bold]not markup[/bold]")
@example("שלום עולם مرحبا 你好 🙂‍↕️")
def test_printable_text_comes_back_unchanged_and_is_the_same_object(text: str) -> None:
    assert sanitize_text(text) is text


@given(st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=50))
def test_line_breaks_and_tabs_survive(text: str) -> None:
    assert sanitize_text(f"a\tb\n{text}").startswith("a\tb\n")


def test_terminal_escape_sequences_are_defused_visibly() -> None:
    assert sanitize_text(f"{ESC}[31mred{ESC}]8;;http://x{ESC}\\link") == (
        f"{REPLACEMENT}[31mred{REPLACEMENT}]8;;http://x{REPLACEMENT}\\link"
    )
    assert sanitize_text("bell\x07 nul\x00 del\x7f c1\x9b") == (
        f"bell{REPLACEMENT} nul{REPLACEMENT} del{REPLACEMENT} c1{REPLACEMENT}"
    )


def test_every_line_break_becomes_a_newline() -> None:
    assert sanitize_text("a\r\nb\rc\u2028d\u2029e\nf") == "a\nb\nc\nd\ne\nf"


def test_bidi_overrides_show_and_bidi_marks_vanish() -> None:
    # Trojan-Source style reordering is made visible; marks typed in RTL text are dropped.
    assert sanitize_text("invoice\u202egpj.exe") == f"invoice{REPLACEMENT}gpj.exe"
    assert sanitize_text("\u2066isolated\u2069") == f"{REPLACEMENT}isolated{REPLACEMENT}"
    assert sanitize_text("abc\u200edef\u200fghi\u061c") == "abcdefghi"


def test_lone_surrogates_become_the_replacement_character() -> None:
    assert sanitize_text("a\ud83db") == f"a{REPLACEMENT}b"


def test_markup_characters_are_left_for_the_console_to_escape() -> None:
    assert sanitize_text("[red]alert[/red] [link=x]") == "[red]alert[/red] [link=x]"


def test_every_forbidden_code_point_is_a_control_format_or_separator() -> None:
    # Guards the table against accidentally catching ordinary letters.
    for code in FORBIDDEN_CODE_POINTS:
        assert unicodedata.category(chr(code)) in {"Cc", "Cf", "Cs", "Zl", "Zp"}, hex(code)


def test_json_values_are_cleaned_everywhere_keys_included() -> None:
    value = {
        "name": f"x{ESC}y",
        "metadata": {f"k{ESC}": ["ok", "v\x00", 3, None, True]},
        "n": 1.5,
    }
    assert sanitize_json(value) == {
        "name": f"x{REPLACEMENT}y",
        "metadata": {f"k{REPLACEMENT}": ["ok", f"v{REPLACEMENT}", 3, None, True]},
        "n": 1.5,
    }


@given(
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), any_text),
        lambda children: st.one_of(
            st.lists(children, max_size=4), st.dictionaries(any_text, children, max_size=4)
        ),
        max_leaves=20,
    )
)
def test_no_string_anywhere_in_json_keeps_a_forbidden_code_point(value: object) -> None:
    def strings(node: object) -> list[str]:
        if isinstance(node, str):
            return [node]
        if isinstance(node, list):
            return [s for item in node for s in strings(item)]
        if isinstance(node, dict):
            return [s for k, v in node.items() for s in [k, *strings(v)]]
        return []

    for text in strings(sanitize_json(value)):
        assert not FORBIDDEN_CODE_POINTS.intersection(map(ord, text))


encodable_text = st.one_of(
    st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=60),
    st.lists(st.one_of(dangerous, st.text(max_size=5)), max_size=20)
    .map("".join)
    .filter(lambda text: not any(0xD800 <= ord(char) < 0xE000 for char in text)),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), encodable_text),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(encodable_text, children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values, st.sampled_from(["orjson", "json", "json-ascii"]))
@example({"name": "Acme\u2028Ltd"}, "orjson")
@example({"k\x1b": "v"}, "json")
@example(["\\u0041"], "orjson")
def test_a_document_the_byte_scan_passes_needs_no_sanitising(value: object, encoder: str) -> None:
    """The fast path (`json_needs_sanitizing` false: the tree walk is skipped) is never wrong,
    whichever way a server encodes its JSON."""
    if encoder == "orjson":
        document = orjson.dumps(value)
    else:
        document = json.dumps(value, ensure_ascii=encoder == "json-ascii").encode()
    parsed = orjson.loads(document)
    if not json_needs_sanitizing(document):
        assert sanitize_json(orjson.loads(document)) == parsed


def test_a_page_of_plain_cases_passes_the_byte_scan_and_a_hostile_one_does_not() -> None:
    page = orjson.dumps({"data": [{"name": "Zoë Brontë [bold]", "tags": ["🙂"]}] * 50})
    assert not json_needs_sanitizing(page)
    for hostile in ("\x1b]8;;http://x\x07", "a\u202eb", "\r", "\x85", "\u200f"):
        assert json_needs_sanitizing(orjson.dumps({"name": hostile})), repr(hostile)

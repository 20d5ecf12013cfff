"""Untrusted text made safe to keep and show, applied once where it enters casedesk.

Every string the case API client returns (names, chat bodies, notes, the API's
own error messages, dictionary keys) passes through `sanitize_text`. What
changes, and why:

- C0 controls other than `\\n` and `\\t` (ESC among them), DEL and the C1 range
  U+0080-U+009F become U+FFFD: they could drive the terminal (colours, cursor
  moves, OSC 8 links, OSC 52 clipboard writes), and a visible mark shows the
  reviewer that the text carried something odd.
- `\\r\\n` and a lone `\\r` become `\\n`; U+2028/U+2029 (line/paragraph
  separators) become `\\n`, so every line break looks the same everywhere.
- Lone surrogates (U+D800-U+DFFF, only reachable through JSON `\\ud800`
  escapes) become U+FFFD: they cannot be encoded and would crash a writer.
- Bidi embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069)
  become U+FFFD, visibly: they reorder what is displayed ("Trojan Source"),
  so a name could read differently from what it is, and ordinary text hardly
  ever needs them.
- Bidi marks (U+200E LRM, U+200F RLM, U+061C ALM) are removed silently: they
  are invisible, legitimately typed in Arabic and Hebrew text, and a terminal
  has no use for them.

Square brackets and other markup characters are left alone: rendering text
literally is the console's job (see STYLE.md, section 2).
"""

import re
from typing import Any, Final

REPLACEMENT: Final = "\ufffd"
"""What a dangerous, invisible character becomes: the visible replacement character."""


def _build_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    for code in range(0x00, 0x20):
        table[code] = REPLACEMENT
    del table[ord("\t")], table[ord("\n")]
    table[ord("\r")] = "\n"  # `\r\n` is collapsed first; what is left is a lone `\r`
    table[0x7F] = REPLACEMENT
    for code in range(0x80, 0xA0):
        table[code] = REPLACEMENT
    table[0x2028] = "\n"
    table[0x2029] = "\n"
    for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)):
        table[code] = REPLACEMENT
    for code in (0x200E, 0x200F, 0x061C):
        table[code] = None
    for code in range(0xD800, 0xE000):
        table[code] = REPLACEMENT
    return table


_TABLE: Final = _build_table()

FORBIDDEN_CODE_POINTS: Final = frozenset(_TABLE)
"""Every code point that never survives `sanitize_text` (`\\r` included)."""

_NEEDS_WORK: Final = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]"
)


_RAW_NEEDS_WORK: Final = re.compile(
    rb"\\[rbfu]"  # an escape that may spell a control, a separator or a surrogate
    rb"|\x7f|\xc2[\x80-\x9f]"  # DEL and the C1 range, as UTF-8
    rb"|\xd8\x9c|\xe2\x80[\x8e\x8f\xa8-\xae]|\xe2\x81[\xa6-\xa9]"  # ALM, marks, bidi
)
"""What, in a JSON document's UTF-8 bytes, may decode to a character `sanitize_text` changes.

Raw controls cannot stand in valid JSON strings (they are escaped), so every such
character is either one of these byte sequences or a `\\r`, `\\b`, `\\f` or
`\\u` escape. A false alarm (`\\\\u`, a `\\u00e9` a server chose to escape)
only costs the full walk."""


def json_needs_sanitizing(document: bytes) -> bool:
    """Whether any string of the JSON `document` would be changed by `sanitize_json`.

    Searching the bytes costs a sixth of walking the parsed tree (1.4 against 8.9 ms
    for a page of 200 cases on the benchmark machine), and most
    answers (every page of cases) carry nothing to change.
    """
    return _RAW_NEEDS_WORK.search(document) is not None


def sanitize_text(text: str) -> str:
    """Return `text` with terminal controls, bidi overrides and bad code points neutralised.

    Idempotent, and the very same object is returned when nothing needs changing
    (the common case, checked without building a new string).
    """
    if (text.isascii() and text.isprintable()) or _NEEDS_WORK.search(text) is None:
        return text
    if "\r\n" in text:
        text = text.replace("\r\n", "\n")
    return text.translate(_TABLE)


def sanitize_json(value: Any) -> Any:
    """Sanitise every string, dictionary key included, of a freshly parsed JSON value.

    Lists and dictionaries are updated in place (the value is assumed to be
    owned by the caller, as the result of `json.loads` is); the value is returned.
    """
    if isinstance(value, str):
        return sanitize_text(value)
    if isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, str | list | dict):
                cleaned = sanitize_json(item)
                if cleaned is not item:
                    value[index] = cleaned
        return value
    if isinstance(value, dict):
        if not all(sanitize_text(key) is key for key in value):
            value = {sanitize_text(key): item for key, item in value.items()}
        for key, item in value.items():
            if isinstance(item, str | list | dict):
                cleaned = sanitize_json(item)
                if cleaned is not item:
                    value[key] = cleaned
        return value
    return value

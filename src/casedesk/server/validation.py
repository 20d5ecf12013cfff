"""Turning pydantic's validation errors into field paths and messages (en/fr)."""

from collections.abc import Iterable, Sequence
from typing import Any

from casedesk.server.errors import Language

ACTION_TAGS = frozenset(
    {
        "comment",
        "escalate",
        "update_escalation",
        "complete_escalation",
        "request_override",
        "accept_override",
        "refuse_override",
        "cancel_override",
        "close",
        "assign",
        "query",
        "resume",
        "reopen",
    }
)

_FRENCH: dict[str, str] = {
    "missing": "Champ obligatoire",
    "extra_forbidden": "Champ inconnu : {field}",
    "string_too_short": "Doit contenir au moins {min_length} caractère(s)",
    "string_too_long": "Doit contenir au plus {max_length} caractères",
    "too_short": "Doit contenir au moins {min_length} élément(s)",
    "too_long": "Doit contenir au plus {max_length} éléments",
    "uuid_parsing": "Doit être un UUID valide",
    "uuid_type": "Doit être un UUID valide",
    "string_type": "Doit être une chaîne de caractères",
    "int_parsing": "Doit être un entier",
    "bool_parsing": "Doit être un booléen",
    "list_type": "Doit être une liste",
    "dict_type": "Doit être un objet",
    "model_type": "Doit être un objet",
    "enum": "Doit être l'une des valeurs : {expected}",
    "literal_error": "Doit être l'une des valeurs : {expected}",
    "datetime_parsing": "Doit être une date et heure ISO 8601, p. ex. 2025-06-15T09:00:00Z",
    "datetime_from_date_parsing": "Doit être une date et heure ISO 8601",
    "timezone_aware": "Doit préciser un fuseau horaire, p. ex. 2025-06-15T09:00:00Z",
    "date_parsing": "Doit être une date ISO 8601, p. ex. 1980-04-30",
    "date_from_datetime_parsing": "Doit être une date ISO 8601, p. ex. 1980-04-30",
    "string_pattern_mismatch": "Format invalide",
    "greater_than_equal": "Doit être supérieur ou égal à {ge}",
    "less_than_equal": "Doit être inférieur ou égal à {le}",
    "union_tag_invalid": "Type d'action inconnu : {tag} ; attendu : {expected_tags}",
    "union_tag_not_found": "Le champ « type » est obligatoire",
    "json_invalid": "JSON invalide",
    "value_error": "Valeur invalide",
}

_ENGLISH_OVERRIDES: dict[str, str] = {
    "extra_forbidden": "Unrecognized key: {field}",
    "uuid_parsing": "must be a valid UUID",
    "uuid_type": "must be a valid UUID",
    "missing": "Field required",
    "timezone_aware": "must include a time zone, e.g. 2025-06-15T09:00:00Z",
    "datetime_parsing": "must be an ISO 8601 date-time, e.g. 2025-06-15T09:00:00Z",
    "datetime_from_date_parsing": "must be an ISO 8601 date-time, e.g. 2025-06-15T09:00:00Z",
    "union_tag_invalid": "unknown action type {tag}; expected one of {expected_tags}",
}


def field_path(location: Sequence[Any], *, body: Any = None) -> str:
    """`('body', 'update_escalation', 'escalations', 0, 'x')` → `escalations.0.x`."""
    parts = list(location)
    if parts and parts[0] in {"body", "query", "path", "header"}:
        source = parts.pop(0)
        if source == "header" and parts:
            return str(parts[0])
    # A discriminated union adds the tag it chose; the caller never wrote it.
    if (
        parts
        and isinstance(parts[0], str)
        and parts[0] in ACTION_TAGS
        and isinstance(body, dict)
        and body.get("type") == parts[0]
    ):
        parts.pop(0)
    return ".".join(str(part) for part in parts)


def describe(error: dict[str, Any], language: Language) -> str:
    """A message for one pydantic error, in the caller's language."""
    kind = str(error.get("type", ""))
    context = dict(error.get("ctx") or {})
    location = error.get("loc") or ()
    context.setdefault("field", location[-1] if location else "")
    table = _FRENCH if language == "fr" else _ENGLISH_OVERRIDES
    template = table.get(kind)
    if kind == "value_error" and language != "fr":
        template = None
    if template is None:
        message = str(error.get("msg", "invalid value"))
        return message.removeprefix("Value error, ")
    try:
        return template.format(**context)
    except (KeyError, IndexError, ValueError):
        return template


_TAG_ERRORS = frozenset({"union_tag_invalid", "union_tag_not_found"})


def _detail(error: dict[str, Any], language: Language, body: Any) -> tuple[str, str]:
    kind = error.get("type")
    if kind == "json_invalid":
        # FastAPI puts the byte offset where a field name would be.
        location = error.get("loc") or ()
        offset = location[-1] if location else "?"
        reason = (error.get("ctx") or {}).get("error", "")
        prefix = "JSON invalide" if language == "fr" else "invalid JSON"
        return "", f"{prefix} (position {offset}): {reason}".rstrip(": ")
    if kind in _TAG_ERRORS:
        ctx = dict(error.get("ctx") or {})
        ctx["expected_tags"] = ", ".join(sorted(ACTION_TAGS))
        return "type", describe({**error, "ctx": ctx}, language)
    return field_path(error.get("loc") or (), body=body), describe(error, language)


def details_from(
    errors: Iterable[dict[str, Any]], language: Language, *, body: Any = None
) -> list[tuple[str, str]]:
    return [_detail(error, language, body) for error in errors]

"""Errors the case API answers with, and their messages in English and French.

Handlers raise `ApiError(status, code, **params)`; the app turns it into the
error body `{"error": {"code", "message", "details", "data"?}, "meta"}` in the
language the caller asked for with `Accept-Language`.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Language = str  # "en" | "fr"


@dataclass(frozen=True)
class Text:
    """A message in each language the API speaks; the caller's `Accept-Language` picks one."""

    en: str
    fr: str

    def speak(self, language: Language) -> str:
        return self.fr if language == "fr" else self.en


Message = str | Text
"""A detail's message: literal (already in the caller's language) or in every language."""


def speak(message: Any, language: Language) -> Any:
    return message.speak(language) if isinstance(message, Text) else message


RESOURCES: dict[str, Text] = {
    "case": Text("Case", "Dossier"),
    "document": Text("Document", "Document"),
    "route": Text("Route", "Route"),
    "method": Text("Method", "Méthode"),
}

MESSAGES: dict[str, dict[Language, str]] = {
    "validation_error": {
        "en": "The request is malformed or contains invalid parameters.",
        "fr": "La requête est mal formée ou contient des paramètres invalides.",
    },
    "unauthenticated": {
        "en": "Missing or invalid API key.",
        "fr": "Clé d'API absente ou invalide.",
    },
    "forbidden_role": {
        "en": "Your role does not allow the action {action}; it needs: {needed}.",
        "fr": "Votre rôle ne permet pas l'action {action} ; rôle requis : {needed}.",
    },
    "override_creator_cannot_decide": {
        "en": "The creator of an override cannot accept or refuse it.",
        "fr": "Le créateur d'une dérogation ne peut ni l'accepter ni la refuser.",
    },
    "not_assigned_reviewer": {
        "en": "Only the reviewers assigned to this override can decide it.",
        "fr": "Seuls les relecteurs assignés à cette dérogation peuvent la trancher.",
    },
    "override_creator_only": {
        "en": "Only the creator of an override can cancel it.",
        "fr": "Seul le créateur d'une dérogation peut l'annuler.",
    },
    "not_found": {
        "en": "{resource} not found.",
        "fr": "{resource} introuvable.",
    },
    "method_not_allowed": {
        "en": "This route does not answer {method}.",
        "fr": "Cette route ne répond pas à {method}.",
    },
    "case_closed": {
        "en": "The case is closed; the only action it takes is reopen.",
        "fr": "Le dossier est clos ; la seule action possible est de le rouvrir.",
    },
    "case_not_closed": {
        "en": "Only a closed case can be reopened.",
        "fr": "Seul un dossier clos peut être rouvert.",
    },
    "case_not_querying": {
        "en": "The case is not waiting on a query; there is nothing to resume.",
        "fr": "Le dossier n'attend aucune réponse ; il n'y a rien à reprendre.",
    },
    "case_already_querying": {
        "en": "The case is already waiting on a query.",
        "fr": "Le dossier attend déjà une réponse.",
    },
    "override_pending": {
        "en": "The case already has a pending override ({override_id}).",
        "fr": "Le dossier a déjà une dérogation en attente ({override_id}).",
    },
    "override_blocks_close": {
        "en": "Decide or cancel the pending override ({override_id}) before closing the case.",
        "fr": "Tranchez ou annulez la dérogation en attente ({override_id}) avant de clore.",
    },
    "override_not_pending": {
        "en": "The override is already {state}.",
        "fr": "La dérogation est déjà dans l'état {state}.",
    },
    "override_not_found": {
        "en": "Override not found on this case: {override_id}",
        "fr": "Dérogation introuvable sur ce dossier : {override_id}",
    },
    "escalation_not_found": {
        "en": "Escalation not found: {ids}",
        "fr": "Escalade introuvable : {ids}",
    },
    "assignee_not_found": {
        "en": "No assignable user found with email {email} for this organization",
        "fr": "Aucun utilisateur assignable avec l'adresse {email} dans cette organisation",
    },
    "user_not_found": {
        "en": "No user with id {user_id} in this organization.",
        "fr": "Aucun utilisateur d'identifiant {user_id} dans cette organisation.",
    },
    "external_id_taken": {
        "en": "A case with external_id {external_id!r} already exists.",
        "fr": "Un dossier avec l'external_id {external_id!r} existe déjà.",
    },
    "stale_revision": {
        "en": "The case changed meanwhile: it is at revision {current}, not {expected}.",
        "fr": "Le dossier a changé entre-temps : révision {current} et non {expected}.",
    },
    "idempotency_key_reused": {
        "en": "This Idempotency-Key was already used with a different request.",
        "fr": "Cette Idempotency-Key a déjà servi pour une autre requête.",
    },
    "idempotency_in_flight": {
        "en": "A request with this Idempotency-Key is still being processed; retry shortly.",
        "fr": "Une requête avec cette Idempotency-Key est en cours ; réessayez bientôt.",
    },
    "client_action_id_reused": {
        "en": "client_action_id {client_action_id} was already used for a different action.",
        "fr": "client_action_id {client_action_id} a déjà servi pour une autre action.",
    },
    "payload_too_large": {
        "en": "The request body is larger than {limit} bytes.",
        "fr": "Le corps de la requête dépasse {limit} octets.",
    },
    "unsupported_media_type": {
        "en": "Send the body as {expected}.",
        "fr": "Envoyez le corps au format {expected}.",
    },
    "rate_limited": {
        "en": "Too many requests; retry after {seconds} s.",
        "fr": "Trop de requêtes ; réessayez dans {seconds} s.",
    },
    "injected_fault": {
        "en": "Injected fault (the server runs with fault injection).",
        "fr": "Panne simulée (le serveur simule des pannes).",
    },
    "internal_error": {
        "en": "Internal server error.",
        "fr": "Erreur interne du serveur.",
    },
}


def translate(code: str, language: Language, params: Mapping[str, Any]) -> str:
    """The message of `code` in `language` (English when unknown), with `params` filled in."""
    templates = MESSAGES.get(code) or MESSAGES["internal_error"]
    template = templates.get(language) or templates["en"]
    try:
        return template.format(**{key: speak(value, language) for key, value in params.items()})
    except (KeyError, IndexError, ValueError):
        return template


class ApiError(Exception):
    """An answer other than success, raised anywhere in a request and rendered by the app."""

    def __init__(
        self,
        status: int,
        code: str,
        *,
        details: Sequence[tuple[str, Message]] = (),
        data: dict[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        **params: Any,
    ) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.details = list(details)
        self.data = data
        self.headers = dict(headers or {})
        self.params = params

    def message(self, language: Language) -> str:
        return translate(self.code, language, self.params)

    def spoken_details(self, language: Language) -> list[dict[str, str]]:
        return [
            {"path": path, "message": str(speak(message, language))}
            for path, message in self.details
        ]


def bad_request(path: str, message: Message, *, data: dict[str, Any] | None = None) -> ApiError:
    """A 400 about one field, named by its dotted path."""
    return ApiError(400, "validation_error", details=[(path, message)], data=data)


def not_found(resource: str) -> ApiError:
    """404 for a `RESOURCES` key (`case`, `document`, …)."""
    return ApiError(404, "not_found", resource=RESOURCES[resource])

"""Every limit of the case API, declared once.

The server validates with these, the console's forms check them before an
action is queued, and the tests import them instead of copying numbers.
"""

from typing import Final

# Cases (Dotfile "Create a case")
CASE_NAME_MIN: Final = 1
CASE_NAME_MAX: Final = 180
COMPANY_NAME_MIN: Final = 1
COMPANY_NAME_MAX: Final = 180
PERSON_NAME_MAX: Final = 180
EXTERNAL_ID_MAX: Final = 255
TEMPLATE_KEY_MAX: Final = 255
CASE_TYPE_MAX: Final = 80
TAG_LABEL_MAX: Final = 64
TAGS_MAX: Final = 50
METADATA_KEYS_MAX: Final = 50
METADATA_KEY_MAX: Final = 100
METADATA_VALUE_MAX: Final = 2000
COMPANIES_MAX: Final = 50
INDIVIDUALS_MAX: Final = 100
REF_MAX: Final = 64
REGISTRATION_NUMBER_MAX: Final = 64

# Actions
COMMENT_BODY_MIN: Final = 1
COMMENT_BODY_MAX: Final = 10_000
COMMENT_DOCUMENTS_MAX: Final = 10
ESCALATE_REASON_MIN: Final = 1
ESCALATE_REASON_MAX: Final = 2000  # Zenoo "Escalate case": maximum string length 2000
ESCALATION_NOTE_MAX: Final = 2000
ESCALATION_UPDATES_MIN: Final = 1  # CareValidate: "At least one escalation is required"
ESCALATION_UPDATES_MAX: Final = 50
OVERRIDE_REASON_MIN: Final = 1
OVERRIDE_REASON_MAX: Final = 2000
OVERRIDE_REVIEWERS_MAX: Final = 20
DECISION_COMMENT_MAX: Final = 2000
QUERY_PROMPT_MIN: Final = 1
QUERY_PROMPT_MAX: Final = 2000

# Documents
DOCUMENT_NAME_MAX: Final = 255
DOCUMENT_MAX_BYTES: Final = 10 * 1024 * 1024  # default upload limit (10 MB)

# Requests
IDEMPOTENCY_KEY_MIN: Final = 1
IDEMPOTENCY_KEY_MAX: Final = 255  # Stripe / IETF draft: up to 255 characters
IDEMPOTENCY_RETENTION_HOURS: Final = 24
PAGE_LIMIT_MIN: Final = 1
PAGE_LIMIT_MAX: Final = 200
PAGE_LIMIT_DEFAULT: Final = 50
JSON_BODY_MAX_BYTES: Final = 1024 * 1024
SEARCH_TEXT_MAX: Final = 200

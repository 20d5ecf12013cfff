"""Word pools for the demo data: organizations, people, companies and what they write.

Also the small generators that draw names, emails and document contents from them.
Some entries are hostile on purpose (square brackets that look like Rich markup,
emoji, accents, several lines): the console must show them literally.
"""

import json
import random
import unicodedata
from typing import Final, NamedTuple


class DemoUser(NamedTuple):
    name: str
    email_local: str  # lowercase ASCII; the organization's domain is appended
    roles: tuple[str, ...]


class DemoOrganization(NamedTuple):
    name: str
    email_domain: str
    external_prefix: str
    users: tuple[DemoUser, ...]


class DemoQueue(NamedTuple):
    name: str
    workflow: str
    sla_hours: float
    case_type: str
    company_share: float  # share of its cases about a company rather than a person


REVIEWER: Final = ("reviewer",)
CONTRIBUTOR: Final = ("contributor",)
BOTH: Final = ("contributor", "reviewer")

# The first user of the first organization is reviewer-only: clients pick by role.
ORGANIZATIONS: Final = (
    DemoOrganization(
        "Northwind Compliance",
        "northwind.example",
        "NW",
        (
            DemoUser("Zoë Brontë", "zoe.bronte", REVIEWER),
            DemoUser("Marcus Okafor", "marcus.okafor", CONTRIBUTOR),
            DemoUser("José Álvarez", "jose.alvarez", BOTH),
            DemoUser("Ingrid Halvorsen", "ingrid.halvorsen", REVIEWER),
            DemoUser("Priya Raman", "priya.raman", CONTRIBUTOR),
            DemoUser("Łukasz Wójcik", "lukasz.wojcik", CONTRIBUTOR),
        ),
    ),
    DemoOrganization(
        "Helix Health Desk",
        "helix-health.example",
        "HX",
        (
            DemoUser("Amélie Dubois", "amelie.dubois", REVIEWER),
            DemoUser("Kwame Mensah", "kwame.mensah", CONTRIBUTOR),
            DemoUser("Søren Ødegaard", "soren.odegaard", BOTH),
            DemoUser("Chloé Martin", "chloe.martin", REVIEWER),
            DemoUser("Tomás Ó Briain", "tomas.obriain", CONTRIBUTOR),
        ),
    ),
)

QUEUES: Final = (
    DemoQueue("Business Onboarding", "kyb-onboarding", 48.0, "Onboarding", 1.0),
    DemoQueue("Individual KYC", "kyc-individual", 24.0, "KYC", 0.0),
    DemoQueue("Periodic Review", "periodic-review", 168.0, "Periodic review", 0.6),
    DemoQueue("Alert Review", "alert-triage", 4.0, "Alert", 0.4),
)
QUEUE_WEIGHTS: Final = (35, 30, 20, 15)

CUSTOM_PROPERTIES: Final = (
    ("tier", "string", False),
    ("pep", "boolean", False),
    ("sources", "string_list", False),
    ("score", "number", False),
    ("legacy_id", "string", True),
)
TIERS: Final = ("standard", "premium", "enterprise", "public-sector")
SOURCES: Final = (
    "companies-house",
    "world-check",
    "dow-jones",
    "opencorporates",
    "lexisnexis",
    "manual",
)

TEMPLATES: Final = (
    ("kyb-standard", "KYB — standard due diligence"),
    ("kyb-enhanced", "KYB — enhanced due diligence"),
    ("kyc-light", "KYC light"),
)

TAGS: Final = (
    "pep",
    "sanctions",
    "adverse-media",
    "high-value",
    "vip",
    "[legacy]",
    "Données-santé",
)

PARAMETERS: Final = (
    ("Priority", "case", "request", ("Priority 1", "Priority 2", "Priority 3")),
    ("Jurisdiction", "account", "request", ("FR", "DE", "GB", "NL", "ES", "CH", "US")),
    ("Channel", "case", "request", ("web", "api", "branch", "partner")),
    ("Requires EDD", "queue", "processing", (True, False)),
    ("Expected monthly volume", "case", "request", (5_000, 25_000, 120_000, 1_500_000)),
    ("Outcome code", "case", "completion", ("OK-01", "RJ-07", "RV-12")),
)

METADATA_KEYS: Final = (
    ("channel", ("web", "api", "branch", "partner-portal")),
    ("region", ("EMEA", "APAC", "AMER")),
    ("crm_id", ()),  # generated
    ("batch", ("2024-Q4", "2025-Q1", "2025-Q2", "2025-Q3")),
    ("note", ("migrated from v1", "[imported] via CSV", "priorité client 🚩")),
)

COUNTRIES: Final = ("FR", "DE", "GB", "NL", "ES", "IT", "BE", "CH", "IE", "PT", "SE", "US", "SG")

COMPANY_STEMS: Final = (
    "Acme",
    "Northstar",
    "Bluewater",
    "Granite",
    "Helios",
    "Kestrel",
    "Meridian",
    "Orchid",
    "Pinecrest",
    "Quantum",
    "Riverbend",
    "Silverline",
    "Tessellate",
    "Umbra",
    "Vantage",
    "Willow & Finch",
    "Zephyr",
    "Ardent",
    "Bellwether",
    "Copperfield",
    "Driftwood",
    "Evergreen",
    "Foxglove",
    "Harbour",
    "Ironbark",
    "Juniper",
    "Lumen",
    "Nordlicht",
    "Solène",
    "Brückner",
    "Château Lévêque",
    "Øresund",
    "Mañana",
    "Crème",
)
COMPANY_ACTIVITIES: Final = (
    "Trading",
    "Logistics",
    "Capital",
    "Biotech",
    "Software",
    "Foods",
    "Shipping",
    "Energy",
    "Textiles",
    "Consulting",
    "Pharma",
    "Robotics",
    "Imports",
    "Ventures",
    "Clinics",
)
COMPANY_SUFFIXES: Final = (
    "Ltd",
    "LLC",
    "GmbH",
    "SAS",
    "SARL",
    "B.V.",
    "S.L.",
    "S.p.A.",
    "AG",
    "Inc.",
    "PLC",
    "Pte. Ltd.",
)
# Names that look like markup, carry emoji, or mix scripts: shown literally or it is a bug.
TRICKY_COMPANY_NAMES: Final = (
    "Acme [Holdings] Ltd",
    "[sic] Trading",
    "[bold]Bold[/bold] Ventures LLC",
    "[red]Red Flag[/red] Imports",
    "Globex [Europe] GmbH",
    "🚀 Rocket Logistics SAS",
    "Sunrise Bakery 🥐 SARL",
    "Pixel 🎮 Studios Inc.",
    "Green Leaf 🌿 Organics B.V.",
    "☕ Café Müller GmbH",
    "Société Générale d'Électricité",
    "Çelik Yapı A.Ş.",  # noqa: RUF001 (a Turkish dotless i, on purpose)
    "Zürcher Privatbank AG",
    "Ångström Instruments AB",
    "東京 Trading K.K.",
    "O'Brien & Søns ApS",
)

FIRST_NAMES: Final = (
    "Zoë",
    "José",
    "Amélie",
    "Søren",
    "Chloé",
    "Łukasz",
    "Björn",
    "Nuño",
    "Anaïs",
    "François",
    "Ørjan",
    "Małgorzata",
    "Ana",
    "Oliver",
    "Fatima",
    "Wei",
    "Aisha",
    "Liam",
    "Sofia",
    "Mateo",
    "Noah",
    "Emma",
    "Hiroshi",
    "Yasmin",
    "Daniel",
    "Grace",
    "Ravi",
    "Elena",
    "Kofi",
    "Ines",
    "Mia",
    "Jonas",
)
LAST_NAMES: Final = (
    "Brontë",
    "Álvarez",
    "Dubois",
    "Ødegaard",
    "Müller",
    "Núñez",
    "Wójcik",
    "García",
    "Lefèvre",
    "Kowalski",
    "Smith",
    "Johnson",
    "Nguyen",
    "Chen",
    "Okafor",
    "Rossi",
    "Silva",
    "Jensen",
    "O'Connor",
    "van der Berg",
    "Haddad",
    "Tanaka",
    "Patel",
    "Schmidt",
    "Ibrahim",
    "Novak",
    "Costa",
    "Martin",
)
TRICKY_PERSON_NAMES: Final = (
    ("[Anna]", "Lindqvist"),
    ("Max", "[redacted]"),
    ("Sam 😀", "Taylor"),
    ("Lena", "Fischer 🌸"),
    ("Zoë", "Brontë-Ångström"),
    ("Nguyễn", "Thị Minh Khai"),
)

ACCOUNT_NAMES: Final = (
    "Stark Industries",
    "Wayne Enterprises",
    "Umbrella Payments",
    "Initech Bank",
    "Banque Lumière",
    "Krämer Versicherung",
    "Harbourside Credit Union",
    "Medina Fintech",
    "Clinique Sainte-Anne",
    "Riverside Health Partners",
    "[Partner] Onboarding Desk",
    "Nordic Pay 💳",
)
REPORTER_FIRST_NAMES: Final = ("Jane", "Will", "Hélène", "Gustav", "Maya", "Pedro", "Ayşe", "Tom")
REPORTER_LAST_NAMES: Final = (
    "Doe",
    "Smith",
    "Fontaine",
    "Lindgren",
    "Cohen",
    "Ruiz",
    "Yılmaz",  # noqa: RUF001 (a Turkish dotless i, on purpose)
)

USER_COMMENTS: Final = (
    "Checked the registry extract, directors match the application.",
    "Requested the latest UBO register from the client.",
    "Screening returned two possible matches, both false positives (different birth dates).",
    "Bank statement received; the source of funds looks consistent.",
    "Proof of address is older than three months — asking for a new one.",
    "Shareholding structure confirmed up to the ultimate beneficial owner.",
    "Adverse media hit is about a namesake, closing that thread.",
    "Waiting for the certified translation of the articles of association.",
    "Risk score recalculated after the new ownership data.",
    "Called the client; they will upload the missing documents today.",
    "Patient record verified against the insurer's file.",
    "Le dossier est complet, je passe à la vérification des bénéficiaires.",
    "Déjà vu: same director appears on CAS-000017, cross-checking.",
    "See [link=https://evil.example]click[/link] — pasted by the client, do not open.",
    "Flagged as [bold]urgent[/bold] by the account manager.",
    "Looks good to me 👍",
    "Sanctions screening clean ✅ — PEP screening pending ⏳",
    "Summary so far:\n- registry extract OK\n- UBO register missing\n- screening clean",
    "Two issues:\n1. the passport is expired\n"
    "2. the address does not match the utility bill\n\nPlease advise.",
    "Noted. Escalating if we hear nothing by Friday.",
)
REPORTER_MESSAGES: Final = (
    "Hello, please find the requested documents attached.",
    "Could you tell us what is still missing?",
    "We uploaded the UBO register this morning.",
    "Our director is travelling, the signed form will follow next week.",
    "Bonjour, voici l'extrait Kbis à jour.",
    "Is there an update on this onboarding? Our go-live is on Monday 🙏",
    "The address changed last month, new proof attached.",
    "[urgent] please call me back",
    "Answering your questions:\n\n1) yes\n"
    "2) no, the company has no subsidiaries\n3) see attachment",
    "Merci ! Nous restons à votre disposition. — Hélène",
    "We cannot provide a certified copy, is a notarised one acceptable?",
    "Sent from my phone 📱",
)
QUERY_PROMPTS: Final = (
    "Can you please fill in the form with the required information?",
    "Please upload a proof of address dated within the last three months.",
    "Please provide the register of beneficial owners.",
    "We need a certified copy of the director's passport.",
    "Could you explain the source of funds for the initial deposit?",
    "Merci de nous transmettre les statuts à jour.",
    "Please confirm the patient's date of birth and insurer number.",
)
# The API titles an escalation with the first line of its reason.
ESCALATION_REASONS: Final = (
    "Possible sanctions match\nName screening returned a potential match on the director.",
    "PEP review: director is a politically exposed person; needs senior sign-off.",
    "Ownership unclear — the structure goes through a trust we cannot look through.",
    "High-value client: expected volume above the desk's approval limit.",
    "Clinical review needed\nPrior authorisation requires a clinician's opinion.",
    "Document tampering [metadata mismatch] on the bank statement.",
    "Adverse media: article about a fine in 2021.\nSource: press. Needs assessment.",
    "Vérification renforcée demandée par la conformité 🔎",
)
ESCALATION_NOTES: Final = (
    "Reviewed with the MLRO, waiting for the client's answer.",
    "Client confirmed new address.",
    "Second-line review scheduled.",
    "Sent to legal; expect an answer within two days.",
    "Relancé le client par téléphone.",
    "Match ruled out: different nationality and birth date.",
)
OVERRIDE_REASONS: Final = (
    "Screening hit is a false positive; propose to approve.",
    "Client relationship is long-standing and documents are complete.",
    "Risk is above appetite despite the documents; propose to reject.",
    "Automated score is wrong: the [sanctions] flag refers to a namesake.",
    "Decision of the committee of 12 March, see minutes.",
)
ACCEPT_COMMENTS: Final = (
    "Agreed, documented in the file.",
    "OK for me.",
    "D'accord ✅",
)
REFUSE_COMMENTS: Final = (
    "Not enough evidence for an override; please collect the UBO register first.",
    "Refused: the committee decision must be attached.",
    "Je ne suis pas d'accord, le risque reste élevé.",
    "No — see [policy] section 4.2.",
)
CLOSE_COMMENTS: Final = (
    "All checks complete.",
    "Approved after enhanced due diligence.",
    "Rejected: ownership could not be established.",
    "Duplicate of an earlier case.",
    "Dossier clôturé — pièces conformes.",
)
RESUME_COMMENTS: Final = (
    "Client answered, resuming.",
    "Documents received.",
    "Réponse reçue.",
)
REOPEN_COMMENTS: Final = (
    "Reopened: new information from the client.",
    "Reopened after an audit finding.",
)

DEMO_DOCUMENTS: Final = (
    ("registry-extract.txt", "text/plain"),
    ("ubo-register.csv", "text/csv"),
    ("proof-of-address.pdf", "application/pdf"),
    ("passport-scan.pdf", "application/pdf"),
    ("Relevé bancaire – mars.txt", "text/plain"),  # noqa: RUF001 (an en dash, on purpose)
    ("screening-report.json", "application/json"),
)
EMAIL_DOMAINS: Final = ("example.com", "mail.example", "corp.example")

_TO_ASCII = str.maketrans({"ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "æ": "ae", "ß": "ss", "đ": "d"})


def ascii_slug(text: str) -> str:
    """Lowercase ASCII letters and digits of `text` (`Ødegaard` -> `odegaard`)."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_TO_ASCII)).lower()
    return "".join(c for c in decomposed if c.isascii() and c.isalnum())


def company_name(rng: random.Random) -> str:
    """A realistic company name; about one in ten looks like markup, has emoji or accents."""
    if rng.random() < 0.1:
        return rng.choice(TRICKY_COMPANY_NAMES)
    stem = rng.choice(COMPANY_STEMS)
    return f"{stem} {rng.choice(COMPANY_ACTIVITIES)} {rng.choice(COMPANY_SUFFIXES)}"


def person_name(rng: random.Random) -> tuple[str, str]:
    """A first and last name, accents included; a few look like markup or carry emoji."""
    if rng.random() < 0.06:
        return rng.choice(TRICKY_PERSON_NAMES)
    return rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)


def person_email(rng: random.Random, first: str, last: str) -> str:
    local = ".".join(part for part in (ascii_slug(first), ascii_slug(last)) if part) or "contact"
    return f"{local}@{rng.choice(EMAIL_DOMAINS)}"


def document_bytes(name: str, content_type: str, org_name: str, reference: str) -> bytes:
    """The content of a demo document: small, real, and of the type its name says."""
    if content_type == "text/csv":
        text = (
            f"name,role,ownership_percentage\nZoë Brontë,beneficial_owner,62.5\n{reference},case,\n"
        )
    elif content_type == "application/json":
        text = json.dumps({"case": reference, "hits": [], "provider": "demo"}, indent=2) + "\n"
    elif content_type == "application/pdf":
        return _tiny_pdf(f"{name} - {reference}")
    else:
        text = f"{name}\nCase {reference} - {org_name}\nDemo document: no real personal data.\n"
    return text.encode("utf-8")


def _tiny_pdf(line: str) -> bytes:
    """A one-page PDF showing one line of ASCII text."""
    safe = "".join(c for c in line.encode("ascii", "replace").decode() if c not in "\\()")
    stream = f"BT /F1 12 Tf 72 720 Td ({safe}) Tj ET"
    objects = (
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    )
    out = "%PDF-1.4\n"
    offsets = []
    for index, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{index} 0 obj\n{body}\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n"
    out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    return out.encode("ascii")

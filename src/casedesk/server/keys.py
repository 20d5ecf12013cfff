"""API keys: generated with enough entropy to be stored as a plain sha256 hash."""

import hashlib
import secrets

KEY_PREFIX = "cdk_"


def new_api_key() -> str:
    """A fresh key (256 bits of randomness); only its hash is ever stored."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    """The form a key is stored and looked up in."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()

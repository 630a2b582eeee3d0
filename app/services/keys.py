"""API keys: generation (shown once), hashing, lookup with a constant-time comparison."""
from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
from dataclasses import dataclass

from ..ledger.errors import InvalidRequest
from ..store import api_keys as key_store
from ..store.brands import brand_by_code

ROLES = ("admin", "brand", "readonly")
KEY_PREFIX = "rl_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Principal:
    """Who is calling: a key's id, role and brand (None for admin)."""

    key_id: int
    role: str
    brand_id: int | None
    brand_code: str | None


def create_key_command(brand_code: str | None, role: str, name: str, now_ms: int):
    """A writer command that creates a key and returns (key id, the key itself)."""
    if role not in ROLES:
        raise InvalidRequest(f"role must be one of {', '.join(ROLES)}", field="role")
    if (role == "admin") != (brand_code is None):
        raise InvalidRequest("admin keys have no brand; brand and readonly keys need one", field="brand")
    if not isinstance(name, str) or len(name) > 200:
        raise InvalidRequest("name must be at most 200 characters", field="name")
    key = new_key()

    def command(conn: sqlite3.Connection) -> tuple[int, str]:
        brand_id = brand_by_code(conn, brand_code)["id"] if brand_code else None
        return key_store.insert_key(conn, brand_id, role, name, key[:7], hash_key(key), now_ms), key
    return command


def authenticate(conn: sqlite3.Connection, key: str) -> Principal | None:
    """The principal of `key`, or None.

    The lookup is by SHA-256 of the key, so lookup timing says nothing usable about the key
    itself; the stored hash is then compared in constant time."""
    digest = hash_key(key)
    row = key_store.key_by_hash(conn, digest)
    if row is None or not hmac.compare_digest(row["key_hash"], digest):
        return None
    return Principal(row["id"], row["role"], row["brand_id"], row["brand_code"])

"""API keys: generation (shown once), hashing, lookup with a constant-time comparison."""
from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
from dataclasses import dataclass

from ..ledger.errors import Conflict, InvalidRequest, NotFound
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
    brand_code = brand_code or None
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


class Authenticator:
    """Resolves presented keys to principals and brand codes to ids, with bounded caches.

    Only successful lookups are cached (so random keys cannot fill memory); revoking a key
    through this process drops it from the cache at once.
    """

    MAX_CACHED = 10_000

    def __init__(self, readers) -> None:
        self._readers = readers
        self._principals: dict[str, Principal] = {}
        self._brands: dict[str, int] = {}

    async def principal(self, key: str | None) -> Principal | None:
        if not key or len(key) > 200:
            return None
        digest = hash_key(key)
        found = self._principals.get(digest)
        if found is None:
            found = self._readers.read_now(lambda c: authenticate(c, key), single_statement=True)
            if found is not None:
                if len(self._principals) >= self.MAX_CACHED:
                    self._principals.clear()
                self._principals[digest] = found
        return found

    def forget(self, key_id: int) -> None:
        for digest, p in list(self._principals.items()):
            if p.key_id == key_id:
                del self._principals[digest]

    async def brand_id(self, code: str) -> int:
        found = self._brands.get(code)
        if found is None:
            if len(code) > 64:
                raise NotFound("no such brand")
            found = self._readers.read_now(lambda c: brand_by_code(c, code), single_statement=True)["id"]
            if len(self._brands) < self.MAX_CACHED:
                self._brands[code] = found
        return found


ENV_KEY_NAME = "ADMIN_API_KEY"


class RevokedAdminKey(Exception):
    """ADMIN_API_KEY names a key that was revoked: start-up stops rather than bring it back.

    A revoked key may have leaked; re-activating it because a setting still names it would
    undo the revocation without anyone deciding to. The operator sets a new value."""

    def __init__(self) -> None:
        super().__init__("ADMIN_API_KEY is a key that was revoked; set a new value (the old one stays revoked)")


def ensure_admin_key_command(key: str, now_ms: int):
    """A writer command that registers ADMIN_API_KEY's hash as an admin key (once) and
    revokes a previous value of the setting: changing it rotates the key. A revoked value
    raises `RevokedAdminKey`."""
    def command(conn: sqlite3.Connection) -> int:
        digest = hash_key(key)
        if key_store.is_revoked_hash(conn, digest):
            raise RevokedAdminKey()
        key_store.revoke_named_except(conn, ENV_KEY_NAME, digest, now_ms)
        row = key_store.key_by_hash(conn, digest)
        if row is not None:
            return row["id"]
        return key_store.insert_key(conn, None, "admin", ENV_KEY_NAME, key[:7], digest, now_ms)
    return command


def bootstrap_admin_key_command(now_ms: int):
    """A writer command: when no admin key exists, create one; returns the key or None."""
    key = new_key()

    def command(conn: sqlite3.Connection) -> str | None:
        if key_store.count_admin_keys(conn):
            return None
        key_store.insert_key(conn, None, "admin", "generated on first start", key[:7], hash_key(key), now_ms)
        return key
    return command


class KeyService:
    """API key use cases; a created key is returned once and never stored."""

    def __init__(self, writer, readers, clock, auth: Authenticator) -> None:
        self.writer, self.readers, self.clock, self.auth = writer, readers, clock, auth

    async def create(self, brand_code: str | None, role: str, name: str, wrap=None):
        """(key row, key) — or what `wrap` makes of it (an idempotent replay)."""
        make = create_key_command(brand_code, role, name, self.clock.now_ms())

        def command(conn: sqlite3.Connection):
            key_id, key = make(conn)
            return key_store.key_row(conn, key_id), key
        return await self.writer.submit(wrap(command) if wrap else command)

    async def list(self, after_id: int, limit: int):
        return await self.readers.read(lambda c: key_store.list_keys(c, None, after_id, limit))

    async def revoke(self, key_id: int) -> None:
        """Revoke a key; never the last active admin key, which would lock every admin out."""
        now = self.clock.now_ms()

        def command(conn: sqlite3.Connection) -> None:
            key_store.revoke_key(conn, key_id, now)
            if key_store.count_admin_keys(conn) == 0:  # raising undoes the revocation
                raise Conflict("the last active admin key cannot be revoked; create another admin key first",
                               key_id=str(key_id))
        await self.writer.submit(command)
        self.auth.forget(key_id)

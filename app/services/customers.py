"""Customer profiles: upsert by the brand's own id (one, or many from an import), read, list
with filters."""
from __future__ import annotations

import json
import sqlite3
from typing import Literal

from ..ledger.errors import InvalidRequest, LedgerError, LimitExceeded, NotFound
from ..ledger.json_text import canonical_json
from ..store import customers as store
from ..store.sqlite import each_alone
from .ledger import check_customer_id

MAX_ATTRIBUTES_BYTES = 4096
MAX_CUSTOMERS_PER_CALL = 1000
Upserted = Literal["created", "updated", "unchanged"]


def _stored_fields(customer: str, fields: dict) -> dict:
    """A profile as its columns hold it (tags a sorted set, attributes canonical JSON)."""
    check_customer_id(customer)
    attributes = canonical_json(fields.get("attributes", {}))
    if len(attributes.encode()) > MAX_ATTRIBUTES_BYTES:
        raise InvalidRequest(f"attributes are larger than {MAX_ATTRIBUTES_BYTES} bytes", field="attributes")
    return {**fields, "attributes": attributes, "tags": json.dumps(sorted(set(fields.get("tags", []))))}


def _upsert(conn: sqlite3.Connection, brand_id: int, customer: str, row: dict, now_ms: int) -> bool:
    try:
        return store.upsert_customer(conn, brand_id, customer, row, now_ms)
    except sqlite3.IntegrityError as exc:  # the SQL CHECKs restate the model's rules
        raise InvalidRequest("customer fields are invalid", reason=str(exc)) from None


def _upsert_if_changed(conn: sqlite3.Connection, brand_id: int, customer: str, row: dict,
                       now_ms: int) -> Upserted:
    """An import row: a profile equal to the stored one is left alone (its updated_at too)."""
    try:
        stored = store.get_customer(conn, brand_id, customer)
    except NotFound:
        stored = None
    if stored is not None and all(stored[name] == row[name] for name in row):
        return "unchanged"
    return "created" if _upsert(conn, brand_id, customer, row, now_ms) else "updated"


class CustomerService:
    def __init__(self, writer, readers, clock) -> None:
        self.writer, self.readers, self.clock = writer, readers, clock

    async def upsert(self, brand_id: int, customer: str, fields: dict) -> tuple[bool, sqlite3.Row]:
        row = _stored_fields(customer, fields)
        now = self.clock.now_ms()

        def command(conn: sqlite3.Connection):
            return _upsert(conn, brand_id, customer, row, now), store.get_customer(conn, brand_id, customer)
        return await self.writer.submit(command)

    async def upsert_many(self, brand_id: int, rows: list[tuple[str, dict] | LedgerError]
                          ) -> list[Upserted | LedgerError]:
        """Upsert up to MAX_CUSTOMERS_PER_CALL (customer id, fields) pairs in one writer command,
        each in its own savepoint so that a bad row fails alone; an error given in `rows`
        (a row that failed its checks before) is answered as itself. Per row: created,
        updated, unchanged (nothing written) or the error."""
        if len(rows) > MAX_CUSTOMERS_PER_CALL:
            raise LimitExceeded(f"at most {MAX_CUSTOMERS_PER_CALL} customers per call",
                                max_customers=MAX_CUSTOMERS_PER_CALL)
        prepared: list = []
        for row in rows:
            try:
                prepared.append(row if isinstance(row, LedgerError) else (row[0], _stored_fields(*row)))
            except LedgerError as exc:
                prepared.append(exc)
        now = self.clock.now_ms()

        return await self.writer.submit(lambda conn: each_alone(
            conn, prepared, lambda item: _upsert_if_changed(conn, brand_id, item[0], item[1], now), "import_customer"))

    async def get(self, brand_id: int, customer: str) -> sqlite3.Row:
        check_customer_id(customer)
        return self.readers.read_now(lambda c: store.get_customer(c, brand_id, customer),
                                     single_statement=True)

    async def list(self, brand_id: int, status: str | None, tag: str | None, after_id: int,
                   limit: int) -> list[sqlite3.Row]:
        return await self.readers.read(lambda c: store.list_customers(c, brand_id, status, tag, after_id, limit))

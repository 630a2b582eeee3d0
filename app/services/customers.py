"""Customer profiles: upsert by the brand's own id, read, list with filters."""
from __future__ import annotations

import json
import sqlite3

from ..ledger.errors import InvalidRequest
from ..ledger.json_text import canonical_json
from ..store import customers as store
from .ledger import check_customer_id

MAX_ATTRIBUTES_BYTES = 4096


class CustomerService:
    def __init__(self, writer, readers, clock) -> None:
        self.writer, self.readers, self.clock = writer, readers, clock

    async def upsert(self, brand_id: int, customer: str, fields: dict) -> tuple[bool, sqlite3.Row]:
        check_customer_id(customer)
        attributes = canonical_json(fields.get("attributes", {}))
        if len(attributes.encode()) > MAX_ATTRIBUTES_BYTES:
            raise InvalidRequest(f"attributes are larger than {MAX_ATTRIBUTES_BYTES} bytes", field="attributes")
        row = {**fields, "attributes": attributes, "tags": json.dumps(sorted(set(fields.get("tags", []))))}
        now = self.clock.now_ms()

        def command(conn: sqlite3.Connection):
            try:
                created = store.upsert_customer(conn, brand_id, customer, row, now)
            except sqlite3.IntegrityError as exc:  # the SQL CHECKs restate the model's rules
                raise InvalidRequest("customer fields are invalid", reason=str(exc)) from None
            return created, store.get_customer(conn, brand_id, customer)
        return await self.writer.submit(command)

    async def get(self, brand_id: int, customer: str) -> sqlite3.Row:
        check_customer_id(customer)
        return self.readers.read_now(lambda c: store.get_customer(c, brand_id, customer),
                                     single_statement=True)

    async def list(self, brand_id: int, status: str | None, tag: str | None, after_id: int,
                   limit: int) -> list[sqlite3.Row]:
        return await self.readers.read(lambda c: store.list_customers(c, brand_id, status, tag, after_id, limit))

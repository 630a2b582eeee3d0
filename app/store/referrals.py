"""The referral network (seed 001): groups, ambassadors, referral links and QR codes.

An ambassador is a customer of the brand (created on first use), in at most one group, with
its own commission rate, else its group's, else the rule's. A customer is linked to the
ambassador whose referral code its first PURCHASE or SIGNUP carries (`link_referral`, run by
the events engine before the rules), never re-linked and never to itself; the rules'
`commission` action pays the ambassador named by the event's code, else the customer's
referrer (`commission_payee`). The SQL restates each rule (UNIQUE, triggers).

Functions run inside the writer's transaction, except the `list_`/`get_` reads. Views are
rendered here, as the API shows them.
"""
from __future__ import annotations

import secrets
import sqlite3
from typing import NamedTuple, Optional

from ..ledger.errors import Conflict, LimitExceeded, NotFound
from ..times import rfc3339
from .customers import ensure_customer

# Crockford's base32: no I, L, O, U, so a code read aloud or typed from paper survives.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
REFERRAL_CODE_CHARS = 12  # 60 random bits: a code is shared on purpose, but never guessed
QR_CODE_CHARS = 20        # 100 random bits: the public /q/{code} URL is the only secret
MAX_GROUPS_PER_BRAND = 1000
REFERRAL_EVENT_TYPES = ("PURCHASE", "SIGNUP")


def random_code(chars: int) -> str:
    """`chars` characters of Crockford base32 from the OS's CSPRNG (5 bits each)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(chars))


# -- groups -------------------------------------------------------------------------------------
def group_view(row: sqlite3.Row) -> dict:
    return {"code": row["code"], "name": row["name"], "commission_bps": row["commission_bps"],
            "ambassadors": row["ambassadors"], "created_at": rfc3339(row["created_at_ms"])}


_GROUP = ("SELECT g.*, (SELECT count(*) FROM ambassadors a WHERE a.group_id = g.id) AS ambassadors"
          " FROM referral_groups g")


def create_group(conn: sqlite3.Connection, brand_id: int, code: str, name: str, commission_bps: Optional[int],
                 now_ms: int) -> dict:
    count = conn.execute("SELECT count(*) FROM referral_groups WHERE brand_id = ?", (brand_id,)).fetchone()[0]
    if count >= MAX_GROUPS_PER_BRAND:
        raise LimitExceeded(f"a brand has at most {MAX_GROUPS_PER_BRAND} groups")
    try:
        group_id = conn.execute("INSERT INTO referral_groups (brand_id, code, name, commission_bps, created_at_ms)"
                                " VALUES (?, ?, ?, ?, ?)", (brand_id, code, name, commission_bps, now_ms)).lastrowid
    except sqlite3.IntegrityError:
        raise Conflict("a group with this code exists", field="code", code=code) from None
    return group_view(conn.execute(_GROUP + " WHERE g.id = ?", (group_id,)).fetchone())


def list_groups(conn: sqlite3.Connection, brand_id: int, after_id: int, limit: int) -> list[tuple[int, dict]]:
    rows = conn.execute(_GROUP + " WHERE g.brand_id = ? AND g.id > ? ORDER BY g.id LIMIT ?",
                        (brand_id, after_id, limit)).fetchall()
    return [(row["id"], group_view(row)) for row in rows]


# -- ambassadors --------------------------------------------------------------------------------
_AMBASSADOR = ("SELECT a.id, a.commission_bps, a.referral_code, a.created_at_ms, c.external_id AS customer,"
               " g.code AS group_code, g.commission_bps AS group_bps,"
               " (SELECT count(*) FROM referrals r WHERE r.ambassador_id = a.id) AS referred"
               " FROM ambassadors a JOIN customers c ON c.id = a.customer_id"
               " LEFT JOIN referral_groups g ON g.id = a.group_id")


def ambassador_view(row: sqlite3.Row) -> dict:
    own, group = row["commission_bps"], row["group_bps"]
    return {"id": str(row["id"]), "customer_id": row["customer"], "group": row["group_code"],
            "commission_bps": own, "effective_commission_bps": own if own is not None else group,
            "referral_code": row["referral_code"], "referred_customers": row["referred"],
            "created_at": rfc3339(row["created_at_ms"])}


def create_ambassador(conn: sqlite3.Connection, brand_id: int, customer: str, group: Optional[str],
                      commission_bps: Optional[int], referral_code: Optional[str], now_ms: int) -> dict:
    """Make a customer (created on first use) an ambassador; 409 when it is one already or the
    code is taken, 404 for an unknown group."""
    group_id = None
    if group is not None:
        found = conn.execute("SELECT id FROM referral_groups WHERE brand_id = ? AND code = ?",
                             (brand_id, group)).fetchone()
        if found is None:
            raise NotFound("no such group", field="group", group=group)
        group_id = found[0]
    customer_row = ensure_customer(conn, brand_id, customer, now_ms)
    if conn.execute("SELECT 1 FROM ambassadors WHERE customer_id = ?", (customer_row,)).fetchone():
        raise Conflict("this customer is an ambassador already", field="customer_id", customer_id=customer)
    for _ in range(5):  # a generated code colliding is a 2^-60 event; a chosen one is the caller's
        code = referral_code or random_code(REFERRAL_CODE_CHARS)
        try:
            ambassador_id = conn.execute(
                "INSERT INTO ambassadors (brand_id, customer_id, group_id, commission_bps, referral_code,"
                " created_at_ms) VALUES (?, ?, ?, ?, ?, ?)",
                (brand_id, customer_row, group_id, commission_bps, code, now_ms)).lastrowid
            break
        except sqlite3.IntegrityError:
            if referral_code is not None:
                raise Conflict("this referral code is taken in the brand", field="referral_code") from None
    else:
        raise Conflict("could not generate a free referral code; try again")
    return ambassador_view(conn.execute(_AMBASSADOR + " WHERE a.id = ?", (ambassador_id,)).fetchone())


def list_ambassadors(conn: sqlite3.Connection, brand_id: int, group: Optional[str], after_id: int,
                     limit: int) -> list[tuple[int, dict]]:
    where, args = "a.brand_id = ? AND a.id > ?", [brand_id, after_id]
    if group is not None:
        where += " AND g.code = ?"
        args.append(group)
    rows = conn.execute(_AMBASSADOR + f" WHERE {where} ORDER BY a.id LIMIT ?", (*args, limit)).fetchall()
    return [(row["id"], ambassador_view(row)) for row in rows]


def _ambassador_by_code(conn: sqlite3.Connection, brand_id: int, code: object) -> Optional[sqlite3.Row]:
    if not isinstance(code, str) or not 3 <= len(code) <= 64:
        return None
    return conn.execute("SELECT id, customer_id, group_id, commission_bps FROM ambassadors"
                        " WHERE brand_id = ? AND referral_code = ?", (brand_id, code)).fetchone()


# -- referral links and commissions ----------------------------------------------------------------
def link_referral(conn: sqlite3.Connection, brand_id: int, customer_row: int, referral_code: object,
                  event_id: Optional[str], now_ms: int) -> bool:
    """Link the customer to the ambassador the code names, on first use only; True when linked.
    An unknown code, the customer's own code, or a customer already linked: nothing."""
    ambassador = _ambassador_by_code(conn, brand_id, referral_code)
    if ambassador is None or ambassador["customer_id"] == customer_row:
        return False
    return conn.execute("INSERT INTO referrals (customer_id, ambassador_id, event_id, created_at_ms)"
                        " VALUES (?, ?, ?, ?) ON CONFLICT (customer_id) DO NOTHING",
                        (customer_row, ambassador["id"], event_id, now_ms)).rowcount == 1


class Payee(NamedTuple):
    """The ambassador a commission goes to, and its rate (None: the rule's own rate)."""

    ambassador_id: int
    customer_row: int
    customer: str          # the ambassador's customer id: the owner of its accounts
    rate_bps: Optional[int]


def commission_payee(conn: sqlite3.Connection, brand_id: int, customer_row: int,
                     referral_code: Optional[str]) -> Optional[Payee]:
    """The ambassador the event's code names (never the customer itself), else the customer's
    referrer; None when there is neither."""
    found = _ambassador_by_code(conn, brand_id, referral_code) if referral_code else None
    if found is None or found["customer_id"] == customer_row:
        found = conn.execute("SELECT a.id, a.customer_id, a.group_id, a.commission_bps FROM referrals r"
                             " JOIN ambassadors a ON a.id = r.ambassador_id WHERE r.customer_id = ?",
                             (customer_row,)).fetchone()
    if found is None:
        return None
    row = conn.execute("SELECT c.external_id, g.commission_bps FROM customers c LEFT JOIN referral_groups g"
                       " ON g.id = ? WHERE c.id = ?", (found["group_id"], found["customer_id"])).fetchone()
    rate = found["commission_bps"] if found["commission_bps"] is not None else row[1]
    return Payee(found["id"], found["customer_id"], row[0], rate)


# -- QR codes ---------------------------------------------------------------------------------------
_QR = ("SELECT q.id, q.code, q.target_url, q.scans, q.last_scan_at_ms, q.created_at_ms, q.ambassador_id,"
       " a.referral_code FROM qr_codes q JOIN ambassadors a ON a.id = q.ambassador_id")


def qr_view(row: sqlite3.Row) -> dict:
    """A QR code without its URLs (the web layer adds them: they depend on the public host)."""
    return {"code": row["code"], "ambassador_id": str(row["ambassador_id"]), "referral_code": row["referral_code"],
            "target_url": row["target_url"], "scans": row["scans"],
            "last_scan_at": rfc3339(row["last_scan_at_ms"]), "created_at": rfc3339(row["created_at_ms"])}


def create_qr(conn: sqlite3.Connection, brand_id: int, ambassador_id: int, target_url: Optional[str],
              now_ms: int) -> dict:
    if conn.execute("SELECT 1 FROM ambassadors WHERE id = ? AND brand_id = ?",
                    (ambassador_id, brand_id)).fetchone() is None:
        raise NotFound("no such ambassador", field="ambassador_id", ambassador_id=str(ambassador_id))
    for _ in range(5):
        try:
            qr_id = conn.execute("INSERT INTO qr_codes (brand_id, ambassador_id, code, target_url, created_at_ms)"
                                 " VALUES (?, ?, ?, ?, ?)", (brand_id, ambassador_id, random_code(QR_CODE_CHARS),
                                                             target_url, now_ms)).lastrowid
            break
        except sqlite3.IntegrityError:
            continue  # a collision of 100 random bits: draw again
    else:
        raise Conflict("could not generate a free QR code; try again")
    return qr_view(conn.execute(_QR + " WHERE q.id = ?", (qr_id,)).fetchone())


def get_qr(conn: sqlite3.Connection, brand_id: int, code: str) -> dict:
    row = conn.execute(_QR + " WHERE q.code = ? AND q.brand_id = ?", (code, brand_id)).fetchone()
    if row is None:
        raise NotFound("no such QR code", code=code[:64])
    return qr_view(row)


def scan_qr(conn: sqlite3.Connection, code: str, now_ms: int) -> Optional[dict]:
    """Count a scan of the public code; what the landing needs (None for an unknown code)."""
    row = conn.execute("UPDATE qr_codes SET scans = scans + 1, last_scan_at_ms = ? WHERE code = ?"
                       " RETURNING ambassador_id, target_url, brand_id", (now_ms, code)).fetchone()
    if row is None:
        return None
    found = conn.execute("SELECT a.referral_code, b.name FROM ambassadors a JOIN brands b ON b.id = a.brand_id"
                         " WHERE a.id = ?", (row["ambassador_id"],)).fetchone()
    return {"target_url": row["target_url"], "referral_code": found[0], "brand_name": found[1]}

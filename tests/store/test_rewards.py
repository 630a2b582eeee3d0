"""`issue_reward` as the events engine calls it: inside the caller's own writer command,
writing nothing when it refuses, so the caller can go on; and the SQL restating the rules."""
import sqlite3

import pytest

from app.ledger.errors import InsufficientFunds, LimitExceeded, NotFound, OutOfStock
from app.services.ledger import Movement
from app.store import rewards
from app.store.customers import ensure_customer


async def test_free_issues_inside_one_command_with_refusals_in_between(runtime, brand):
    await runtime.rewards.create(brand, {"code": "BDAY", "name": "Birthday cake", "cost_asset": "POINTS",
                                         "cost_amount": "500", "stock": 2, "per_customer_limit": 1})
    await runtime.rewards.create(brand, {"code": "PAID", "name": "Paid", "cost_asset": "POINTS",
                                         "cost_amount": "5", "stock": 3})
    await runtime.ledger.credit(brand, "poor", Movement("POINTS", 4, "earn"))
    now = runtime.clock.now_ms()

    def command(conn):
        ann, ben, cat, poor = (ensure_customer(conn, brand, who, now) for who in ("ann", "ben", "cat", "poor"))
        issued = [rewards.issue_reward(conn, brand, ann, "BDAY", now, charge=False, source="rule", event_id="e1")]
        refusals = []
        for customer, code, charge in ((ann, "BDAY", False), (poor, "PAID", True), (ben, "NOPE", False)):
            try:
                rewards.issue_reward(conn, brand, customer, code, now, charge=charge)
            except (LimitExceeded, InsufficientFunds, NotFound) as exc:
                refusals.append(exc.code)
        issued.append(rewards.issue_reward(conn, brand, ben, "BDAY", now, charge=False, source="rule"))
        try:
            rewards.issue_reward(conn, brand, cat, "BDAY", now, charge=False)
        except OutOfStock as exc:
            refusals.append(exc.code)
        return issued, refusals, rewards.reward_codes(conn, brand)

    issued, refusals, codes = await runtime.writer.submit(command)
    assert refusals == ["limit_exceeded", "insufficient_funds", "not_found", "out_of_stock"]
    assert [(v["customer_id"], v["source"], v["cost_amount"], v["charge_transfer_id"]) for v in issued] == [
        ("ann", "rule", "0", None), ("ben", "rule", "0", None)]
    assert issued[0]["event_id"] == "e1" and codes == {"BDAY", "PAID"}
    rows = runtime.readers.read_sync(lambda c: c.execute(
        "SELECT code, stock FROM rewards ORDER BY id").fetchall())
    assert [tuple(r) for r in rows] == [("BDAY", 0), ("PAID", 3)]  # the refused paid issue gave its stock back
    assert runtime.readers.read_sync(lambda c: c.execute("SELECT count(*) FROM customer_rewards").fetchone()[0]) == 2


async def test_sql_restates_the_rules(runtime, brand):
    await runtime.rewards.create(brand, {"code": "MUG", "name": "Mug", "cost_asset": "POINTS",
                                         "cost_amount": "0", "stock": 1})
    issued = await runtime.rewards.redeem(brand, "ann", "MUG")
    await runtime.rewards.use(brand, "ann", int(issued["id"]))

    def tamper(sql):
        def command(conn):
            conn.execute(sql)
        return runtime.writer.submit(command)
    with pytest.raises(sqlite3.IntegrityError):  # a used reward never changes status again
        await tamper("UPDATE customer_rewards SET status = 'issued', resolved_at_ms = NULL")
    with pytest.raises(sqlite3.IntegrityError):
        await tamper("UPDATE rewards SET stock = -1")
    with pytest.raises(sqlite3.IntegrityError):
        await tamper("DELETE FROM customer_rewards")
    with pytest.raises(sqlite3.IntegrityError):
        await tamper("UPDATE customer_rewards SET redemption_code = 'short'")

"""64 concurrent clients: random credits, debits and transfers, each retried with its key.
Afterwards `python -m app verify` passes, no balance is negative, and every 2xx is in the
ledger exactly once."""
import asyncio
import os
import random
import subprocess
import sys

import httpx

from tests.conftest import ROOT

CLIENTS = 64
REQUESTS_PER_CLIENT = 25
CUSTOMERS = [f"c{i}" for i in range(12)]


async def client_run(url: str, key: str, n: int, outcomes: dict) -> None:
    rng = random.Random(n)
    async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": key}, timeout=60) as c:
        for i in range(REQUESTS_PER_CLIENT):
            idem = f"client{n}-req{i}"
            kind = rng.choice(["credit", "debit", "transfer", "transfer"])
            amount = f"{rng.randint(1, 3000) / 100:.2f}"
            if kind == "transfer":
                a, b = rng.sample(CUSTOMERS, 2)
                path, body = "/v1/transfers", {"from_customer": a, "to_customer": b, "asset": "CREDITS",
                                               "amount": amount}
            else:
                path, body = f"/v1/customers/{rng.choice(CUSTOMERS)}/{kind}", {"asset": "CREDITS", "amount": amount}
            for _attempt in range(rng.choice([1, 2, 3])):
                r = await c.post(path, json=body, headers={"Idempotency-Key": idem})
                assert r.status_code in (201, 422), r.text
                if r.status_code == 201:
                    tid = r.json()["transfer_id"]
                    assert outcomes.setdefault(idem, tid) == tid


def test_64_clients_with_retries(live, shop):
    for c in CUSTOMERS:
        assert shop.post(f"/v1/customers/{c}/credit", json={"asset": "CREDITS", "amount": "20.00"}).status_code == 201
    outcomes: dict[str, str] = {}

    async def main():
        await asyncio.gather(*(client_run(live.url, shop.key, n, outcomes) for n in range(CLIENTS)))
    asyncio.run(main())
    assert len(outcomes) > CLIENTS * REQUESTS_PER_CLIENT / 3
    rows = live.runtime.readers.read_sync(lambda c: c.execute(
        "SELECT idempotency_key, id FROM transfers WHERE idempotency_key LIKE 'client%'").fetchall())
    assert {k: str(i) for k, i in rows} == outcomes  # each 2xx exactly once, nothing else applied
    total = 0
    for c in CUSTOMERS:
        b = shop.get(f"/v1/customers/{c}/balances").json()["balances"][0]
        assert not b["balance"].startswith("-") and not b["available"].startswith("-")
        total += int(b["balance"].replace(".", ""))
    issuance = live.runtime.readers.read_sync(lambda c: c.execute(
        "SELECT coalesce(sum(credits_posted - debits_posted), 0) FROM accounts WHERE kind = 'system'").fetchone()[0])
    assert total + issuance == 0
    env = dict(os.environ, DATABASE_PATH=live.config.database_path)
    r = subprocess.run([sys.executable, "-m", "app", "verify"], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr

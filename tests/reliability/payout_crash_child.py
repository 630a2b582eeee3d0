"""Child for the payout crash test: the service's runtime on a real file, paying through the
chain node of `chain_node.py` (WEB3_PROVIDER_URL), killing itself with SIGKILL at one step
of the drain.

argv: DB URL CHAIN_ID TOKEN MODE KILL_AT
MODE says where the process dies, at the KILL_AT-th time it gets there (0: never):
- `after_hold`: right after a payout request's hold and outbox row committed;
- `before_broadcast`: a payout claimed, its transaction signed and stored (committed), the
  broadcast not made;
- `after_broadcast`: the node has the transaction, the drain has not recorded it;
- `after_receipt`: the rail saw the confirmed receipt, the hold is not posted yet.
Each life asks for the same payouts with the same Idempotency-Keys (earlier lives' are
replays), then drains until every payout is final and prints `done`.
The kill is fault injection around the rail's real calls: nothing of the service is replaced.
"""
import asyncio
import os
import signal
import sys

from app.clock import SystemClock
from app.config import load_config
from app.ledger.errors import Conflict
from app.payouts.chain import DEV_PAYER_KEY
from app.payouts.conversion import parse_chain_assets, parse_payout_limits
from app.payouts.rails import Confirmed
from app.runtime import Runtime
from app.services.ledger import Movement

CUSTOMERS = [f"c{i}" for i in range(4)]
PAYOUTS = [(f"c{i % 4}", f"0x{(0xA0 + i):040x}", 100 + i) for i in range(12)]  # (customer, raw address, cents)


class Killer:
    def __init__(self, mode: str, at: int) -> None:
        self.mode, self.at, self.seen = mode, at, 0

    def reached(self, mode: str) -> None:
        if mode == self.mode and self.at:
            self.seen += 1
            if self.seen == self.at:
                os.kill(os.getpid(), signal.SIGKILL)


def wrap_rail(rail, killer: Killer) -> None:
    submit, check = rail.submit, rail.check

    async def killing_submit(order):
        killer.reached("before_broadcast")
        outcome = await submit(order)
        killer.reached("after_broadcast")
        return outcome

    async def killing_check(order, ref):
        outcome = await check(order, ref)
        if isinstance(outcome, Confirmed):
            killer.reached("after_receipt")
        return outcome
    rail.submit, rail.check = killing_submit, killing_check


async def main(db: str, url: str, chain_id: str, token: str, mode: str, kill_at: str) -> None:
    from eth_utils import to_checksum_address
    config = load_config(environ={}, env_file=None, database_path=db, web3_provider_url=url,
                         payout_private_key=DEV_PAYER_KEY, chain_id=int(chain_id), chain_confirmations=2,
                         chain_assets=parse_chain_assets(f"CREDITS:2={token}@6:1"),
                         payout_limits=parse_payout_limits(""), payout_poll_interval_ms=0, payout_retry_max_ms=200,
                         payout_drain_batch_max=3)  # claims spread over ticks: kills land between them
    rt = Runtime(config, clock=SystemClock())
    killer = Killer(mode, int(kill_at))
    wrap_rail(rt.rails.get("chain"), killer)
    try:
        brand = await rt.ledger.create_brand("crash", "Crash")
        for c in CUSTOMERS:
            await rt.ledger.credit(brand, c, Movement("CREDITS", 10_000, "earn"))
    except Conflict:  # a later life of the same file
        brand = 1
    print("ready", flush=True)
    ids = []
    for n, (customer, raw, cents) in enumerate(PAYOUTS):
        view = await rt.payouts.request(brand, customer, "CREDITS", f"{cents // 100}.{cents % 100:02d}", "chain",
                                        {"address": to_checksum_address(raw)}, f"payout-{n}")
        killer.reached("after_hold")
        ids.append(view["id"])
    while True:
        await rt.payout_drain.run()
        views = [await rt.payouts.get(brand, i) for i in ids]
        if all(v["status"] in ("confirmed", "failed") for v in views):
            break
        await asyncio.sleep(0.05)
    rt.close()
    print("done", flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))

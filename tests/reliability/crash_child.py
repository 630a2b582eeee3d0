"""Child for the crash test: writes transfers through the writer forever and prints each
transfer id (and its key) after its command returned, i.e. after COMMIT."""
import asyncio
import sys

from app.clock import SystemClock
from app.config import load_config
from app.ledger.errors import InsufficientFunds, NotFound
from app.runtime import Runtime
from app.services.ledger import Movement


async def main(db_path: str) -> None:
    rt = Runtime(load_config(environ={}, env_file=None, database_path=db_path), clock=SystemClock())
    ledger = rt.ledger
    try:
        brand = await ledger.create_brand("crash", "Crash")
    except Exception:  # noqa: BLE001 - second life of the same file
        brand = 1
    print("ready", flush=True)
    n = 0
    while True:
        n += 1
        ops = []
        for i in range(20):
            key = f"{sys.argv[2]}-{n}-{i}"
            if i % 3 == 0:
                ops.append(ledger.credit(brand, f"u{i % 7}", Movement("CREDITS", 100 + i, "earn", idempotency_key=key)))
            elif i % 3 == 1:
                ops.append(ledger.debit(brand, f"u{(i + 1) % 7}", Movement("CREDITS", 3, "spend", idempotency_key=key)))
            else:
                ops.append(ledger.credit(brand, f"u{i % 7}", Movement("CREDITS", 5, "earn", pending=True,
                                                                      idempotency_key=key)))
        for result in await asyncio.gather(*ops, return_exceptions=True):
            if isinstance(result, (InsufficientFunds, NotFound)):
                continue
            if isinstance(result, Exception):
                raise result
            print(f"{result.id} {result.idempotency_key}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))

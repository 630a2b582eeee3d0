"""Tests' way to make commands run as one group commit: hold the writer while they queue."""
import asyncio
import threading
from contextlib import asynccontextmanager


@asynccontextmanager
async def writer_held(writer):
    """The writer busy with a command that waits: what is submitted inside the block queues,
    and runs as one batch once the block ends."""
    gate = threading.Event()
    held = asyncio.ensure_future(writer.submit(lambda conn: gate.wait(10)))
    await asyncio.sleep(0.05)  # the writer has taken the waiting command
    try:
        yield
    finally:
        gate.set()
        await held

"""Crash: a child writing through the writer is SIGKILLed at random moments (12 times).
After each kill, reopening migrates nothing, `verify` passes, and every transfer whose
command had returned in the child is present with its key."""
import os
import random
import signal
import subprocess
import sys
import threading
import time

from app.store.sqlite import DbSettings, connect
from app.store.verify import verify
from tests.conftest import ROOT

KILLS = 12


def test_sigkill_at_random_moments_loses_nothing_acknowledged(tmp_path):
    db = str(tmp_path / "crash.db")
    rng = random.Random(20261121)
    acknowledged: dict[int, str] = {}
    for life in range(KILLS):
        child = subprocess.Popen([sys.executable, "-m", "tests.reliability.crash_child", db, f"L{life}"],
                                 cwd=ROOT, stdout=subprocess.PIPE, text=True, bufsize=1)
        assert child.stdout.readline().strip() == "ready"
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(iter(child.stdout.readline, "")))
        reader.start()
        time.sleep(rng.uniform(0.05, 0.6))
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        reader.join(timeout=10)
        for line in lines:
            if line.endswith("\n"):  # a line cut by the kill was never fully acknowledged
                transfer_id, key = line.split()
                acknowledged[int(transfer_id)] = key
        conn = connect(DbSettings(db), readonly=True)
        try:
            assert verify(conn) == [], f"life {life}"
            found = dict(conn.execute("SELECT id, idempotency_key FROM transfers").fetchall())
        finally:
            conn.close()
        missing = {i: k for i, k in acknowledged.items() if found.get(i) != k}
        assert missing == {}, f"life {life}: acknowledged transfers lost"
    assert len(acknowledged) > 100

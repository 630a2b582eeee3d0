"""Payout crash: the service's runtime in a child process, paying through a persistent dev
chain (`chain_node.py`, a process of its own, over JSON-RPC: the real-node path), is
SIGKILLed at each step of the drain (after the hold commit, after signing and storing
before the broadcast, after the broadcast before recording, after the receipt before
posting), several times, and restarted on the same file. In the end every payout is
confirmed or failed, the transfers counted on the chain are exactly the confirmed payouts'
(one each, the stored transaction's hash), and `python -m app verify` passes."""
import json
import os
import signal
import subprocess
import sys
from collections import Counter

import pytest

from app.store.sqlite import DbSettings, connect
from tests.conftest import ROOT

LIVES = [("after_hold", 3), ("before_broadcast", 1), ("after_broadcast", 1), ("after_receipt", 1),
         ("before_broadcast", 2), ("after_broadcast", 2), ("after_receipt", 2), ("before_broadcast", 1),
         ("after_broadcast", 1), ("after_receipt", 1), ("none", 0)]


@pytest.fixture
def node():
    proc = subprocess.Popen([sys.executable, "-m", "tests.reliability.chain_node"], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    port, chain_id, token = proc.stdout.readline().split()
    yield f"http://127.0.0.1:{port}", chain_id, token
    proc.kill()
    proc.wait(10)


def rpc(url: str, method: str) -> list:
    import httpx
    return httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": []}, timeout=30).json()["result"]


def test_sigkill_at_every_step_of_the_drain_never_pays_twice(tmp_path, node):
    url, chain_id, token = node
    db = str(tmp_path / "payouts.db")
    deaths: Counter = Counter()
    for mode, kill_at in LIVES:
        child = subprocess.run([sys.executable, "-m", "tests.reliability.payout_crash_child", db, url, chain_id, token,
                                mode, str(kill_at)], cwd=ROOT, capture_output=True, text=True, timeout=180)
        if child.returncode == -signal.SIGKILL:
            deaths[mode] += 1
            continue
        assert child.returncode == 0, child.stderr[-3000:]
        assert child.stdout.split()[-1] == "done"
    # Each step was hit at least once (a life whose step no longer comes runs to the end).
    assert set(deaths) == {"after_hold", "before_broadcast", "after_broadcast", "after_receipt"}, deaths
    assert sum(deaths.values()) >= 6, deaths
    conn = connect(DbSettings(db), readonly=True)
    try:
        payouts = conn.execute("SELECT p.status, t.tx_hash, t.to_address, t.value FROM payouts p"
                               " LEFT JOIN chain_txs t ON t.payout_id = p.id").fetchall()
        nonces = [n for (n,) in conn.execute("SELECT nonce FROM chain_txs ORDER BY nonce")]
    finally:
        conn.close()
    assert len(payouts) == 12
    assert {status for status, *_ in payouts} <= {"confirmed", "failed"}
    confirmed = {tx_hash: (to.lower(), value) for status, tx_hash, to, value in payouts if status == "confirmed"}
    on_chain = [t for t in rpc(url, "test_tokenTransfers") if t["from"] != "0x" + "0" * 40]
    assert Counter(t["tx_hash"] for t in on_chain) == Counter(list(confirmed))  # one each, only the confirmed
    assert {t["tx_hash"]: (t["to"], t["value"]) for t in on_chain} == confirmed
    assert nonces == list(range(nonces[0], nonces[0] + len(nonces)))  # gapless
    verify = subprocess.run([sys.executable, "-m", "app", "verify"], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "DATABASE_PATH": db}, timeout=120)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    print(json.dumps({"deaths": dict(deaths), "confirmed": len(confirmed), "payouts": len(payouts)}))

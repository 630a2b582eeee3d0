"""The chain rail against a node over JSON-RPC (WEB3_PROVIDER_URL): the persistent dev chain
of tests/reliability/chain_node.py in a process of its own. The chain id is checked before
anything is signed; with the right one, payouts confirm after CHAIN_CONFIRMATIONS blocks."""
from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import pytest

from app.config import ConfigError
from app.payouts.chain import DEV_PAYER_KEY
from app.payouts.conversion import parse_chain_assets
from tests.api.conftest import Api, serving
from tests.conftest import ROOT, make_config
from tests.payouts.test_chain_payouts import balance, drain, earn, new_address, request, rows


@pytest.fixture(scope="module")
def node():
    proc = subprocess.Popen([sys.executable, "-m", "tests.reliability.chain_node"], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    port, chain_id, token = proc.stdout.readline().split()
    yield f"http://127.0.0.1:{port}", int(chain_id), token
    proc.kill()
    proc.wait(10)


def node_server(tmp_path, clock, node, chain_id):
    url, _, token = node
    return serving(tmp_path, clock, web3_provider_url=url, payout_private_key=DEV_PAYER_KEY, chain_id=chain_id,
                   chain_assets=parse_chain_assets(f"CREDITS:2={token}@6:1"), chain_confirmations=3,
                   payout_poll_interval_ms=0, payout_retry_max_ms=0)


def brand_key(live) -> Api:
    admin = Api(live.url)
    admin.post("/v1/brands", json={"code": "shop", "name": "Shop"})
    key = admin.post("/v1/api-keys", json={"role": "brand", "brand": "shop"}).json()["key"]
    admin.client.close()
    return Api(live.url, key=key)


def test_a_wrong_chain_id_signs_nothing(tmp_path, clock, node):
    gen = node_server(tmp_path, clock, node, node[1] + 1)
    live = next(gen)
    shop = brand_key(live)
    try:
        earn(shop, "ann", "10.00")
        p = request(shop, "ann", "5.00", new_address()).json()
        drain(live, 3)
        assert shop.get(f"/v1/payouts/{p['id']}").json()["status"] == "pending"
        assert rows(live, "SELECT count(*) FROM chain_txs") == [(0,)]
        assert "CHAIN_ID" in live.runtime.rails.get("chain").problem
    finally:
        shop.client.close()
        next(gen, None)


def test_payouts_confirm_after_the_confirmations(tmp_path, clock, node):
    gen = node_server(tmp_path, clock, node, node[1])
    live = next(gen)
    shop = brand_key(live)
    try:
        earn(shop, "bea", "10.00")
        dest = new_address()
        p = request(shop, "bea", "2.50", dest).json()
        for _ in range(100):  # the node mines a block every 100 ms
            drain(live)
            body = shop.get(f"/v1/payouts/{p['id']}").json()
            if body["status"] == "confirmed":
                break
            time.sleep(0.05)
        assert body["status"] == "confirmed", body
        assert live.runtime.rails.get("chain").balance_of(dest, "CREDITS") == 2_500_000
        assert balance(shop, "bea")["balance"] == "7.50"
    finally:
        shop.client.close()
        next(gen, None)


def test_a_node_needs_its_key_and_chain_id(tmp_path):
    from app.runtime import Runtime
    with pytest.raises(ConfigError, match="PAYOUT_PRIVATE_KEY"):
        Runtime(make_config(tmp_path, web3_provider_url="http://127.0.0.1:9"))
    with pytest.raises(ConfigError, match="dev token"):
        Runtime(make_config(tmp_path, web3_provider_url="http://127.0.0.1:9", payout_private_key=DEV_PAYER_KEY,
                            chain_id=1))


def deposit_through_a_payout(live, shop, address: str, amount: str) -> None:
    """Tokens from the payer to `address` (a customer's payout), drained and scanned until the
    deposit is credited (the node mines a block every 100 ms)."""
    earn(shop, "cat", amount)
    p = request(shop, "cat", amount, address).json()
    credited, status = 0, "pending"
    for _ in range(100):
        drain(live)
        credited += asyncio.run_coroutine_threadsafe(live.runtime.deposits.run(), live.loop).result(60)
        status = shop.get(f"/v1/payouts/{p['id']}").json()["status"]
        if credited and status == "confirmed":  # either may see the confirmations first
            break
        time.sleep(0.05)
    assert (credited, status) == (1, "confirmed")


def test_deposits_to_a_wallet_are_credited_after_the_confirmations(tmp_path, clock, node):
    gen = node_server(tmp_path, clock, node, node[1])
    live = next(gen)
    shop = brand_key(live)
    try:
        w = shop.post("/v1/wallets", json={"name": "ops", "asset": "CREDITS"}).json()
        deposit_through_a_payout(live, shop, w["deposit_address"], "4.00")
        found = shop.get(f"/v1/wallets/{w['id']}").json()
        assert found["balance"] == "4.00", found
        [d] = found["deposits"]
        tx = live.runtime.rails.get("chain").query(lambda w3: w3.eth.get_transaction_receipt(d["tx_hash"]))
        head = live.runtime.rails.get("chain").query(lambda w3: w3.eth.block_number)
        assert head - tx["blockNumber"] + 1 >= 3  # never credited before its confirmations
    finally:
        shop.client.close()
        next(gen, None)


def test_a_wallet_made_while_the_node_was_out_of_reach_still_gets_its_deposits(tmp_path, clock, node):
    """The scan's cursor starts at the first scan when it could not start at the wallet's creation."""
    first_gen = node_server(tmp_path / "a", clock, node, node[1] + 1)  # a wrong CHAIN_ID: the rail is never ready
    first = next(first_gen)
    shop = brand_key(first)
    w = shop.post("/v1/wallets", json={"name": "ops", "asset": "CREDITS"}).json()
    shop.client.close()
    next(first_gen, None)
    gen = node_server(tmp_path / "a", clock, node, node[1])  # the same database, now with the right chain id
    live = next(gen)
    shop = brand_key(live)
    try:
        asyncio.run_coroutine_threadsafe(live.runtime.deposits.run(), live.loop).result(60)  # starts the cursor
        deposit_through_a_payout(live, shop, w["deposit_address"], "4.00")
        assert shop.get(f"/v1/wallets/{w['id']}").json()["balance"] == "4.00"
    finally:
        shop.client.close()
        next(gen, None)

"""Funding wallets end to end (DESIGN §8, seed 000): HD deposit addresses, deposits seen on the
real EVM (the embedded eth-tester dev chain) credited once, rewards paid from a wallet, and
withdrawals drained as chain payouts. A real listening server over a real SQLite file."""
from __future__ import annotations

import asyncio
import os
import stat
import uuid

import pytest

from app.payouts.chain import libs
from tests.api.conftest import Api, LiveServer, admin, serving, shop  # noqa: F401 - fixtures
from tests.payouts.test_chain_payouts import LIMITS, chain, earn, new_address, on_server, request, settle

SEED = "test test test test test test test test test test test junk"  # Hardhat's well-known mnemonic


@pytest.fixture
def live(tmp_path, clock):
    yield from serving(tmp_path, clock, chain_confirmations=3, payout_poll_interval_ms=0, payout_retry_max_ms=0,
                       payout_limits=LIMITS)


def scan(live) -> int:
    return on_server(live, live.runtime.deposits.run())


def make_wallet(shop, asset: str = "USD", name: str = "ops") -> dict:
    r = shop.post("/v1/wallets", json={"name": name, "asset": asset})
    assert r.status_code == 201, r.text
    return r.json()


def fund_with_tokens(live, shop, address: str, amount: str) -> str:
    """Send `amount` USD worth of the dev token to `address` through a customer's payout (the dev
    token's whole supply is the payer's); returns the transaction hash."""
    customer = f"funder-{uuid.uuid4().hex[:8]}"
    earn(shop, customer, amount, asset="USD")
    p = request(shop, customer, amount, address, asset="USD").json()
    done = settle(live, shop, p["id"])
    assert done["status"] == "confirmed", done
    return done["tx_hash"]


def send_eth(live, address: str, wei: int) -> str:
    assert on_server(live, chain(live).ready())
    def send(w3):
        sender = w3.eth.accounts[1]  # an eth-tester pre-funded account other than the payer
        return "0x" + bytes(w3.eth.send_transaction({"from": sender, "to": address, "value": wei})).hex()
    return chain(live).query(send)


def wallet(shop, wallet_id: str) -> dict:
    r = shop.get(f"/v1/wallets/{wallet_id}")
    assert r.status_code == 200, r.text
    return r.json()


def test_create_a_wallet_with_an_hd_deposit_address(live, shop, tmp_path):
    w = make_wallet(shop)
    assert w["asset"] == "USD" and w["balance"] == "0.00" and w["available"] == "0.00" and w["name"] == "ops"
    assert libs().is_checksum_address(w["deposit_address"])
    other = make_wallet(shop, name="marketing")
    assert other["deposit_address"] != w["deposit_address"]
    # The seed was generated into the data folder, readable by the owner only, and derives both.
    path = os.path.join(live.runtime.config.data_dir, "wallet_seed")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    from eth_account.hdaccount import key_from_seed, seed_from_mnemonic
    with open(path, encoding="utf-8") as fh:
        seed = seed_from_mnemonic(fh.read().strip(), "")
    derived = [libs().Account.from_key(key_from_seed(seed, f"m/44'/60'/0'/0/{i}")).address for i in (0, 1)]
    assert derived == [w["deposit_address"], other["deposit_address"]]
    listed = shop.get("/v1/wallets").json()["data"]
    assert [x["id"] for x in listed] == [w["id"], other["id"]]
    assert wallet(shop, w["id"])["deposits"] == []


def test_wallet_refusals(live, shop, admin):
    assert shop.post("/v1/wallets", json={"name": "p", "asset": "POINTS"}).status_code == 400  # not payable on chain
    r = shop.post("/v1/wallets", json={"name": "p", "asset": "NOPE"})
    assert r.status_code == 404 and r.json()["error"]["details"]["field"] == "asset"
    assert shop.post("/v1/wallets", json={"name": "", "asset": "USD"}).status_code == 400
    assert shop.post("/v1/wallets", json={"name": "x", "asset": "USD", "extra": 1}).status_code == 400
    assert shop.get(f"/v1/wallets/{uuid.uuid4()}").status_code == 404
    assert shop.get("/v1/wallets/nope").status_code == 404
    # Another brand cannot see the wallet.
    w = make_wallet(shop)
    assert admin.post("/v1/brands", json={"code": "other", "name": "Other"}).status_code == 201
    key = admin.post("/v1/api-keys", json={"role": "brand", "brand": "other"}).json()["key"]
    other = Api(live.url, key=key)
    try:
        assert other.get(f"/v1/wallets/{w['id']}").status_code == 404
        assert other.post("/v1/customers/x/credit", json={"asset": "USD", "amount": "1.00",
                                                           "funding_wallet": w["id"]}).status_code == 404
    finally:
        other.client.close()


def test_token_deposits_are_credited_once_after_confirmations(live, shop):
    w = make_wallet(shop)
    tx_hash = fund_with_tokens(live, shop, w["deposit_address"], "40.00")
    assert wallet(shop, w["id"])["balance"] == "0.00"  # not scanned yet
    assert scan(live) == 1
    seen = wallet(shop, w["id"])
    assert seen["balance"] == "40.00"
    [d] = seen["deposits"]
    assert d["tx_hash"] == tx_hash and d["log_index"] >= 0 and d["value"] == str(40_00 * 10**4)
    assert d["amount"] == "40.00" and d["dust"] == "0" and d["token"] == chain(live).dev_token
    t = shop.get(f"/v1/transfers/{d['transfer_id']}").json()
    assert (t["code"], t["debit_account"], t["credit_account"]) == (
        "deposit", {"kind": "system", "owner": "deposits"}, {"kind": "wallet", "owner": w["id"]})
    # Its confirmations were reached (the dev chain mines what a deposit still needs).
    receipt = chain(live).query(lambda w3: w3.eth.get_transaction_receipt(tx_hash))
    assert chain(live).query(lambda w3: w3.eth.block_number) - receipt["blockNumber"] + 1 >= 3
    # Scanning again, or twice at once, credits nothing more.
    assert scan(live) == 0
    fund_with_tokens(live, shop, w["deposit_address"], "2.50")
    async def twice():
        return await asyncio.gather(live.runtime.deposits.run(), live.runtime.deposits.run())
    results = on_server(live, twice())
    assert sorted(results) == [0, 1]
    assert wallet(shop, w["id"])["balance"] == "42.50"
    assert len(wallet(shop, w["id"])["deposits"]) == 2


def test_eth_deposits_credit_whole_minor_units_and_record_the_dust(live, shop):
    assert shop.post("/v1/assets", json={"code": "ETH", "scale": 9, "kind": "crypto"}).status_code == 201
    w = make_wallet(shop, asset="ETH")
    tx_hash = send_eth(live, w["deposit_address"], 5 * 10**9 + 7)  # 5 minor units (10^9 wei each) and 7 wei
    # A deposit to nobody's address is not ours.
    send_eth(live, new_address(), 10**18)
    assert scan(live) == 1
    [d] = wallet(shop, w["id"])["deposits"]
    assert (d["tx_hash"], d["log_index"], d["token"]) == (tx_hash, -1, None)
    assert (d["value"], d["amount"], d["dust"]) == (str(5 * 10**9 + 7), "0.000000005", "7")
    assert wallet(shop, w["id"])["balance"] == "0.000000005"
    # Tokens sent to an ETH wallet's address are not its coin: not credited.
    fund_with_tokens(live, shop, w["deposit_address"], "1.00")
    assert scan(live) == 0
    assert wallet(shop, w["id"])["balance"] == "0.000000005"


def test_rewards_paid_from_a_wallet(live, shop):
    w = make_wallet(shop)
    fund_with_tokens(live, shop, w["deposit_address"], "30.00")
    scan(live)
    r = shop.post("/v1/customers/ann/credit", json={"asset": "USD", "amount": "10.00", "funding_wallet": w["id"]},
                  headers={"Idempotency-Key": "reward-1"})
    assert r.status_code == 201, r.text
    assert r.json()["balance"] == "10.00"
    again = shop.post("/v1/customers/ann/credit", json={"asset": "USD", "amount": "10.00", "funding_wallet": w["id"]},
                      headers={"Idempotency-Key": "reward-1"})
    assert again.status_code == 201 and again.json()["transfer_id"] == r.json()["transfer_id"]
    assert wallet(shop, w["id"])["balance"] == "20.00"
    t = shop.get(f"/v1/transfers/{r.json()['transfer_id']}").json()
    assert t["debit_account"] == {"kind": "wallet", "owner": w["id"]}
    # Short: 422, nothing moves.
    short = shop.post("/v1/customers/bob/credit", json={"asset": "USD", "amount": "20.01", "funding_wallet": w["id"]})
    assert short.status_code == 422 and short.json()["error"]["code"] == "insufficient_funds"
    assert short.json()["error"]["details"]["available"] == "20.00"
    assert wallet(shop, w["id"])["balance"] == "20.00"
    assert shop.get("/v1/customers/bob").status_code == 404
    # Another asset than the wallet's, or an unknown wallet.
    wrong = shop.post("/v1/customers/ann/credit", json={"asset": "CREDITS", "amount": "1.00", "funding_wallet": w["id"]})
    assert wrong.status_code == 400 and wrong.json()["error"]["details"]["field"] == "funding_wallet"
    assert shop.post("/v1/customers/ann/credit", json={"asset": "USD", "amount": "1.00",
                                                       "funding_wallet": str(uuid.uuid4())}).status_code == 404
    # A debit has no funding wallet.
    assert shop.post("/v1/customers/ann/debit", json={"asset": "USD", "amount": "1.00",
                                                      "funding_wallet": w["id"]}).status_code == 400
    # The whole wallet can be spent, never more.
    assert shop.post("/v1/customers/bob/credit", json={"asset": "USD", "amount": "20.00",
                                                       "funding_wallet": w["id"]}).status_code == 201
    assert wallet(shop, w["id"])["balance"] == "0.00"


def test_withdraw_is_a_chain_payout_from_the_wallet(live, shop):
    w = make_wallet(shop)
    fund_with_tokens(live, shop, w["deposit_address"], "25.00")
    scan(live)
    dest = new_address()
    body = {"address": dest, "amount": "15.00"}
    assert shop.post(f"/v1/wallets/{w['id']}/withdraw", json=body).status_code == 400  # no Idempotency-Key
    r = shop.post(f"/v1/wallets/{w['id']}/withdraw", json=body, headers={"Idempotency-Key": "wd-1"})
    assert r.status_code == 202, r.text
    p = r.json()
    assert (p["wallet_id"], p["customer_id"], p["asset"], p["amount"], p["rail"]) == (w["id"], None, "USD", "15.00",
                                                                                       "chain")
    assert wallet(shop, w["id"])["available"] == "10.00" and wallet(shop, w["id"])["balance"] == "25.00"
    replay = shop.post(f"/v1/wallets/{w['id']}/withdraw", json=body, headers={"Idempotency-Key": "wd-1"})
    assert replay.status_code == 202 and replay.json()["id"] == p["id"]
    other = shop.post(f"/v1/wallets/{w['id']}/withdraw", json={**body, "amount": "1.00"},
                      headers={"Idempotency-Key": "wd-1"})
    assert other.status_code == 409
    done = settle(live, shop, p["id"])
    assert done["status"] == "confirmed", done
    assert chain(live).balance_of(dest, "USD") == 15_00 * 10**4
    assert wallet(shop, w["id"])["balance"] == "10.00"
    listed = shop.get(f"/v1/payouts?wallet_id={w['id']}").json()["data"]
    assert [x["id"] for x in listed] == [p["id"]]
    too_much = shop.post(f"/v1/wallets/{w['id']}/withdraw", json={"address": dest, "amount": "10.01"},
                         headers={"Idempotency-Key": "wd-2"})
    assert too_much.status_code == 422 and too_much.json()["error"]["code"] == "insufficient_funds"
    bad = shop.post(f"/v1/wallets/{w['id']}/withdraw", json={"address": dest.lower(), "amount": "1.00"},
                    headers={"Idempotency-Key": "wd-3"})
    assert bad.status_code == 400
    assert shop.post(f"/v1/wallets/{uuid.uuid4()}/withdraw", json=body,
                     headers={"Idempotency-Key": "wd-4"}).status_code == 404


def test_a_seed_that_does_not_derive_the_wallets_is_refused(tmp_path, clock):
    first = LiveServer(tmp_path, clock)
    try:
        api = Api(first.url)
        assert api.post("/v1/brands", json={"code": "shop", "name": "Shop"}).status_code == 201
        assert api.post("/v1/wallets", json={"name": "a", "asset": "USD"}, brand="shop").status_code == 201
        api.client.close()
    finally:
        first.stop()
    second = LiveServer(tmp_path, clock, wallet_seed=SEED)
    try:
        api = Api(second.url)
        r = api.post("/v1/wallets", json={"name": "b", "asset": "USD"}, brand="shop")
        assert r.status_code == 503 and r.json()["error"]["code"] == "wallet_seed_unusable", r.text
        api.client.close()
    finally:
        second.stop()


def test_metrics_show_the_payer_balance_and_deposits(live, shop):
    w = make_wallet(shop)
    fund_with_tokens(live, shop, w["deposit_address"], "3.00")
    scan(live)
    on_server(live, chain(live).refresh_payer_balances(every_s=0))
    text = shop.client.get("/metrics").text
    assert "deposits_credited 1.0" in text
    eth = next(line for line in text.splitlines() if line.startswith('chain_payer_balance{coin="ETH"}'))
    assert float(eth.split()[1]) > 0
    token = chain(live).dev_token
    held = next(line for line in text.splitlines() if line.startswith(f'chain_payer_balance{{coin="{token}"}}'))
    assert float(held.split()[1]) == (10**9 * 10**6 - 3_00 * 10**4) / 10**6  # the supply less what was paid out


def test_seed_000_flow_as_the_readme_walks_it(live, shop):
    """Create a wallet, deposit, reward from the wallet, balances, withdraw (README, Funding wallets)."""
    w = make_wallet(shop, name="content-team")
    earn(shop, "treasury", "100.00", asset="USD")
    funding = shop.post("/v1/payouts", headers={"Idempotency-Key": "fund-1"}, json={
        "customer_id": "treasury", "asset": "USD", "amount": "100.00", "rail": "chain",
        "destination": {"address": w["deposit_address"]}}).json()
    assert settle(live, shop, funding["id"])["status"] == "confirmed"
    scan(live)
    seen = wallet(shop, w["id"])
    assert seen["balance"] == "100.00" and seen["deposits"][0]["value"] == "100000000"
    r = shop.post("/v1/customers/dev-42/credit", json={"asset": "USD", "amount": "10.50", "funding_wallet": w["id"]})
    assert r.status_code == 201 and r.json()["balance"] == "10.50"
    dest = "0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF"
    before = chain(live).balance_of(dest, "USD")
    wd = shop.post(f"/v1/wallets/{w['id']}/withdraw", headers={"Idempotency-Key": "wd-1"},
                   json={"address": dest, "amount": "5.00"})
    assert wd.status_code == 202 and wd.json()["status"] == "pending" and wd.json()["wallet_id"] == w["id"]
    assert settle(live, shop, wd.json()["id"])["status"] == "confirmed"
    assert wallet(shop, w["id"])["balance"] == "84.50"
    assert chain(live).balance_of(dest, "USD") - before == 5_00 * 10**4


def test_an_unreadable_seed_file_is_a_clear_503(live, shop):
    path = os.path.join(live.runtime.config.data_dir, "wallet_seed")
    with open(path, "w", encoding="utf-8"):
        pass  # empty: what no crash can leave any more (the file is linked in whole), but a disk may
    r = shop.post("/v1/wallets", json={"name": "a", "asset": "USD"})
    assert r.status_code == 503 and r.json()["error"]["code"] == "wallet_seed_unusable", r.text
    assert "empty" in r.json()["error"]["message"]


def test_a_wallet_seed_setting_must_be_a_valid_mnemonic(tmp_path):
    from app.config import ConfigError, load_config
    with pytest.raises(ConfigError, match="WALLET_SEED"):
        load_config({"WALLET_SEED": " ".join(["abandon"] * 12)}, env_file=None)  # the checksum word is wrong
    with pytest.raises(ConfigError, match="WALLET_SEED"):
        load_config({"WALLET_SEED": "one two three"}, env_file=None)
    assert load_config({"WALLET_SEED": SEED}, env_file=None).wallet_seed == SEED


def test_generated_secret_files(tmp_path):
    from app.secret_files import read_or_create
    path = str(tmp_path / "secret")
    assert read_or_create(path, lambda: "first") == "first"
    assert read_or_create(path, lambda: "second") == "first"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert sorted(os.listdir(tmp_path)) == ["secret"]  # no temporary file left
    open(path, "w").close()
    with pytest.raises(ValueError, match="empty"):
        read_or_create(path, lambda: "third")

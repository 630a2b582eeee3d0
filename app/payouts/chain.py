"""The chain rail (DESIGN §8): ETH and ERC-20 payouts with web3 + eth-account.

Why a payout is paid at most once:
- the nonce is allocated from the database (`chain_nonces`, per chain and payer) in the
  writer transaction that claims the payout, and the transaction is signed and stored
  (`chain_txs`: raw bytes and hash) in that same transaction, before anything is broadcast;
- every later broadcast (a retry, a restart) sends those very bytes: one signed
  transaction per payout, one nonce per transaction, so the chain can include it once;
- "already known" means the node has it; "nonce too low" means the nonce is spent: the
  stored hash's receipt says whether by this transaction (then it is followed to its
  confirmations) or by another (then this one can never be mined: the payout fails and
  its hold is voided);
- a receipt with status 0 (a revert) fails the payout; a receipt with CHAIN_CONFIRMATIONS
  blocks (its own included) confirms it.
Any other refusal (a node unreachable, a payer short of gas, a nonce gap behind an earlier
transaction) is transient: the same bytes are broadcast again later.

Two modes:
- a node (`WEB3_PROVIDER_URL` + `PAYOUT_PRIVATE_KEY` + `CHAIN_ID`): the chain id is checked
  before the first signature; the payer's next nonce is raised to the node's count;
- embedded (no URL): an in-process eth-tester / py-evm chain whose pre-funded account pays
  and deploys the DevToken ERC-20 at start. It lives as long as the process: its chain key
  is `dev:<uuid>` per life, and a stored transaction of an earlier life (which the new chain
  never saw) fails its payout and refunds it. Blocks are mined on demand for confirmations.

web3 is synchronous here and runs on one thread of its own (`_executor`): calls never block
the event loop, and the in-process chain is only touched by one thread.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import re
import sqlite3
import sys
import threading
import time
import types
import uuid
from typing import Any, Callable, Mapping, Optional

from ..config import Config, ConfigError
from ..ledger.errors import InvalidRequest
from ..store import payouts as store
from . import dev_token
from .conversion import ChainAsset
from .rails import Confirmed, Failed, Outcome, Pending, PayoutOrder, Retry, Submitted

log = logging.getLogger("app.payouts.chain")
ETH_GAS = 21_000
TOKEN_GAS = 100_000
DEV_TOKEN_SUPPLY = 10**9 * 10**6  # a billion DUSD (6 decimals), all the payer's
DEV_PAYER_KEY = "0x" + "00" * 31 + "01"  # eth-tester's first pre-funded account
RETRY_S = 5.0
MINED_KEPT = 100_000  # receipts of the embedded chain kept in memory (then forgotten, read again)
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}\Z")
_EXPECTED_NONCE = re.compile(r"expected (\d+), but got (\d+)", re.IGNORECASE)
ZERO_ADDRESS = "0x" + "0" * 40
_libs: Optional[types.SimpleNamespace] = None
_libs_lock = threading.Lock()


def libs() -> types.SimpleNamespace:
    """web3, eth-account and eth-abi, imported on first use (a second to import; most
    processes never pay out on chain).

    py_ecc and py-evm raise the interpreter's recursion limit to 100,000 when imported; the
    limit is what turns a deeply nested JSON body into a RecursionError (a 400) instead of a
    C stack overflow that kills the process, so it is put back. The dev chain's EVM calls
    here are shallow (an ERC-20 transfer)."""
    global _libs
    with _libs_lock:
        if _libs is None:
            limit = sys.getrecursionlimit()
            try:
                import eth  # noqa: F401 - py-evm, the dev chain's EVM: imported here for its side effect
                import py_ecc  # noqa: F401 - the same (py-evm's precompiles load it later)
                from eth_abi import decode, encode
                from eth_account import Account
                from eth_tester import PyEVMBackend  # noqa: F401 - what EthereumTesterProvider loads
                from eth_tester.exceptions import TransactionNotFound as TesterTransactionNotFound
                from eth_utils import is_checksum_address
                from web3 import EthereumTesterProvider, Web3
                from web3.exceptions import TransactionNotFound
            finally:
                sys.setrecursionlimit(limit)
            _libs = types.SimpleNamespace(decode=decode, encode=encode, Account=Account, Web3=Web3,
                                          EthereumTesterProvider=EthereumTesterProvider,
                                          TransactionNotFound=TransactionNotFound,
                                          TesterTransactionNotFound=TesterTransactionNotFound,
                                          is_checksum_address=is_checksum_address)
        return _libs


def check_address(address: Any, field: str = "destination.address") -> str:
    """An EIP-55 checksummed address (mixed case exactly as the checksum says); else 400.
    All-lowercase text carries no checksum, so a typo in it would pay a stranger: refused."""
    if not isinstance(address, str) or not _ADDRESS.match(address):
        raise InvalidRequest("address must be 0x followed by 40 hex digits", field=field)
    if not libs().is_checksum_address(address):
        raise InvalidRequest("address must be EIP-55 checksummed (mixed case as the checksum gives it)",
                             field=field)
    if address == ZERO_ADDRESS:
        raise InvalidRequest("the zero address burns what it receives", field=field)
    return address


class ChainRail:
    name = "chain"

    def __init__(self, config: Config, writer, readers) -> None:
        self.embedded = not config.web3_provider_url
        self.cpu_bound = self.embedded  # py-evm computes in this process (the drain's budget)
        self.cpu_s = 0.0  # CPU seconds the rail's thread has spent in calls
        self.url = config.web3_provider_url
        self.writer, self.readers = writer, readers
        self.confirmations = config.chain_confirmations
        self.assets: dict[str, ChainAsset] = {a.code: a for a in config.chain_assets}
        if not self.embedded:
            if not config.payout_private_key or config.chain_id is None:
                raise ConfigError("WEB3_PROVIDER_URL needs PAYOUT_PRIVATE_KEY and CHAIN_ID")
            if any(a.token == "dev" for a in self.assets.values()):
                raise ConfigError("CHAIN_ASSETS names the dev token, which exists only on the embedded chain;"
                                  " map the assets to token addresses (0x…@decimals) of WEB3_PROVIDER_URL's chain")
        self._key = config.payout_private_key or DEV_PAYER_KEY
        self._wanted_chain_id = config.chain_id
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="chain-rail")
        self.w3 = None
        self.tester = None          # the embedded chain's EthereumTester
        self.chain_id: Optional[int] = None
        self.chain_key: Optional[str] = None
        self.payer: Optional[str] = None
        self.dev_token: Optional[str] = None
        self.problem: Optional[str] = None  # why the rail is not ready, for logs and metrics
        # What the payer holds, per coin ("ETH" or the token's address): (base units, decimals),
        # read by `refresh_payer_balances` (a scheduler step) for /metrics.
        self.payer_balances: dict[str, tuple[int, int]] = {}
        # The embedded chain's receipts of what this process sent: tx hash → (status, block).
        self._mined: dict[str, tuple[int, int]] = {}
        self._mined_complete = True  # it holds every one sent (False once it was ever emptied)
        self._balances_read_at = float("-inf")
        self._pending_key: Optional[str] = None

    # -- requests ---------------------------------------------------------------------------------
    def check_destination(self, destination: Any) -> dict:
        if not isinstance(destination, Mapping) or set(destination) != {"address"}:
            raise InvalidRequest('destination must be {"address": "0x…"} (EIP-55)', field="destination")
        return {"address": check_address(destination["address"])}

    def check_asset(self, asset_code: str, scale: int) -> None:
        found = self.assets.get(asset_code)
        if found is None or found.scale != scale:
            raise InvalidRequest(f"asset {asset_code} (scale {scale}) is not payable on chain (CHAIN_ASSETS)",
                                 field="asset", payable=sorted(f"{a.code}:{a.scale}" for a in self.assets.values()))

    # -- connecting ---------------------------------------------------------------------------------
    async def ready(self) -> bool:
        if self.chain_key is not None:
            return True
        try:
            floor = await self._run(self._connect)
        except Exception as exc:  # noqa: BLE001 - not ready: the drain claims nothing on chain
            self.problem = f"{type(exc).__name__}: {str(exc)[:300]}"
            log.error("chain rail not ready: %s", self.problem)
            return False
        key, payer = self._pending_key, self.payer
        await self.writer.submit(lambda c: store.raise_nonce_floor(c, key, payer, floor))
        self.chain_key, self.problem = key, None
        return True

    def _connect(self) -> int:
        """Connect, check the chain id, set up the dev chain; the payer's transaction count."""
        lib = libs()
        account = lib.Account.from_key(self._key)
        Web3 = lib.Web3
        if self.embedded:
            if self.w3 is None:
                provider = lib.EthereumTesterProvider()
                self.tester = provider.ethereum_tester
                self.w3 = Web3(provider)
                self.chain_id = self.w3.eth.chain_id
                self.payer = account.address
                self.dev_token = self._deploy_dev_token(account)
            self._pending_key = f"dev:{uuid.uuid4()}"
        else:
            if self.w3 is None:
                self.w3 = Web3(Web3.HTTPProvider(self.url, request_kwargs={"timeout": 10}))
            node_chain_id = self.w3.eth.chain_id
            if node_chain_id != self._wanted_chain_id:
                raise ConfigError(f"the node at WEB3_PROVIDER_URL is on chain {node_chain_id}, CHAIN_ID says"
                                  f" {self._wanted_chain_id}: nothing is signed")
            self.chain_id, self.payer = node_chain_id, account.address
            self._pending_key = f"eip155:{node_chain_id}"
        return self.w3.eth.get_transaction_count(self.payer, "pending")

    def _deploy_dev_token(self, account) -> str:
        data = dev_token.BYTECODE.removeprefix("0x") + libs().encode(dev_token.CONSTRUCTOR_TYPES,
                                           ["Dev USD", "DUSD", 6, DEV_TOKEN_SUPPLY]).hex()
        tx = {"type": 2, "chainId": self.chain_id, "nonce": self.w3.eth.get_transaction_count(account.address),
              "to": None, "value": 0, "data": "0x" + data, "gas": 2_000_000, **self._fees()}
        tx.pop("to")
        signed = account.sign_transaction(tx)
        receipt = self.w3.eth.wait_for_transaction_receipt(self.w3.eth.send_raw_transaction(signed.raw_transaction))
        assert receipt.status == 1, "the dev token did not deploy"
        return receipt.contractAddress

    def _fees(self) -> dict:
        base = self.w3.eth.get_block("latest").get("baseFeePerGas", 0)
        try:
            tip = self.w3.eth.max_priority_fee
        except Exception:  # noqa: BLE001 - a node without eth_maxPriorityFeePerGas
            tip = 10**9
        return {"maxFeePerGas": 2 * base + tip, "maxPriorityFeePerGas": tip}

    # -- claiming: fees outside the transaction, nonce + signature + storage inside it ---------------
    async def prepare(self, orders: list[PayoutOrder]) -> dict:
        return await self._run(self._fees)

    def stage(self, conn: sqlite3.Connection, order: PayoutOrder, fees: dict, now_ms: int) -> str:
        """Allocate the nonce, sign, store; in the claiming writer transaction. Returns the hash."""
        lib = libs()
        asset = self.assets.get(order.asset)
        if asset is None or asset.scale != order.scale:
            raise InvalidRequest(f"asset {order.asset} is no longer payable on chain (CHAIN_ASSETS)")
        to, value = order.destination["address"], asset.to_base_units(order.amount_minor)
        token = self.token_of(asset)
        nonce = store.allocate_nonce(conn, self.chain_key, self.payer)
        tx = {"type": 2, "chainId": self.chain_id, "nonce": nonce, **fees}
        if token is None:
            tx.update(to=to, value=value, data="0x", gas=ETH_GAS)
        else:
            data = dev_token.TRANSFER_SELECTOR + lib.encode(["address", "uint256"], [to, value])
            tx.update(to=token, value=0, data="0x" + data.hex(), gas=TOKEN_GAS)
        signed = lib.Account.sign_transaction(tx, self._key)
        tx_hash = "0x" + bytes(signed.hash).hex()
        store.insert_chain_tx(conn, store.ChainTx(order.metadata["row_id"], self.chain_key, self.chain_id,
                                                  self.payer, nonce, to, value, token,
                                                  "0x" + bytes(signed.raw_transaction).hex(), tx_hash), now_ms)
        return tx_hash

    # -- the rail -----------------------------------------------------------------------------------
    async def submit(self, order: PayoutOrder) -> Outcome:
        tx = await self._stored(order)
        if isinstance(tx, Failed):
            return tx
        return await self._run(self._broadcast, tx)

    async def check(self, order: PayoutOrder, provider_ref: str) -> Outcome:
        tx = await self._stored(order)
        if isinstance(tx, Failed):
            return tx
        return await self._run(self._check, tx)

    async def _stored(self, order: PayoutOrder):
        tx = await self.readers.read(lambda c: store.chain_tx_by_uid(c, order.payout_id))
        if tx is None:  # claimed by a `stage` that failed: nothing was signed, nothing can pay
            return Failed("chain: no transaction was signed for this payout")
        if tx["chain_key"] != self.chain_key:
            if self.embedded and tx["chain_key"].startswith("dev:"):
                return Failed("chain: signed on an earlier life of the embedded dev chain, which is gone;"
                              " the new chain never saw it")
            return Retry(f"chain: signed for {tx['chain_key']}, the node is {self.chain_key}", 300.0)
        return tx

    def _broadcast(self, tx: sqlite3.Row) -> Outcome:
        try:
            if self.embedded:  # eth-tester itself: web3's request formatting would cost a third more
                self.tester.send_raw_transaction(tx["raw_tx"])
                self._note_mined(tx["tx_hash"])
            else:
                self.w3.eth.send_raw_transaction(tx["raw_tx"])
        except Exception as exc:  # noqa: BLE001 - classified below; nothing else is known of node errors
            return self._refused(tx, exc)
        return Submitted(tx["tx_hash"], {"nonce": tx["nonce"]})

    def _refused(self, tx: sqlite3.Row, exc: Exception) -> Outcome:
        text = str(exc)
        lowered = text.lower()
        expected = _EXPECTED_NONCE.search(text)
        if "already known" in lowered or "known transaction" in lowered:
            return Pending(tx["tx_hash"])
        if "nonce too low" in lowered or (expected and int(expected.group(2)) < int(expected.group(1))):
            receipt = self._receipt(tx["tx_hash"])
            if receipt is not None:
                return self._from_receipt(tx, receipt)
            return Failed(f"chain: nonce {tx['nonce']} was spent by another transaction; this one can never"
                          " be mined")
        return Retry(f"chain: broadcast refused: {type(exc).__name__}: {text[:300]}", RETRY_S)

    def _check(self, tx: sqlite3.Row) -> Outcome:
        try:
            receipt = self._receipt(tx["tx_hash"])
            if receipt is None:
                if self._known(tx["tx_hash"]):
                    return Pending(tx["tx_hash"])
                outcome = self._broadcast(tx)  # never seen, or dropped: the same bytes again
                return Pending(tx["tx_hash"]) if isinstance(outcome, Submitted) else outcome
            return self._from_receipt(tx, receipt)
        except Exception as exc:  # noqa: BLE001 - a node error is never the payout's failure
            return Retry(f"chain: {type(exc).__name__}: {str(exc)[:300]}", RETRY_S)

    def _from_receipt(self, tx: sqlite3.Row, receipt: tuple[int, int]) -> Outcome:
        status, block = receipt
        if status != 1:
            return Failed(f"chain: transaction reverted in block {block}")
        have = self._head() - block + 1
        if have < self.confirmations and self.embedded:  # the dev chain makes blocks on demand
            self.tester.mine_blocks(self.confirmations - have)
            have = self.confirmations
        if have >= self.confirmations:
            return Confirmed(tx["tx_hash"])
        return Pending(tx["tx_hash"])

    # The embedded chain is asked directly (eth-tester's own API), a node through web3.
    def _head(self) -> int:
        return self.tester.get_block_by_number("latest")["number"] if self.embedded else self.w3.eth.block_number

    def _receipt(self, tx_hash: str) -> Optional[tuple[int, int]]:
        """(status, block number) of the transaction's receipt; None when it has none."""
        lib = libs()
        try:
            if self.embedded:
                found = self._mined.get(tx_hash)
                if found is not None or self._mined_complete:
                    return found  # never sent in this life of the chain: no receipt (no scan)
                receipt = self.tester.get_transaction_receipt(tx_hash)
                return receipt["status"], receipt["block_number"]
            receipt = self.w3.eth.get_transaction_receipt(tx_hash)
            return receipt["status"], receipt["blockNumber"]
        except (lib.TransactionNotFound, lib.TesterTransactionNotFound):
            return None

    def _note_mined(self, tx_hash: str) -> None:
        """The dev chain mines a transaction as it is sent: its receipt is read now, from the
        newest block, and kept for the checks (eth-tester finds a receipt by reading the blocks
        back from the newest one: later, that costs ~0.25 ms a block, and for a transaction it
        never saw, every block of the chain)."""
        receipt = self.tester.get_transaction_receipt(tx_hash)
        if len(self._mined) >= MINED_KEPT:
            self._mined.clear()
            self._mined_complete = False
        self._mined[tx_hash] = (receipt["status"], receipt["block_number"])

    def _known(self, tx_hash: str) -> bool:
        lib = libs()
        try:
            if self.embedded:  # the dev chain mines what it is sent: known means mined
                return self._receipt(tx_hash) is not None
            return self.w3.eth.get_transaction(tx_hash) is not None
        except (lib.TransactionNotFound, lib.TesterTransactionNotFound):
            return False

    def note(self, conn: sqlite3.Connection, order: PayoutOrder, outcome: Outcome, now_ms: int) -> None:
        """Keep `chain_txs.status` in step with what the drain learnt (inside its command)."""
        ref = getattr(outcome, "provider_ref", None)
        tx = store.chain_tx_by_uid(conn, order.payout_id)
        if tx is None:
            return
        status = {Submitted: "broadcast", Pending: "broadcast", Confirmed: "confirmed"}.get(type(outcome))
        if isinstance(outcome, Failed):
            status = "reverted" if "reverted" in outcome.reason else "dropped"
        if status and (ref is None or ref == tx["tx_hash"]):
            store.set_chain_tx_status(conn, tx["tx_hash"], status, None, now_ms)

    # -- helpers --------------------------------------------------------------------------------------
    async def _run(self, fn: Callable, *args) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._timed, fn, *args)

    def _timed(self, fn: Callable, *args) -> Any:
        """`fn(*args)` on the rail's thread, its CPU time added to `cpu_s` (the drain's budget:
        wall time would also count the waits for the GIL that busy requests cause)."""
        started = time.thread_time()
        try:
            return fn(*args)
        finally:
            self.cpu_s += time.thread_time() - started

    async def on_thread(self, fn: Callable[[Any], Any]) -> Any:
        """Await `fn(w3)` run on the rail's thread (the deposit scan)."""
        return await self._run(fn, self.w3)

    def query(self, fn: Callable[[Any], Any]) -> Any:
        """Run `fn(w3)` on the rail's thread and wait (tests, metrics)."""
        return self._executor.submit(fn, self.w3).result(60)

    def token_of(self, asset: ChainAsset) -> Optional[str]:
        """The ERC-20 contract a chain asset is paid in (EIP-55), or None for ETH."""
        if asset.token is None:
            return None
        return self.dev_token if asset.token == "dev" else libs().Web3.to_checksum_address(asset.token)

    def _held(self, w3, address: str, token: Optional[str]) -> int:
        """`address`'s balance in base units of ETH (`token` None) or of the token (on the rail's thread)."""
        if token is None:
            return w3.eth.get_balance(address)
        lib = libs()
        data = dev_token.BALANCE_OF_SELECTOR + lib.encode(["address"], [address])
        return lib.decode(["uint256"], w3.eth.call({"from": self.payer or ZERO_ADDRESS, "to": token,
                                                  "data": "0x" + data.hex()}))[0]

    def balance_of(self, address: str, asset_code: str) -> int:
        """`address`'s balance in base units of the chain asset mapped to `asset_code`."""
        token = self.token_of(self.assets[asset_code])
        return self.query(lambda w3: self._held(w3, address, token))

    async def refresh_payer_balances(self, every_s: float = 30.0) -> None:
        """Read the payer's ETH and token balances (at most every `every_s`; only once the rail
        is connected: a process that never paid on chain does not start the dev chain for this)."""
        now = time.monotonic()
        if self.chain_key is None or now - self._balances_read_at < every_s:
            return
        self._balances_read_at = now
        coins = {"ETH": (None, 18)}
        for asset in self.assets.values():
            token = self.token_of(asset)
            if token is not None:
                coins[token] = (token, asset.decimals)
        self.payer_balances = await self.on_thread(lambda w3: {
            name: (self._held(w3, self.payer, token), decimals) for name, (token, decimals) in coins.items()})

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

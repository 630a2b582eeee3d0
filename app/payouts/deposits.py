"""Deposit detection (DESIGN §8): one bounded step of the scheduler's tick.

Each run reads the blocks after the scan's cursor (`deposit_scans`, per chain key) up to the
newest block with CHAIN_CONFIRMATIONS (its own included), at most DEPOSIT_SCAN_BLOCKS_MAX:
- ETH: every transaction of the block sent to a deposit address with a value, whose receipt
  says it succeeded (log index -1);
- ERC-20: the `Transfer` logs of the tokens CHAIN_ASSETS maps, to a deposit address.
A deposit counts for a wallet when its coin is the one CHAIN_ASSETS maps to the wallet's
asset; it is credited `value // base_per_minor` minor units (system account `deposits` →
the wallet, code `deposit`), the rest recorded as dust. The deposit rows, their transfers
and the cursor move in **one** writer command, and a deposit is UNIQUE on (chain key, tx
hash, log index): a crash, a restart or a second scan credits nothing twice.

The embedded dev chain makes blocks only when asked: there, the blocks a deposit still needs
for its confirmations are mined at once (as the payout drain does), so a scan reads up to
the newest block. Against a node, scanning starts at the node's newest block when the first
wallet is created (or at the first scan after that, if the node was out of reach then):
nothing is looked for in the chain's past. A wallet created while a scan read the chain makes
that scan leave the cursor where it was, so the range is read again with it.

Deposit addresses only receive: the service never signs with their keys (WALLET_SEED holds
them); moving what they hold (a sweep) is the operator's step, outside the service.
"""
from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from typing import Optional

from ..ledger.assets import Asset
from ..ledger.transfers import TransferSpec
from ..store import wallets as store
from ..store.accounts import ensure_account
from ..store.brands import asset_by_id
from ..store.transfers import create_transfer
from .chain import ChainRail, libs

log = logging.getLogger("app.payouts.deposits")
# keccak("Transfer(address,address,uint256)")
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
DEPOSITS_ACCOUNT = "deposits"


@dataclass
class DepositStats:
    runs: int = 0
    credited: int = 0
    blocks_scanned: int = 0
    next_block: int = 0


class DepositScanner:
    def __init__(self, writer, readers, clock, chain: ChainRail, *, blocks_max: int) -> None:
        self.writer, self.readers, self.clock, self.chain = writer, readers, clock, chain
        self.blocks_max = blocks_max
        self.stats = DepositStats()

    async def run(self) -> int:
        """One bounded scan; how many deposits it credited."""
        self.stats.runs += 1
        targets = await self.readers.read(store.targets_by_address)
        if not targets or not await self.chain.ready():
            return 0
        key = self.chain.chain_key
        cursor = await self.readers.read(lambda c: store.next_block(c, key))
        if cursor is None:  # the first scan on this chain: start the cursor (persisted), read from the next
            await self.begin()
            return 0
        coins = {address: self._coin(t.asset, t.scale) for address, t in targets.items()}
        found = await self.chain.on_thread(lambda w3: self._read(w3, cursor, coins))
        if found is None:
            return 0
        deposits, next_block = found
        now = self.clock.now_ms()
        credited = await self.writer.submit(lambda c: self._record(c, key, targets, coins, deposits, next_block, now))
        self.stats.credited += credited
        self.stats.next_block = next_block
        return credited

    async def begin(self) -> None:
        """Start the scan's cursor at the chain's newest block if it has none yet (called when a
        wallet is created, so that what is sent to it before the next tick is found). Best
        effort: a chain out of reach now starts the cursor at the first scan instead."""
        try:
            if not await self.chain.ready():
                return
            key = self.chain.chain_key
            if await self.readers.read(lambda c: store.next_block(c, key)) is not None:
                return
            head = 0 if self.chain.embedded else await self.chain.on_thread(lambda w3: w3.eth.block_number)
            now = self.clock.now_ms()
            await self.writer.submit(lambda c: store.start_cursor(c, key, head, now))
        except Exception as exc:  # noqa: BLE001 - the wallet is made all the same
            log.warning("deposit scan cursor not started: %s: %s", type(exc).__name__, str(exc)[:300])

    def _coin(self, asset_code: str, scale: int) -> Optional[tuple[Optional[str], int]]:
        """(token address or None for ETH, base units per minor unit) of a wallet's asset."""
        mapped = self.chain.assets.get(asset_code)
        if mapped is None or mapped.scale != scale:
            return None
        return self.chain.token_of(mapped), mapped.base_per_minor

    # -- on the chain rail's thread ------------------------------------------------------------
    def _read(self, w3, cursor: int, coins: dict) -> Optional[tuple[list[store.Deposit], int]]:
        head = w3.eth.block_number
        confirmations = self.chain.confirmations
        last = head if self.chain.embedded else head - confirmations + 1
        last = min(last, cursor + self.blocks_max - 1)
        if last < cursor:
            return None
        watched = {address for address, coin in coins.items() if coin is not None}
        tokens = sorted({coin[0] for coin in coins.values() if coin is not None and coin[0] is not None})
        native = any(coin is not None and coin[0] is None for coin in coins.values())
        key = self.chain.chain_key
        found = self._token_transfers(w3, key, cursor, last, tokens, watched) if tokens else []
        if native:
            found += self._eth_transfers(w3, key, cursor, last, watched)
        if found and self.chain.embedded:  # mine what the newest deposit's confirmations still need
            missing = confirmations - (head - max(d.block_number for d in found) + 1)
            if missing > 0:
                self.chain.tester.mine_blocks(missing)
        self.stats.blocks_scanned += last - cursor + 1
        return sorted(found, key=lambda d: (d.block_number, d.log_index)), last + 1

    @staticmethod
    def _token_transfers(w3, key: str, first: int, last: int, tokens: list[str], watched: set[str]):
        to_checksum = libs().Web3.to_checksum_address
        found = []
        logs = w3.eth.get_logs({"fromBlock": first, "toBlock": last, "address": tokens, "topics": [TRANSFER_TOPIC]})
        for entry in logs:
            topics = entry["topics"]
            if len(topics) != 3:  # not an ERC-20 Transfer (ERC-721 indexes its token id too)
                continue
            to = to_checksum("0x" + bytes(topics[2])[-20:].hex())
            if to not in watched:
                continue
            found.append(store.Deposit(key, "0x" + bytes(entry["transactionHash"]).hex(), entry["logIndex"],
                                       entry["blockNumber"], to_checksum("0x" + bytes(topics[1])[-20:].hex()), to,
                                       to_checksum(entry["address"]), int.from_bytes(bytes(entry["data"]), "big")))
        return found

    @staticmethod
    def _eth_transfers(w3, key: str, first: int, last: int, watched: set[str]):
        found = []
        for number in range(first, last + 1):
            for tx in w3.eth.get_block(number, full_transactions=True)["transactions"]:
                if tx["to"] in watched and tx["value"] > 0:
                    if w3.eth.get_transaction_receipt(tx["hash"])["status"] == 1:
                        found.append(store.Deposit(key, "0x" + bytes(tx["hash"]).hex(), -1, number, tx["from"],
                                                   tx["to"], None, tx["value"]))
        return found

    # -- in one writer command ------------------------------------------------------------------
    @staticmethod
    def _record(conn: sqlite3.Connection, key: str, targets: dict, coins: dict, deposits: list[store.Deposit],
                next_block: int, now_ms: int) -> int:
        credited = 0
        assets: dict[int, Asset] = {}
        # A wallet made while the chain was read was not looked for: the range is read again.
        complete = set(store.targets_by_address(conn)) <= set(targets)
        for d in deposits:
            target, coin = targets[d.to_address], coins[d.to_address]
            if coin is None or (coin[0] or "").lower() != (d.token or "").lower():
                log.warning("deposit %s:%s to %s is not the wallet's coin (%s): not credited, left on chain",
                            d.tx_hash, d.log_index, d.to_address, target.asset)
                continue
            if store.deposit_seen(conn, d):
                continue
            amount, dust = divmod(d.value, coin[1])
            transfer_id = None
            if amount:
                asset = assets.get(target.asset_id) or asset_by_id(conn, target.asset_id)
                assets[target.asset_id] = asset
                source = ensure_account(conn, asset, "system", DEPOSITS_ACCOUNT, now_ms)
                transfer_id = create_transfer(conn, TransferSpec(
                    target.brand_id, asset.id, source.id, target.account_id, amount, "deposit",
                    metadata={"tx_hash": d.tx_hash, "log_index": d.log_index, "from": d.from_address}), now_ms).id
                credited += 1
            store.insert_deposit(conn, target.wallet_row_id, d, amount, dust, transfer_id, now_ms)
        if complete:
            store.set_next_block(conn, key, next_block, now_ms)
        return credited

"""The funding wallets' HD seed (DESIGN §8): one BIP-39 mnemonic per installation, each wallet's
deposit address at m/44'/60'/0'/0/<index>.

The mnemonic is WALLET_SEED, or the one generated into the data folder (`wallet_seed`, 0600)
on first use. It holds the keys of every deposit address: whoever operates the service backs
it up; the service itself only derives addresses (it never signs with these keys).
Derivation costs ~10 ms (BIP-32 in pure Python): done once per wallet, never per request.
"""
from __future__ import annotations

import os
import threading
from typing import Optional

from ..config import Config
from ..ledger.errors import LedgerError
from ..secret_files import read_or_create
from .chain import libs

SEED_FILE = "wallet_seed"
PATH = "m/44'/60'/0'/0/{index}"


class SeedUnusable(LedgerError):
    """The HD seed cannot be read, or does not derive the addresses the database holds."""

    code = "wallet_seed_unusable"


class HdSeed:
    def __init__(self, config: Config) -> None:
        self._configured = config.wallet_seed
        self._path = os.path.join(config.data_dir, SEED_FILE)
        self._seed: Optional[bytes] = None
        self._lock = threading.Lock()

    def _bip39_seed(self) -> bytes:
        with self._lock:
            if self._seed is None:
                libs()  # eth-account's imports, with the recursion limit kept
                from eth_account.hdaccount import Language, seed_from_mnemonic
                from eth_account.hdaccount.mnemonic import Mnemonic
                where = "WALLET_SEED" if self._configured else "data/" + SEED_FILE
                try:
                    mnemonic = self._configured or read_or_create(self._path, _new_mnemonic)
                except (OSError, ValueError) as exc:
                    raise SeedUnusable(f"the wallet seed cannot be read from {where}: {exc}") from None
                if not Mnemonic(Language.ENGLISH).is_mnemonic_valid(mnemonic):
                    raise SeedUnusable(f"{where} is not a valid BIP-39 mnemonic: restore the seed the wallets"
                                       " were made with")
                self._seed = seed_from_mnemonic(mnemonic, "")
            return self._seed

    def address(self, index: int) -> str:
        """The EIP-55 deposit address at `index`."""
        from eth_account.hdaccount import key_from_seed
        return libs().Account.from_key(key_from_seed(self._bip39_seed(), PATH.format(index=index))).address


def _new_mnemonic() -> str:
    from eth_account.hdaccount import Language, generate_mnemonic
    return generate_mnemonic(12, Language.ENGLISH)

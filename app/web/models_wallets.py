"""Request and response models of the funding wallet routes (DESIGN §8, seed 000)."""
from __future__ import annotations

from typing import Annotated, Optional

from pydantic import Field, StringConstraints

from .models import Amount, AssetCode, In, Out, Timestamp

Address = Annotated[str, Field(description="EIP-55 checksummed address", examples=["0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF"])]


class WalletIn(In):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    asset: Annotated[AssetCode, Field(description="an asset of the brand that CHAIN_ASSETS maps to ETH or a token")]


class WithdrawIn(In):
    address: Address
    amount: Amount


class DepositOut(Out):
    tx_hash: str
    log_index: Annotated[int, Field(description="the Transfer log's index; -1 for a plain ETH transfer")]
    block_number: int
    from_address: str
    token: Annotated[Optional[str], Field(description="the ERC-20's address; null for ETH")]
    value: Annotated[str, Field(description="what arrived, in base units (wei, token units)")]
    amount: Annotated[str, Field(description="what was credited, in units of the wallet's asset")]
    dust: Annotated[str, Field(description="base units below one minor unit: recorded, credited to nobody")]
    transfer_id: Annotated[Optional[str], Field(description="the deposit transfer deposits → wallet (null: dust only)")]
    created_at: Timestamp


class WalletOut(Out):
    id: Annotated[str, Field(description="a UUID")]
    name: str
    asset: str
    deposit_address: Annotated[str, Field(description="send ETH or the asset's token here; credited once after"
                                                      " CHAIN_CONFIRMATIONS")]
    balance: str
    available: Annotated[str, Field(description="balance less withdrawals in flight")]
    created_at: Timestamp


class WalletDetailOut(WalletOut):
    deposits: Annotated[list[DepositOut], Field(description="the newest 50 deposits, newest first")]

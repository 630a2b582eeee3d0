"""The Circle and Stripe fakes (real HTTP servers on 127.0.0.1) as fixtures, with the values
the payout tests give them."""
from __future__ import annotations

import pytest

from tests.payouts.fakes.circle_fake import CircleFake
from tests.payouts.fakes.stripe_fake import StripeFake

CIRCLE_ADDRESS = "0x8381470ED67C3802402dbbFa0058E8871F017A6F"
CIRCLE_WALLET = "1000216185"
CIRCLE_KEY = "TEST_API_KEY:abc:def"
STRIPE_ACCOUNT = "acct_1MTfjCQ9PRzxEwkZ"
STRIPE_KEY = "sk_test_fake_123"


@pytest.fixture
def circle():
    fake = CircleFake(api_key=CIRCLE_KEY, wallet_id=CIRCLE_WALLET)
    yield fake
    fake.stop()


@pytest.fixture
def stripe_fake():
    fake = StripeFake(api_key=STRIPE_KEY, accounts=(STRIPE_ACCOUNT,))
    yield fake
    fake.stop()

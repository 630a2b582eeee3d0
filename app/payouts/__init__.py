"""Payouts (DESIGN §8): the outbox drain, the rails (chain, circle, stripe), funding wallets.

- `rails`: the one interface every rail implements, and the values it exchanges with the
  drain (nothing here does I/O);
- the drain (`outbox`) moves each payout `pending → submitted → confirmed | failed` outside
  any writer transaction, recording every attempt;
- `chain`, `circle`, `stripe_rail`: the rails.
"""

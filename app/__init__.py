"""Rewards ledger: one Tornado process over one SQLite file (see README.md)."""

"""The pure money domain: amounts, accounts, transfers, holds, lots and their rules.

Nothing in this package does I/O. Functions take and return immutable values; the store
applies what they return inside one transaction.
"""

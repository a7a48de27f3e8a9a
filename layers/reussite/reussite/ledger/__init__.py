"""The credits ledger: lots with expiry, append-only entries, spends that remember their lots.

It never mints or loses a credit: every change to a wallet happens in one short transaction
under the wallet's row lock, and Σ lot remaining = wallet balance = Σ entries always holds.
"""

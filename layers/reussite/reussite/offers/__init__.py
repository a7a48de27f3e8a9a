"""Offers: plans, subscriptions, the credits they bring each month, and the offer (free/pro)
a student has — always derived on the server."""

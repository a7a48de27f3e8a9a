"""Signed outgoing events to a school's own systems (Standard Webhooks): `emit` in the change's
transaction, `dispatch` after it commits, the worker delivers and retries."""

from reussite.webhooks.events import TYPES, dispatch, dispatch_for, emit

__all__ = ["TYPES", "dispatch", "dispatch_for", "emit"]

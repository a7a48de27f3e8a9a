"""Transactional emails. A change owes its email in its own transaction (`owe`, the outbox);
the email is rendered from its Jinja2 template, in each recipient's language, when it is sent.
`family`, `parents` and `person` find who an email goes to, with their language."""

from reussite.emails.people import family, parents, person
from reussite.outbox import Recipient
from reussite.outbox import write as owe

__all__ = ["Recipient", "family", "owe", "parents", "person"]

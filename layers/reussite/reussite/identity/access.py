"""Who may do what: the one way every domain function checks the caller's role. Handlers only
authenticate; the domain authorizes, so the seed, workers and tests cannot bypass a check."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reussite.errors import Forbidden
from reussite.identity.roles import STAFF_ROLES, Role

if TYPE_CHECKING:
    from reussite.identity.models import User


def require_role(user: User, *roles: Role, refusal: str | None = None) -> None:
    """403 FORBIDDEN unless the caller has one of `roles`."""
    if user.role not in roles:
        raise Forbidden(refusal or f"This needs one of the roles: {', '.join(sorted(roles))}")


def require_staff(user: User, refusal: str = "This is staff work (ASSISTANTE, ADMIN)") -> None:
    """403 FORBIDDEN unless the caller is staff (ASSISTANTE, ADMIN)."""
    require_role(user, *STAFF_ROLES, refusal=refusal)

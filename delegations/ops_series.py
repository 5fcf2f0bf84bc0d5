"""This app's part of the operations page (``ciie_portal.ops``): a secretary sees their
delegation's part (with its sub-delegations), as in the rest of the admin
(``delegations.selectors.scope_to_user``)."""

from ciie_portal.ops.page import register_staff_scope

from .models import Delegation
from .selectors import is_organiser


def secretary_delegation(user) -> Delegation | None:
    """The delegation of a secretary who is not also an organiser; None for anyone else."""
    if not user.is_authenticated or is_organiser(user):
        return None
    return Delegation.objects.filter(secretaries__user_id=user.pk).first()


def register() -> None:
    register_staff_scope(secretary_delegation)

from .models import Delegation


def delegation_directory() -> list[Delegation]:
    """Active trade delegations with their sub-delegations (交易团联系方式), in two queries."""
    children = {}
    groups = []
    for delegation in Delegation.objects.filter(is_active=True).order_by("position", "pk"):
        if delegation.parent_id is None:
            groups.append(delegation)
        else:
            children.setdefault(delegation.parent_id, []).append(delegation)
    for group in groups:
        group.active_children = children.get(group.pk, [])
    return groups


def delegation_subtree_ids(delegation: Delegation) -> list[int]:
    return list(Delegation.objects.subtree_of(delegation).values_list("pk", flat=True))


def scope_to_user(queryset, user, *, delegation_field: str = "delegation"):
    """Rows of ``queryset`` that ``user`` may see.

    Organisers (and superusers) see everything; a secretary sees their delegation and its
    sub-delegations; every other user sees nothing.
    """
    if user.is_superuser or user.has_perm("registration.view_all_units"):
        return queryset
    secretary = getattr(user, "secretary", None)
    if secretary is None:
        return queryset.none()
    return queryset.filter(
        **{f"{delegation_field}__in": Delegation.objects.subtree_of(secretary.delegation)}
    )

from .models import Delegation


def delegation_directory(query: str = "") -> list[Delegation]:
    """Active trade delegations with their sub-delegations and contacts (交易团联系方式).

    Two queries however many delegations there are. Each group gets ``directory_rows``:
    itself followed by its sub-delegations. With a ``query``, only the delegations it finds (in
    Chinese, pinyin, pinyin initials or English: ``Delegation.matches``) are rows; a group is
    listed when it or one of its sub-delegations is found.
    """
    children = {}
    groups = []
    delegations = (
        Delegation.objects.filter(is_active=True)
        .prefetch_related("contacts")
        .order_by("position", "pk")
    )
    for delegation in delegations:
        if delegation.parent_id is None:
            groups.append(delegation)
        else:
            children.setdefault(delegation.parent_id, []).append(delegation)
    listed = []
    for group in groups:
        rows = [group, *children.get(group.pk, [])]
        if query.strip():
            rows = [row for row in rows if row.matches(query)]
        if rows:
            group.directory_rows = rows
            listed.append(group)
    return listed


def delegation_subtree_ids(delegation: Delegation) -> list[int]:
    return list(Delegation.objects.subtree_of(delegation).values_list("pk", flat=True))


def is_organiser(user) -> bool:
    """Organisers (and superusers) work on every delegation."""
    return user.is_superuser or user.has_perm("registration.view_all_units")


def in_subtree(queryset, delegation: Delegation, *, delegation_field: str = "delegation"):
    """Rows of ``queryset`` that belong to ``delegation`` or one of its sub-delegations."""
    return queryset.filter(**{f"{delegation_field}__in": Delegation.objects.subtree_of(delegation)})


def scope_to_user(queryset, user, *, delegation_field: str = "delegation"):
    """Rows of ``queryset`` that ``user`` may see: THE staff scoping of every app.

    Organisers (and superusers) see everything; a secretary sees their delegation and its
    sub-delegations; every other user sees nothing.
    """
    if is_organiser(user):
        return queryset
    secretary = getattr(user, "secretary", None)
    if secretary is None:
        return queryset.none()
    return in_subtree(queryset, secretary.delegation, delegation_field=delegation_field)

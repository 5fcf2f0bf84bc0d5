"""Which sign-ups a staff member sees: organisers all of them, a secretary their delegation's
(the delegations app says which, registering its scope from its ``AppConfig.ready()``: this
app may not ask it), anybody else none."""

VIEW_ALL = "registration.view_all_units"

#: ``scope(queryset, user, *, delegation_field)``: the rows of a staff member who does not see
#: every unit (a secretary: their delegation's subtree). None: such staff see nothing.
_staff_scope = None


def register_staff_scope(scope) -> None:
    global _staff_scope
    _staff_scope = scope


def scoped_signups(queryset, user):
    """The sign-ups of ``queryset`` that ``user`` may see."""
    if user.is_superuser or user.has_perm(VIEW_ALL):
        return queryset
    if _staff_scope is None:
        return queryset.none()
    return _staff_scope(queryset, user, delegation_field="unit__delegation")

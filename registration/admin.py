from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from ciie_portal.two_factor.site import SecondFactorResetMixin

from . import (
    admin_consent,  # noqa: F401 (registers the consent records' admin)
    admin_watchlist,  # noqa: F401 (registers the watchlist's admin)
)
from .exhibitors import admin as exhibitors_admin  # noqa: F401 (供采对接)
from .forms import StaffLoginForm
from .models import User
from .side_events import admin as side_events_admin  # noqa: F401 (side-event sign-ups)

# Staff sign in under the same per-address ceiling as units (registration/limits.py).
admin.site.login_form = StaffLoginForm

# Units and visitors are administered by the delegations app, whose admin scopes them to the
# secretary's delegation.


@admin.register(User)
class UserAdmin(SecondFactorResetMixin, BaseUserAdmin):
    # SecondFactorResetMixin: organisers reset a staff member's two-factor sign-in (lost phone).
    fieldsets = [
        *BaseUserAdmin.fieldsets[:1],
        (_("Personal info"), {"fields": ["first_name", "last_name", "email", "mobile"]}),
        *BaseUserAdmin.fieldsets[2:],
    ]
    list_display = ["username", "first_name", "last_name", "mobile", "is_staff", "is_active"]
    search_fields = ["username", "first_name", "last_name", "email", "mobile"]

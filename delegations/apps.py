from importlib import import_module

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DelegationsConfig(AppConfig):
    name = "delegations"
    verbose_name = _("Trade delegations")

    def import_models(self):
        super().import_models()
        # The buyer satisfaction survey's tables live in their own package.
        import_module(f"{self.name}.survey.models")

    def ready(self):
        from .survey.apps import ready as survey_ready  # the buyer satisfaction survey

        survey_ready()
        from ciie_portal import read_cache

        from .models import Delegation, DelegationContact

        # The landing page's delegation directory is kept in the shared cache.
        read_cache.forget_on_change("delegations", Delegation, DelegationContact)
        from .cloning import register as register_cloners  # cloning an edition: quotas

        register_cloners()
        from .exports import register as register_exports  # scheduled exports (secretaries)

        register_exports()
        from registration.side_events.staff import register_staff_scope

        from .selectors import scope_to_user

        # Secretaries see their delegation's side-event sign-ups (the registration app's admin).
        register_staff_scope(scope_to_user)
        from .ops_series import register as register_ops_scope  # a secretary's operations page

        register_ops_scope()

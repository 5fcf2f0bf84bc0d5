from importlib import import_module

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction


class Command(BaseCommand):
    help = (
        "Load demo data (safe to run again): editions, delegations' secretaries, a unit with "
        "visitors, finance and organiser accounts. Prints the accounts and passwords."
    )

    def handle(self, *args, **options):
        # Each app may have a ``demo`` module with ``load(context)``. They run in the order of
        # INSTALLED_APPS, which follows the dependency chain, so later apps build on earlier
        # ones without this package importing them.
        context = {"accounts": []}
        with transaction.atomic():
            for config in apps.get_app_configs():
                try:
                    module = import_module(f"{config.name}.demo")
                except ModuleNotFoundError as exc:
                    if exc.name != f"{config.name}.demo":
                        raise
                    continue
                module.load(context)
        self.stdout.write(self.style.SUCCESS("Demo data loaded. Accounts:"))
        width = max(len(role) for role, _, _, _ in context["accounts"])
        for role, username, password, where in context["accounts"]:
            self.stdout.write(f"  {role:<{width}}  {username} / {password}  ({where})")

"""The privacy policy page (隐私政策): public, in the reader's language."""

from django.shortcuts import get_object_or_404, render
from django.utils.translation import get_language
from django.views.decorators.http import require_GET

from .context_processors import current_edition_for
from .models import PrivacyPolicy
from .privacy import policy_in_force


def policy_text(policy: PrivacyPolicy) -> str:
    """The policy in the active language: Chinese for Chinese, English otherwise."""
    return policy.text_zh if (get_language() or "").startswith("zh") else policy.text_en


@require_GET
def privacy_policy(request, edition=None, version=None):
    """The current edition's version in force, or a given published version."""
    if edition is None:
        policy = policy_in_force(current_edition_for(request))
        if policy is None:
            return render(request, "ciie_portal/privacy_policy.html", {"policy": None})
    else:
        policy = get_object_or_404(
            PrivacyPolicy.objects.select_related("edition"),
            edition__number=edition,
            version=version,
            published_at__isnull=False,
        )
    return render(
        request,
        "ciie_portal/privacy_policy.html",
        {"policy": policy, "text": policy_text(policy)},
    )

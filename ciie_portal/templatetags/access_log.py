"""``{% access_log_link original %}``: on a visitor's, unit's or staff member's admin page, a link
to the personal-data access log filtered to them, for those who may read it."""

from django import template
from django.utils.html import format_html
from django.utils.translation import gettext as _

from ciie_portal.access_log import access_log_url

register = template.Library()


@register.simple_tag(takes_context=True)
def access_log_link(context, obj, by_actor=False):
    request = context.get("request")
    if obj is None or obj.pk is None or request is None:
        return ""
    if not request.user.has_perm("ciie_portal.view_accesslogentry"):
        return ""
    if by_actor:
        url, text = access_log_url(actor=obj), _("Personal data this user saw")
    else:
        url, text = access_log_url(obj=obj), _("Who saw this personal data")
    return format_html('<li><a href="{}" class="access-log-link">{}</a></li>', url, text)

"""`{% campaign_path "form" campaign %}`: the path of one of a campaign's public pages, as
`{% url "participants:form" campaign.slug %}` writes it, remembered per process
(core.links.path_of) instead of reversed again on every page."""

from django import template

from core.links import path_of

register = template.Library()


@register.simple_tag
def campaign_path(name: str, campaign) -> str:
    return path_of(f"participants:{name}", campaign.slug)

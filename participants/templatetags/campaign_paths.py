"""`{% campaign_path "form" campaign %}`: the path of one of a campaign's public pages, as
`{% url "participants:form" campaign.slug %}` writes it, through pages.campaign_url (remembered
per process by core.links.path_of) instead of reversed again on every page."""

from django import template

from participants.pages import campaign_url

register = template.Library()


@register.simple_tag
def campaign_path(name: str, campaign) -> str:
    return campaign_url(name, campaign)

"""The notice next to "Log in with <IdP>": what a login shares with the campaign, and the
customer's privacy policy.

What a login shares is what the integration's mapping reads from the IdP profile (its targets,
whatever the campaign's form asks: the callback keeps every mapped value), named as the
variables catalogue names them, in the participant's language, plus the account identifier that
every login gives (the IdP's `sub`).
"""

from dataclasses import dataclass

from django.utils import translation
from django.utils.translation import gettext

from campaigns.models import Campaign
from integrations.mapping.store import mapping_rules_for
from integrations.models import OAuthIntegration
from integrations.variables import STANDARD_VARIABLES


@dataclass(frozen=True)
class LoginNotice:
    idp_name: str
    # What a login shares, each named for people, in the participant's language.
    data: list[str]
    # The campaign's privacy policy, else its account's; "" when neither has one.
    privacy_policy_url: str


def _data_label(variable: str, *, campaign: Campaign, language: str) -> str:
    if variable in STANDARD_VARIABLES:
        return STANDARD_VARIABLES[variable].notice_label(language)
    # A custom variable: the campaign's own label when its form asks for it (no query: the
    # public campaign comes with its fields), else the technical name made readable.
    for field in campaign.fields:
        if field.variable == variable:
            return field.label(language)
    return variable.replace("_", " ").capitalize()


def login_notice(
    *, campaign: Campaign, integration: OAuthIntegration, language: str
) -> LoginNotice:
    """The notice for `campaign`'s login with `integration`, in `language`."""
    data: list[str] = []
    for rule in mapping_rules_for(integration=integration):
        label = _data_label(rule.target, campaign=campaign, language=language)
        if label not in data:
            data.append(label)
    with translation.override(language):
        data.append(gettext("Account identifier"))
    return LoginNotice(
        idp_name=integration.display_name,
        data=data,
        privacy_policy_url=campaign.privacy_policy_link,
    )

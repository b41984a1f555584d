"""The participants' pages that lower apps link to (core/links.py), registered at start-up.

Campaigns and integrations show these links (a campaign's public page and statistics, an
integration's test login and SSO activity) without naming participants' URLs.
"""

from django.urls import reverse

from core.links import link_provide


def _campaign_page(*, slug: str) -> str:
    return reverse("participants:landing", args=[slug])


def _campaign_embedded_page(*, slug: str) -> str:
    return reverse("participants:embed_landing", args=[slug])


def _campaign_statistics(*, campaign_id: int) -> str:
    return reverse("admin:participants_campaign_statistics", args=[campaign_id])


def _campaign_participations(*, campaign_id: int) -> str:
    changelist = reverse("admin:participants_participation_changelist")
    return f"{changelist}?campaign__id__exact={campaign_id}"


def _campaign_participations_csv(*, campaign_id: int) -> str:
    return reverse("admin:participants_participation_export", args=[campaign_id])


def _campaign_participations_xlsx(*, campaign_id: int) -> str:
    return reverse("admin:participants_participation_export_xlsx", args=[campaign_id])


def _integration_test_login(*, integration_id: int) -> str:
    return reverse("participants:test_login_start", args=[integration_id])


def _integration_login_attempts(*, integration_id: int) -> str:
    changelist = reverse("admin:participants_loginattempt_changelist")
    return f"{changelist}?integration__id__exact={integration_id}"


LINKS = {
    "campaign_page": _campaign_page,
    "campaign_embedded_page": _campaign_embedded_page,
    "campaign_statistics": _campaign_statistics,
    "campaign_participations": _campaign_participations,
    "campaign_participations_csv": _campaign_participations_csv,
    "campaign_participations_xlsx": _campaign_participations_xlsx,
    "integration_test_login": _integration_test_login,
    "integration_login_attempts": _integration_login_attempts,
}


def links_register() -> None:
    for name, build in LINKS.items():
        link_provide(name, build)

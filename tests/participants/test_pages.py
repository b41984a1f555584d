"""Campaign pages as the public sees them: states, languages, headers, query bounds."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import CampaignStatus
from participants.models import Participation
from tests.factories import CampaignFactory, CampaignFieldFactory, ParticipantFactory
from tests.participants.conftest import answers, form_token, form_url, landing_url, log_in

pytestmark = pytest.mark.django_db


def test_landing_page_leads_to_the_form(client, campaign):
    campaign.description = "Win a bike."
    campaign.save()
    page = client.get(landing_url(campaign))
    assert page.status_code == 200
    assert "<h1>Summer contest</h1>" in page.text
    assert "Win a bike." in page.text
    assert f'href="{form_url(campaign)}"' in page.text


def test_unknown_campaign_is_a_clear_404(client):
    response = client.get("/c/no-such-campaign/")
    assert response.status_code == 404
    assert "Campaign not found" in response.text


@pytest.mark.parametrize("name", ["landing", "form"])
def test_draft_campaign_does_not_exist_for_the_public(client, account, name):
    draft = CampaignFactory(account=account, status=CampaignStatus.DRAFT, title="Secret")
    response = client.get(reverse(f"participants:{name}", args=[draft.slug]))
    assert response.status_code == 404
    assert "Secret" not in response.text


def test_campaign_not_started_says_when_it_opens(client, campaign):
    campaign.starts_at = timezone.now() + datetime.timedelta(days=2)
    campaign.save()
    for url in (landing_url(campaign), form_url(campaign)):
        response = client.get(url)
        assert response.status_code == 200
        assert "This campaign has not started yet" in response.text
        assert 'name="f-firstname"' not in response.text


def test_ended_campaign_says_so(client, campaign):
    campaign.status = CampaignStatus.ENDED
    campaign.save()
    response = client.get(form_url(campaign))
    assert response.status_code == 410
    assert "This campaign has ended" in response.text


# ---------------------------------------------------------------------------- languages
def test_french_from_the_browser(client, campaign):
    campaign.title_fr = "Concours d’été"
    campaign.save()
    page = client.get(form_url(campaign), HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9")
    assert '<html lang="fr">' in page.text
    assert page["Content-Language"] == "fr"
    assert "<h1>Concours d’été</h1>" in page.text
    assert "Prénom" in page.text and "Envoyer" in page.text
    assert "(obligatoire)" in page.text


def test_french_from_the_url_wins_over_the_browser(client, campaign):
    page = client.get(form_url(campaign, lang="fr"), HTTP_ACCEPT_LANGUAGE="en")
    assert "Prénom" in page.text
    # The choice sticks for the next pages.
    assert client.get(form_url(campaign), HTTP_ACCEPT_LANGUAGE="en")["Content-Language"] == "fr"


def test_participant_submits_in_french_and_errors_are_in_french(client, campaign):
    page = client.get(form_url(campaign, lang="fr"))
    bad = client.post(form_url(campaign, lang="fr"), answers(form_token(page), email="x"))
    assert "Il y a un problème" in bad.text
    # French punctuation in the summary: a no-break space before the colon.
    assert "Adresse e-mail\u00a0: Saisissez une adresse e-mail valide." in bad.text
    response = client.post(form_url(campaign, lang="fr"), answers(form_token(page)))
    assert Participation.objects.get().language == "fr"
    thanks = client.get(response["Location"])
    assert "Merci de votre participation" in thanks.text


def test_french_pages_for_closed_campaigns(client, campaign):
    campaign.status = CampaignStatus.ENDED
    campaign.save()
    assert "Cette campagne est terminée" in client.get(form_url(campaign, lang="fr")).text
    unknown = client.get("/c/nothing-here/?lang=fr")
    assert "Campagne introuvable" in unknown.text


@pytest.mark.parametrize("code", ["xx", "de", "fr-CA'><script>", "", "../../etc"])
def test_unknown_language_code_falls_back_to_english(client, campaign, code):
    page = client.get(form_url(campaign), {"lang": code})
    assert page.status_code == 200
    assert '<html lang="en">' in page.text
    assert "First name" in page.text
    assert "<script>" not in page.text


def test_english_only_campaign_stays_english_for_a_french_browser(client, account):
    campaign = CampaignFactory(account=account, languages=["en"])
    CampaignFieldFactory(campaign=campaign)
    page = client.get(form_url(campaign, lang="fr"), HTTP_ACCEPT_LANGUAGE="fr")
    assert '<html lang="en">' in page.text
    assert "First name" in page.text
    assert 'hreflang="fr"' not in page.text


def test_language_switch_links_to_the_other_language(client, campaign):
    page = client.get(landing_url(campaign))
    assert f'href="{landing_url(campaign)}?lang=fr"' in page.text


# ---------------------------------------------------------------------------- security headers
def test_form_page_sends_security_headers_and_loads_nothing_third_party(client, campaign):
    page = client.get(form_url(campaign))
    csp = page["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp
    assert "'nonce'" not in csp  # a literal the browser rejects; django-csp's NONCE is meant
    assert "default-src 'self'" in csp
    assert page["X-Frame-Options"] == "DENY"
    assert page["X-Content-Type-Options"] == "nosniff"
    assert page["Referrer-Policy"] == "same-origin"
    assert "https://" not in page.text and "//cdn" not in page.text


def test_form_carries_a_csrf_token(client, campaign):
    page = client.get(form_url(campaign))
    assert 'name="csrfmiddlewaretoken"' in page.text


def test_browser_cookie_is_first_party_and_http_only(client, campaign):
    page = client.get(form_url(campaign))
    cookie = page.cookies["campaign_browser"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"


# ---------------------------------------------------------------------------- query bounds
def _campaign_with_fields(account, count):
    campaign = CampaignFactory(account=account)
    for index in range(count):
        CampaignFieldFactory(campaign=campaign, variable=f"question_{index}", label_en=f"Q{index}")
    return campaign


MAX_QUERIES_RENDER = 6
MAX_QUERIES_SUBMIT = 12


@pytest.mark.parametrize("count", [3, 30])
def test_rendering_the_form_uses_a_constant_number_of_queries(
    client, account, django_assert_max_num_queries, count
):
    campaign = _campaign_with_fields(account, count)
    client.get(form_url(campaign))  # the session and browser cookie exist from now on
    with django_assert_max_num_queries(MAX_QUERIES_RENDER):
        page = client.get(form_url(campaign))
    assert page.text.count('class="field') == count


@pytest.mark.parametrize("count", [3, 30])
def test_saving_a_participation_uses_a_constant_number_of_queries(
    client, account, django_assert_max_num_queries, count
):
    campaign = _campaign_with_fields(account, count)
    token = form_token(client.get(form_url(campaign)))
    data = {"form_token": token, **{f"f-question_{i}": f"answer {i}" for i in range(count)}}
    with django_assert_max_num_queries(MAX_QUERIES_SUBMIT):
        response = client.post(form_url(campaign), data)
    assert response.status_code == 303
    assert len(Participation.objects.get().values) == count


@pytest.mark.parametrize("count", [3, 30])
def test_a_prefilled_form_renders_and_saves_in_constant_queries(
    client, account, django_assert_max_num_queries, count
):
    campaign = _campaign_with_fields(account, count)
    participant = ParticipantFactory(account=account)
    log_in(
        client, campaign, participant, values={f"question_{i}": f"idp {i}" for i in range(count)}
    )
    with django_assert_max_num_queries(MAX_QUERIES_RENDER):
        page = client.get(form_url(campaign))
    data = {"form_token": form_token(page), **{f"f-question_{i}": f"new {i}" for i in range(count)}}
    with django_assert_max_num_queries(MAX_QUERIES_SUBMIT):
        client.post(form_url(campaign), data)
    assert len(Participation.objects.get().changed) == count


def test_the_rate_limit_page_speaks_french_in_the_public_layout(rf):
    from django.utils import translation

    from participants.ratelimit import RateLimitResult, rate_limited_response

    request = rf.get("/c/summer/login/")
    with translation.override("fr"):
        result = RateLimitResult(allowed=False, count=31, limit=30, retry_after_seconds=30)
        response = rate_limited_response(request, result)
    text = response.content.decode()
    assert response.status_code == 429
    assert "Trop de tentatives de connexion" in text
    assert "Veuillez réessayer dans 30 secondes." in text
    assert "css/public.css" in text


def test_error_pages_offer_the_other_language(client, rf, db):
    from participants.ratelimit import RateLimitResult, rate_limited_response

    request = rf.get("/c/summer/login/", {"next": "/c/summer/form/"})
    result = RateLimitResult(allowed=False, count=31, limit=30, retry_after_seconds=30)
    text = rate_limited_response(request, result).content.decode()
    assert 'href="/c/summer/login/?next=%2Fc%2Fsummer%2Fform%2F&amp;lang=fr"' in text
    # A campaign that does not exist: its page too, in either language.
    unknown = client.get("/c/no-such-campaign/", {"lang": "fr"})
    assert unknown.status_code == 404
    assert "Campagne introuvable" in unknown.text and 'hreflang="en"' in unknown.text

"""A campaign inside a customer's frame (`/e/<slug>/`): who may frame it, a visit carried by a
token instead of cookies, and forms protected by a one-time form token."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Embedding, ParticipationLimit
from participants.models import EmbedSession, Participation
from tests.factories import make_form_campaign
from tests.participants.conftest import answers
from tests.participants.embed_flow import (
    HOST_SITE,
    FrameClient,
    embed_url,
    form_token,
    frame_ancestors,
    visit_token,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign(account):
    account.embed_allowed_origins = [HOST_SITE]
    account.save()
    return make_form_campaign(account=account, title="Summer contest", slug="summer")


@pytest.fixture
def frame():
    return FrameClient()


def open_form(frame, campaign, **query):
    page = frame.get(embed_url(campaign, "embed_form", **query))
    assert page.status_code == 200
    return page


# ---------------------------------------------------------------------------- who may frame it
def test_the_embedded_pages_may_be_framed_by_the_accounts_sites_and_no_x_frame_options(
    frame, campaign
):
    for page in (frame.get(embed_url(campaign)), open_form(frame, campaign)):
        assert frame_ancestors(page) == f"frame-ancestors {HOST_SITE}"
        assert "X-Frame-Options" not in page
        assert page["Referrer-Policy"] == "no-referrer"
        assert "no-store" in page["Cache-Control"]


def test_a_campaign_with_its_own_sites_allows_exactly_those(frame, campaign):
    campaign.embedding = Embedding.OWN
    campaign.embed_allowed_origins = ["https://a.example.org", "https://b.example.net:8443"]
    campaign.save()
    page = frame.get(embed_url(campaign))
    assert (
        frame_ancestors(page) == "frame-ancestors https://a.example.org https://b.example.net:8443"
    )
    # Several sites: the height message cannot name one, so it goes to "*" (README).
    assert 'data-embed-parent-origin="*"' in page.text


def test_with_one_allowed_site_the_height_message_goes_to_that_site_only(frame, campaign):
    page = frame.get(embed_url(campaign))
    assert f'data-embed-parent-origin="{HOST_SITE}"' in page.text


@pytest.mark.parametrize("setup", ["off", "account_without_sites"])
def test_a_campaign_that_may_not_be_embedded_cannot_be_framed_anywhere(
    frame, campaign, account, setup
):
    if setup == "off":
        campaign.embedding = Embedding.OFF
        campaign.save()
    else:
        account.embed_allowed_origins = []
        account.save()
    page = frame.get(embed_url(campaign))
    assert frame_ancestors(page) == "frame-ancestors 'none'"
    assert page["X-Frame-Options"] == "DENY"


def test_every_other_page_still_refuses_every_frame(client, campaign, admin_user_a):
    client.force_login(admin_user_a)
    pages = [
        client.get(reverse("participants:landing", args=[campaign.slug])),
        client.get(reverse("participants:form", args=[campaign.slug])),
        client.get(reverse("admin:index")),
        client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])),
        # The login pop-up is a top-level window: never framed either.
        client.get(embed_url(campaign, "embed_login_start", t="x" * 43)),
        client.get(embed_url(campaign, "embed_login_done")),
    ]
    for page in pages:
        assert frame_ancestors(page) == "frame-ancestors 'none'", page.request["PATH_INFO"]
        assert page["X-Frame-Options"] == "DENY"


def test_a_site_stored_in_development_stops_framing_once_the_flag_is_off(
    frame, campaign, account, settings
):
    account.embed_allowed_origins = ["http://localhost:9200", HOST_SITE]
    account.save()
    assert "http://localhost:9200" in frame_ancestors(frame.get(embed_url(campaign)))
    settings.ALLOW_HTTP_LOOPBACK_ENDPOINTS = False
    assert frame_ancestors(frame.get(embed_url(campaign))) == f"frame-ancestors {HOST_SITE}"


# ---------------------------------------------------------------------------- no cookies
def test_the_embedded_pages_set_no_cookie_at_all(frame, campaign):
    page = open_form(frame, campaign, lang="fr")
    frame.post(
        embed_url(campaign, "embed_form", lang="fr"),
        {"t": visit_token(page), **answers(form_token(page), email="not an e-mail")},
    )
    frame.get(embed_url(campaign, lang="fr"))
    assert frame.cookies_set == []
    assert 'name="csrfmiddlewaretoken"' not in page.text


def test_the_visit_token_is_in_every_link_and_form_and_stored_hashed(frame, campaign):
    page = frame.get(embed_url(campaign))
    token = visit_token(page)
    assert len(token) == 43
    assert f"/e/{campaign.slug}/form/?t={token}&amp;lang=en" in page.text
    assert f"/e/{campaign.slug}/?t={token}&amp;lang=fr" in page.text  # the language switch
    assert not EmbedSession.objects.filter(token_hash=token).exists()
    assert EmbedSession.objects.get().campaign == campaign


def test_a_participant_takes_part_in_the_frame_without_any_cookie(frame, campaign):
    page = open_form(frame, campaign)
    token = visit_token(page)
    response = frame.post(
        embed_url(campaign, "embed_form", lang="en"),
        {"t": token, **answers(form_token(page))},
    )
    assert response.status_code == 303
    assert response["Location"] == embed_url(campaign, "embed_thanks", t=token, lang="en")
    participation = Participation.objects.get()
    assert participation.values["email"] == "ada@example.com"
    assert participation.participant is None

    thanks = frame.get(response["Location"])
    assert "Thank you for taking part!" in thanks.text
    assert frame_ancestors(thanks) == f"frame-ancestors {HOST_SITE}"


def test_the_thank_you_page_needs_a_participation_in_this_visit(frame, campaign):
    token = visit_token(frame.get(embed_url(campaign)))
    response = frame.get(embed_url(campaign, "embed_thanks", t=token))
    assert response.status_code == 302
    assert response["Location"].startswith(embed_url(campaign))


def test_a_form_in_french_stays_french_in_the_frame(frame, campaign):
    page = open_form(frame, campaign, lang="fr")
    assert '<html lang="fr">' in page.text and "Prénom" in page.text
    assert f'action="/e/{campaign.slug}/form/?lang=fr"' in page.text


# ---------------------------------------------------------------------------- the visit token
def test_a_visit_token_is_useless_for_another_campaign(frame, campaign, account):
    other = make_form_campaign(account=account, slug="winter")
    token = visit_token(open_form(frame, campaign))
    page = open_form(frame, other, t=token)
    assert visit_token(page) != token
    assert "This page had been open too long" in page.text
    assert EmbedSession.objects.filter(campaign=other).count() == 1


def test_an_expired_visit_keeps_the_posted_answers_and_asks_to_submit_again(frame, campaign):
    page = open_form(frame, campaign)
    token = visit_token(page)
    EmbedSession.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = frame.post(
        embed_url(campaign, "embed_form", lang="en"),
        {"t": token, **answers(form_token(page), lastname="Byron")},
    )
    assert response.status_code == 403
    assert "This page had been open too long" in response.text
    assert 'value="Byron"' in response.text
    assert visit_token(response) != token
    assert not Participation.objects.exists()

    # The fresh page's tokens submit the same answers.
    again = frame.post(
        embed_url(campaign, "embed_form", lang="en"),
        {"t": visit_token(response), **answers(form_token(response), lastname="Byron")},
    )
    assert again.status_code == 303
    assert Participation.objects.get().values["lastname"] == "Byron"


def test_a_visit_lasts_the_configured_time(frame, campaign, settings):
    settings.EMBED_SESSION_TTL_SECONDS = 900
    frame.get(embed_url(campaign))
    visit = EmbedSession.objects.get()
    assert timedelta(seconds=899) <= visit.expires_at - visit.created_at <= timedelta(seconds=901)


# ---------------------------------------------------------------------------- the form token
@pytest.mark.parametrize("posted", ["", "forged-" + "x" * 36, "previous"])
def test_a_form_without_the_pages_own_form_token_is_refused_and_nothing_is_stored(
    frame, campaign, posted
):
    first = open_form(frame, campaign)
    token = visit_token(first)
    page = open_form(frame, campaign, t=token)  # the frame reloaded: a new form token
    form_token_posted = form_token(first) if posted == "previous" else posted

    response = frame.post(
        embed_url(campaign, "embed_form", lang="en"),
        {"t": token, **answers(form_token_posted, lastname="Byron")},
    )
    assert response.status_code == 403
    assert "Your answers were not sent yet" in response.text
    assert 'value="Byron"' in response.text
    assert form_token(response) not in (form_token(first), form_token(page))
    assert not Participation.objects.exists()


def test_a_form_token_from_another_visit_is_refused(frame, campaign):
    mine = open_form(frame, campaign)
    theirs = open_form(FrameClient(), campaign)
    response = frame.post(
        embed_url(campaign, "embed_form"), {"t": visit_token(mine), **answers(form_token(theirs))}
    )
    assert response.status_code == 403
    assert not Participation.objects.exists()


def test_submitting_twice_stores_one_participation(frame, campaign):
    page = open_form(frame, campaign)
    data = {"t": visit_token(page), **answers(form_token(page))}
    first = frame.post(embed_url(campaign, "embed_form"), data)
    second = frame.post(embed_url(campaign, "embed_form"), data)
    assert first.status_code == second.status_code == 303
    assert second["Location"] == first["Location"]
    assert Participation.objects.count() == 1


def test_once_per_participant_without_a_login_means_once_per_visit(frame, campaign):
    campaign.participation_limit = ParticipationLimit.ONCE
    campaign.save()
    page = open_form(frame, campaign)
    token = visit_token(page)
    frame.post(embed_url(campaign, "embed_form"), {"t": token, **answers(form_token(page))})
    response = frame.get(embed_url(campaign, "embed_form", t=token))
    assert response.status_code == 303
    assert response["Location"] == embed_url(campaign, "embed_already", t=token, lang="en")
    assert "You already took part" in frame.get(response["Location"]).text


def test_the_embedded_pages_load_our_own_script_only(frame, campaign):
    page = frame.get(embed_url(campaign))
    assert '<script src="/static/participants/embed.js" defer></script>' in page.text
    assert page.text.count("<script") == 1
    assert "script-src 'self'" in page["Content-Security-Policy"]
    assert "https://" not in page.text.replace(HOST_SITE, "")


def test_every_framed_page_tells_its_height_even_when_the_campaign_has_ended(frame, campaign):
    page = open_form(frame, campaign)
    token = visit_token(page)
    thanks = frame.get(
        frame.post(embed_url(campaign, "embed_form"), {"t": token, **answers(form_token(page))})[
            "Location"
        ]
    )
    campaign.status = "ended"
    campaign.save()
    ended = frame.get(embed_url(campaign, t=token))
    assert ended.status_code == 410
    for framed in (thanks, ended):
        assert '<script src="/static/participants/embed.js" defer></script>' in framed.text
        assert f'data-embed-parent-origin="{HOST_SITE}"' in framed.text
        assert frame_ancestors(framed) == f"frame-ancestors {HOST_SITE}"

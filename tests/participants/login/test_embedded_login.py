"""Logging in from an embedded campaign: the pop-up (first-party) logs in as usual and ends with
a one-time ticket, bound to its login attempt and to the frame's visit, that the frame redeems
for the prefilled form."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns.models import PrefillMode
from participants.erasure import participant_erase
from participants.login.state import BROWSER_COOKIE
from participants.models import EmbedSession, EmbedTicket, LoginAttempt, Participation
from tests.participants.conftest import answers
from tests.participants.embed_flow import (
    HOST_SITE,
    FrameClient,
    embed_url,
    form_token,
    frame_ancestors,
    popup_login_start,
    ticket_of,
    visit_token,
)
from tests.participants.login.sso_flow import (
    TOKEN_URL,
    callback,
    idp_answers,
    make_sso_campaign,
    mock,
)

pytestmark = pytest.mark.django_db

CLAIMS = {"given_name": "Ada", "family_name": "Lovelace", "email": "ada@idp.example"}


@pytest.fixture
def campaign(account):
    account.embed_allowed_origins = [HOST_SITE]
    account.save()
    return make_sso_campaign(account)[0]


@pytest.fixture
def frame():
    return FrameClient()


@pytest.fixture
def popup():
    """The login window: a top-level window of ours, where first-party cookies work."""
    return Client()


def open_form(frame, campaign, token=None):
    page = frame.get(embed_url(campaign, "embed_form", **({"t": token} if token else {})))
    assert page.status_code == 200
    return page


def log_in_in_popup(popup, campaign, idp, token):
    """The pop-up's whole trip: start, the IdP, the callback; returns its last page."""
    started = popup_login_start(popup, campaign, token)
    with mock() as rsps:
        idp_answers(rsps, idp, started, claims=CLAIMS)
        response = callback(popup, started)
    assert response.status_code == 303, response.status_code
    assert response["Location"] == embed_url(campaign, "embed_login_done", lang="en")
    assert response["Cross-Origin-Opener-Policy"] == "unsafe-none"
    return popup.get(response["Location"])


def redeem(frame, campaign, page, ticket):
    """What the frame's script does with the ticket: post it with the page's form token."""
    return frame.post(
        embed_url(campaign, "embed_redeem", lang="en"),
        {"t": visit_token(page), "form_token": form_token(page), "ticket": ticket},
    )


@pytest.fixture
def logged_in(frame, popup, campaign, idp):
    """A frame's form page and the ticket its pop-up brought back."""
    page = open_form(frame, campaign)
    done = log_in_in_popup(popup, campaign, idp, visit_token(page))
    return page, ticket_of(done)


# ---------------------------------------------------------------------------- the pop-up
def test_the_frame_offers_a_login_in_a_window_of_ours(frame, campaign):
    page = open_form(frame, campaign)
    token = visit_token(page)
    login = embed_url(campaign, "embed_login_start", t=token, lang="en").replace("&", "&amp;")
    assert f'href="{login}" target="campaign-sso-login" rel="opener" data-embed-login' in page.text
    # Blocked pop-ups: the campaign's own pages, in a new tab, are the way on.
    new_tab = f'href="/c/{campaign.slug}/?lang=en" target="_blank" rel="noopener"'
    assert new_tab in page.text
    assert "Your browser blocked the login window." in page.text


def test_the_popup_starts_a_first_party_login_bound_to_the_frames_visit(frame, popup, campaign):
    token = visit_token(open_form(frame, campaign))
    started = popup_login_start(popup, campaign, token)
    assert started.response["Location"].startswith("https://idp.example.com/authorize?")
    assert started.response["Referrer-Policy"] == "no-referrer"
    # Browsers cut a pop-up off from its opener when a redirect on its way says same-origin.
    assert started.response["Cross-Origin-Opener-Policy"] == "unsafe-none"
    assert BROWSER_COOKIE in started.response.cookies
    attempt = LoginAttempt.objects.get()
    assert attempt.embedded and attempt.embed_session == EmbedSession.objects.get()
    assert attempt.campaign == campaign


def test_the_popup_refuses_a_visit_that_has_ended(frame, popup, campaign):
    token = visit_token(open_form(frame, campaign))
    EmbedSession.objects.update(expires_at=timezone.now())
    response = popup.get(embed_url(campaign, "embed_login_start", t=token))
    assert response.status_code == 400
    assert "This login window has expired" in response.text
    assert "Close this window" in response.text
    assert not LoginAttempt.objects.exists()


def test_the_login_ends_in_the_popup_with_a_ticket_for_the_frame(frame, popup, campaign, idp):
    page = open_form(frame, campaign)
    done = log_in_in_popup(popup, campaign, idp, visit_token(page))

    ticket = ticket_of(done)
    assert len(ticket) == 43
    stored = EmbedTicket.objects.get()
    assert stored.ticket_hash != ticket and ticket not in stored.prefill
    assert stored.attempt == LoginAttempt.objects.get()
    assert stored.embed_session == EmbedSession.objects.get()
    assert stored.expires_at - stored.created_at <= timedelta(seconds=121)
    # The page's script hands it over; the window must keep its opener, in another site's page.
    assert '<script src="/static/participants/popup.js" defer></script>' in done.text
    assert done["Cross-Origin-Opener-Policy"] == "unsafe-none"
    # No secret in its address; its "Continue in this window" form must send its Origin.
    assert done["Referrer-Policy"] == "same-origin"
    assert frame_ancestors(done) == "frame-ancestors 'none'"


def test_the_campaigns_own_pages_keep_cutting_off_their_openers(client, campaign):
    started = client.get(reverse("participants:login_start", args=[campaign.slug]))
    assert started["Cross-Origin-Opener-Policy"] == "same-origin"
    page = client.get(reverse("participants:landing", args=[campaign.slug]))
    assert page["Cross-Origin-Opener-Policy"] == "same-origin"


def test_nothing_of_the_login_stays_in_the_popups_own_session(frame, popup, campaign, idp):
    log_in_in_popup(popup, campaign, idp, visit_token(open_form(frame, campaign)))
    own_form = popup.get(reverse("participants:form", args=[campaign.slug]))
    assert 'value="Ada"' not in own_form.text
    assert "Continue as" not in own_form.text


# ---------------------------------------------------------------------------- the ticket
def test_the_frame_redeems_the_ticket_and_finds_the_form_prefilled(frame, campaign, logged_in):
    page, ticket = logged_in
    response = redeem(frame, campaign, page, ticket)
    assert response.status_code == 303
    token = visit_token(page)
    assert response["Location"] == embed_url(campaign, "embed_form", t=token, lang="en")

    form = frame.get(response["Location"])
    assert "We filled in what your Example ID account told us" in form.text
    assert 'value="Ada"' in form.text and 'value="Lovelace"' in form.text
    stored = EmbedTicket.objects.get()
    assert stored.used_at is not None and stored.prefill == ""


def test_the_prefilled_frame_takes_part_as_the_participant(frame, campaign, logged_in):
    page, ticket = logged_in
    form = frame.get(redeem(frame, campaign, page, ticket)["Location"])
    response = frame.post(
        embed_url(campaign, "embed_form", lang="en"),
        {"t": visit_token(form), **answers(form_token(form), email="ada@example.com")},
    )
    assert response.status_code == 303
    participation = Participation.objects.get()
    assert participation.participant == LoginAttempt.objects.get().participant
    assert participation.prefilled["firstname"] == "Ada"
    assert participation.changed == ["email"]
    assert "Thank you for taking part!" in frame.get(response["Location"]).text


def test_with_auto_submit_the_frame_goes_straight_to_the_thank_you_page(frame, campaign, logged_in):
    campaign.prefill_mode = PrefillMode.AUTO_SUBMIT
    campaign.save()
    page, ticket = logged_in
    form = frame.get(redeem(frame, campaign, page, ticket)["Location"])
    assert form.status_code == 303
    assert form["Location"] == embed_url(campaign, "embed_thanks", t=visit_token(page), lang="en")
    assert Participation.objects.get().values["firstname"] == "Ada"
    # Loading the form step again submits nothing more.
    frame.get(embed_url(campaign, "embed_form", t=visit_token(page)))
    assert Participation.objects.count() == 1


def test_a_ticket_serves_once(frame, campaign, logged_in):
    page, ticket = logged_in
    form = frame.get(redeem(frame, campaign, page, ticket)["Location"])
    replayed = redeem(frame, campaign, form, ticket)
    assert replayed.status_code == 400
    assert "We could not complete your login here" in replayed.text
    assert frame_ancestors(replayed) == f"frame-ancestors {HOST_SITE}"
    # The login it brought the first time is still there.
    assert 'value="Ada"' in frame.get(embed_url(campaign, "embed_form", t=visit_token(page))).text


def test_a_ticket_from_another_frames_login_is_refused_and_burnt(frame, campaign, logged_in):
    page, ticket = logged_in
    other_frame = FrameClient()
    other = open_form(other_frame, campaign)

    refused = redeem(other_frame, campaign, other, ticket)
    assert refused.status_code == 400
    form = other_frame.get(embed_url(campaign, "embed_form", t=visit_token(other)))
    assert 'value="Ada"' not in form.text
    # Presented by the wrong visit, it is burnt: even its own frame cannot use it any more.
    assert redeem(frame, campaign, page, ticket).status_code == 400


def test_a_ticket_that_waited_too_long_is_refused(frame, campaign, logged_in):
    page, ticket = logged_in
    EmbedTicket.objects.update(expires_at=timezone.now())
    response = redeem(frame, campaign, page, ticket)
    assert response.status_code == 400
    assert "it took too long, or it had already been used" in response.text


@pytest.mark.parametrize("ticket", ["", "short", "x" * 43, "<script>" * 6])
def test_a_made_up_ticket_is_refused(frame, campaign, ticket):
    page = open_form(frame, campaign)
    response = redeem(frame, campaign, page, ticket)
    assert response.status_code == 400
    assert "We could not complete your login here" in response.text


def test_a_ticket_posted_without_the_pages_form_token_is_refused_and_kept(
    frame, campaign, logged_in
):
    page, ticket = logged_in
    forged = frame.post(
        embed_url(campaign, "embed_redeem"),
        {"t": visit_token(page), "form_token": "f" * 43, "ticket": ticket},
    )
    assert forged.status_code == 403
    assert "Please try again" in forged.text
    assert EmbedTicket.objects.get().used_at is None
    # The frame's own page still redeems it (its form token was not the one refused).
    fresh = open_form(frame, campaign, visit_token(page))
    assert redeem(frame, campaign, fresh, ticket).status_code == 303


def test_not_you_in_the_frame_forgets_the_login_and_sends_nothing(frame, campaign, logged_in):
    page, ticket = logged_in
    form = frame.get(redeem(frame, campaign, page, ticket)["Location"])
    assert 'class="not-you"' in form.text
    response = frame.post(
        embed_url(campaign, "embed_not_you", lang="en"),
        {"t": visit_token(form), "form_token": form_token(form)},
    )
    assert response.status_code == 303
    empty = frame.get(response["Location"])
    assert 'value="Ada"' not in empty.text and "Log in with Example ID" in empty.text
    assert EmbedSession.objects.get().participant is None
    assert not Participation.objects.exists()


def test_not_you_without_the_pages_form_token_changes_nothing(frame, campaign, logged_in):
    page, ticket = logged_in
    form = frame.get(redeem(frame, campaign, page, ticket)["Location"])
    response = frame.post(
        embed_url(campaign, "embed_not_you"), {"t": visit_token(form), "form_token": ""}
    )
    assert response.status_code == 403
    assert EmbedSession.objects.get().participant is not None


# ---------------------------------------------------------------------------- when it cannot
def test_continue_in_this_window_takes_the_login_to_the_campaigns_own_form(
    frame, popup, campaign, idp
):
    page = open_form(frame, campaign)
    done = log_in_in_popup(popup, campaign, idp, visit_token(page))
    assert "Continue in this window" in done.text

    response = popup.post(embed_url(campaign, "embed_login_continue", lang="en"))
    assert response.status_code == 303
    assert response["Location"] == reverse("participants:form", args=[campaign.slug]) + "?lang=en"
    assert 'value="Ada"' in popup.get(response["Location"]).text
    # Taken here, it is no use to the frame any more.
    assert redeem(frame, campaign, page, ticket_of(done)).status_code == 400


def test_continue_in_this_window_after_the_frame_took_the_login_says_so(
    frame, popup, campaign, logged_in
):
    page, ticket = logged_in
    redeem(frame, campaign, page, ticket)
    response = popup.post(embed_url(campaign, "embed_login_continue"))
    assert response.status_code == 400
    assert "Your login already went to the campaign’s window" in response.text


def test_continue_in_this_window_is_protected_against_csrf(frame, campaign, idp):
    popup = Client(enforce_csrf_checks=True)
    log_in_in_popup(popup, campaign, idp, visit_token(open_form(frame, campaign)))
    response = popup.post(embed_url(campaign, "embed_login_continue"))
    assert response.status_code == 403
    assert EmbedTicket.objects.get().used_at is None


def test_a_login_whose_frame_visit_ended_stops_before_the_token_request(
    frame, popup, campaign, idp
):
    token = visit_token(open_form(frame, campaign))
    started = popup_login_start(popup, campaign, token)
    EmbedSession.objects.update(expires_at=timezone.now())
    with mock() as rsps:
        token_call = idp_answers(rsps, idp, started, claims=CLAIMS)
        response = callback(popup, started)
    assert token_call.call_count == 0
    assert response.status_code == 400
    assert "Close this window" in response.text
    assert not EmbedTicket.objects.exists()
    assert LoginAttempt.objects.get().error_code == "embed_session_expired"


def test_a_cancelled_login_in_the_popup_offers_to_close_it(frame, popup, campaign):
    token = visit_token(open_form(frame, campaign))
    started = popup_login_start(popup, campaign, token)
    response = callback(popup, started, code=None, error="access_denied")
    assert response.status_code == 400
    assert "Sign-in was cancelled" in response.text
    assert "Close this window" in response.text
    assert '<script src="/static/participants/popup.js" defer></script>' in response.text
    # No "Try again" to the campaign's own login: the frame offers the login again.
    assert f"/c/{campaign.slug}/login/" not in response.text


def test_the_popups_last_page_without_a_ticket_says_there_is_nothing_to_do(popup, campaign):
    response = popup.get(embed_url(campaign, "embed_login_done"))
    assert response.status_code == 200
    assert "Nothing more to do here" in response.text
    assert "data-embed-ticket" not in response.text


def test_the_token_request_of_an_embedded_login_is_the_usual_one(frame, popup, campaign, idp):
    token = visit_token(open_form(frame, campaign))
    started = popup_login_start(popup, campaign, token)
    with mock() as rsps:
        idp_answers(rsps, idp, started, claims=CLAIMS)
        callback(popup, started)
        (call,) = [c for c in rsps.calls if c.request.url == TOKEN_URL]
    body = call.request.body
    assert "code=the-code" in (body.decode() if isinstance(body, bytes) else body)
    assert started.params["redirect_uri"].endswith(campaign.oauth_integration.callback_key)


# ---------------------------------------------------------------------------- what is kept
def test_expired_visits_and_tickets_are_purged(campaign, logged_in):
    running = open_form(FrameClient(), campaign)
    ticket = EmbedTicket.objects.get()
    EmbedTicket.objects.update(expires_at=timezone.now())
    EmbedSession.objects.filter(pk=ticket.embed_session_id).update(expires_at=timezone.now())
    out = StringIO()

    call_command("purge_login_attempts", stdout=out)

    assert not EmbedTicket.objects.exists()
    assert EmbedSession.objects.get().pk != ticket.embed_session_id
    assert "1 expired embedded visits and 1 expired login tickets" in out.getvalue()
    assert LoginAttempt.objects.get().embed_session is None  # the activity log keeps the attempt
    assert visit_token(running)


def test_erasing_the_participant_ends_their_embedded_visits_and_tickets(
    frame, campaign, logged_in, admin_user_a
):
    page, ticket = logged_in
    redeem(frame, campaign, page, ticket)
    participant = LoginAttempt.objects.get().participant
    participant_erase(participant=participant, erased_by=admin_user_a)
    assert not EmbedSession.objects.exists() and not EmbedTicket.objects.exists()
    # The frame starts a new visit, without the erased values.
    form = frame.get(embed_url(campaign, "embed_form", t=visit_token(page)))
    assert 'value="Ada"' not in form.text
    assert "This page had been open too long" in form.text


def test_the_embedded_login_speaks_french(frame, popup, campaign, idp):
    page = frame.get(embed_url(campaign, "embed_form", lang="fr"))
    assert "Une petite fenêtre s’ouvre pour vous connecter" in page.text
    assert "Votre navigateur a bloqué la fenêtre de connexion." in page.text
    assert "Ouvrir la campagne dans un nouvel onglet" in page.text
    started = popup_login_start(popup, campaign, visit_token(page), lang="fr")
    with mock() as rsps:
        idp_answers(rsps, idp, started, claims=CLAIMS)
        done = popup.get(callback(popup, started)["Location"])
    assert '<html lang="fr">' in done.text
    assert "Vous êtes connecté" in done.text and "Continuer dans cette fenêtre" in done.text

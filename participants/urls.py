from django.urls import path

from participants import views, views_embed, views_failures, views_public
from participants.login import remembered_views, test_login
from participants.login import views as login_views

app_name = "participants"

urlpatterns = [
    path("", views_public.home, name="home"),
    path("c/<slug:slug>/", views.landing, name="landing"),
    path("c/<slug:slug>/form/", views.campaign_form, name="form"),
    path("c/<slug:slug>/thanks/", views.thanks, name="thanks"),
    path("c/<slug:slug>/already/", views.already, name="already"),
    path("c/<slug:slug>/login/", login_views.login_start, name="login_start"),
    path("c/<slug:slug>/continue/", remembered_views.continue_as, name="continue_as"),
    path("c/<slug:slug>/not-you/", remembered_views.not_you, name="not_you"),
    # A campaign inside a customer's frame, and its login pop-up (participants/views_embed.py).
    path("e/<slug:slug>/", views_embed.embed_landing, name="embed_landing"),
    path("e/<slug:slug>/form/", views_embed.embed_form, name="embed_form"),
    path("e/<slug:slug>/thanks/", views_embed.embed_thanks, name="embed_thanks"),
    path("e/<slug:slug>/already/", views_embed.embed_already, name="embed_already"),
    path("e/<slug:slug>/not-you/", views_embed.embed_not_you, name="embed_not_you"),
    path("e/<slug:slug>/ticket/", views_embed.embed_redeem, name="embed_redeem"),
    path("e/<slug:slug>/login/", views_embed.embed_login_start, name="embed_login_start"),
    path("e/<slug:slug>/login/done/", views_embed.embed_login_done, name="embed_login_done"),
    path(
        "e/<slug:slug>/login/continue/",
        views_embed.embed_login_continue,
        name="embed_login_continue",
    ),
    # integrations/oauth/redirect_uri.py: each integration's own redirect URI, and the shared one
    # that only verified issuers sending `iss` may use.
    path(
        "oauth/callback/<slug:key>", login_views.oauth_callback, name="oauth_callback_integration"
    ),
    path("oauth/callback", login_views.oauth_callback, name="oauth_callback"),
    # A failed login's page in another language (its language switch).
    path("sso/problem/", views_failures.sign_in_problem, name="sign_in_problem"),
    path(
        "sso/test-login/<int:integration_id>/",
        test_login.test_login_start,
        name="test_login_start",
    ),
    path(
        "sso/test-login/result/<int:attempt_id>/",
        test_login.test_login_result,
        name="test_login_result",
    ),
]

from django.urls import path

from . import views, views_sso

app_name = "participants"

urlpatterns = [
    path("c/<slug:slug>/", views.landing, name="landing"),
    path("c/<slug:slug>/form/", views.campaign_form, name="form"),
    path("c/<slug:slug>/thanks/", views.thanks, name="thanks"),
    path("c/<slug:slug>/already/", views.already, name="already"),
    path("c/<slug:slug>/login/", views_sso.login_start, name="login_start"),
    # integrations.callback.CALLBACK_PATH: the redirect URI every IdP has registered.
    path("oauth/callback", views_sso.oauth_callback, name="oauth_callback"),
    path(
        "sso/test-login/<int:integration_id>/",
        views_sso.test_login_start,
        name="test_login_start",
    ),
    path(
        "sso/test-login/result/<int:attempt_id>/",
        views_sso.test_login_result,
        name="test_login_result",
    ),
]

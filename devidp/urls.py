from django.contrib.auth import views as auth_views
from django.urls import include, path

from devidp.accounts import views
from devidp.accounts.demo import DEMO_PARTICIPANTS, DEMO_PASSWORD

urlpatterns = [
    path("", views.home, name="home"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            extra_context={
                "demo_usernames": list(DEMO_PARTICIPANTS),
                "demo_password": DEMO_PASSWORD,
            }
        ),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Tests only, and only with DEVIDP_ADMIN_TOKEN set.
    path("devidp/clients/", views.client_registration, name="client-registration"),
    # The issuer is <base>/o: discovery at /o/.well-known/openid-configuration.
    path("o/authorize/", views.AuthorizationView.as_view(), name="authorize"),
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
]

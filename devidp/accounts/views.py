from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.shortcuts import render
from oauth2_provider import views as oauth2_views
from oauth2_provider.settings import oauth2_settings

from devidp.accounts.demo import DEMO_PARTICIPANTS, DEMO_PASSWORD


def home(request):
    """What this IdP is, where its discovery document is, and who can log in."""
    issuer = oauth2_settings.oidc_issuer(request)
    return render(
        request,
        "devidp/home.html",
        {
            "issuer": issuer,
            "discovery_url": f"{issuer}/.well-known/openid-configuration",
            "participants": DEMO_PARTICIPANTS,
            "password": DEMO_PASSWORD,
        },
    )


class AuthorizationView(oauth2_views.AuthorizationView):
    """DOT's login-protected consent view, with the RFC 9207 `iss` on error responses too.

    DOT adds `iss` to successful authorization responses only; RFC 9207 §2 wants it on every
    response, errors (e.g. `access_denied` at Cancel) included.
    """

    def redirect(self, redirect_to, application):
        if oauth2_settings.COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS:
            issuer = oauth2_settings.oauth2_authorization_server_issuer(self.request)
            redirect_to = _with_query_param(redirect_to, "iss", issuer)
        return super().redirect(redirect_to, application)


def _with_query_param(url: str, name: str, value: str) -> str:
    """The URL with `name=value` in its query, unless the query already has `name`."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(key == name for key, _ in query):
        return url
    return urlunsplit(parts._replace(query=urlencode([*query, (name, value)])))

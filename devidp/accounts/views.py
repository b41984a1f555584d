import json
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from oauth2_provider import views as oauth2_views
from oauth2_provider.settings import oauth2_settings

from devidp.accounts.clients import client_register
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


@csrf_exempt
@require_POST
def client_registration(request):
    """Register or reset a client over HTTP: the test fixture's fast path to `client_register`.

    Enabled only when DEVIDP_ADMIN_TOKEN is set (the fixture sets a random one); the caller
    sends it as a Bearer token. JSON in: client_id, client_secret, redirect_uris, pkce_required,
    algorithm (optional).
    """
    expected = settings.DEVIDP_ADMIN_TOKEN
    if not expected:
        raise Http404
    given = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if not constant_time_compare(given, expected):
        return JsonResponse({"error": "unauthorized"}, status=401)
    try:
        data = json.loads(request.body)
        client_register(
            client_id=str(data["client_id"]),
            client_secret=str(data["client_secret"]),
            redirect_uris=[str(uri) for uri in data["redirect_uris"]],
            pkce_required=bool(data["pkce_required"]),
            algorithm=str(data.get("algorithm") or "RS256"),
        )
    except (ValueError, KeyError, TypeError) as error:
        return JsonResponse({"error": "invalid_request", "detail": repr(error)}, status=400)
    except ValidationError as error:
        return JsonResponse({"error": "invalid_client", "detail": error.message_dict}, status=400)
    return JsonResponse({"client_id": data["client_id"]})

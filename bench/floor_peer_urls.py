"""The peer bench's floor row: the least an OAuth login costs on this stack (`floor` rows of
bench/peers/peers.conf, served by bench/peers/product.sh).

The same settings as the product (every middleware, the session engine, SQLite) and the same
three requests the harness drives, with nothing of the product's in them: the login start keeps
state, nonce and PKCE verifier in the session and redirects to the stub; the callback checks the
state, redeems the code (client_secret_basic, the verifier), verifies the id_token's signature,
issuer, audience, expiry and nonce with PyJWT, fetches userinfo, writes one row and the session,
and redirects to the final page, which renders the e-mail into a small template. It checks what
an honest client must, but has no tenant, mapping, rate limit, circuit breaker, bulkhead,
attempt record, egress policy or error pages: what the product spends beyond this row is the
price of those.
"""

import hashlib
import os
import secrets
from base64 import urlsafe_b64encode
from urllib.parse import urlencode

import jwt
from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.urls import path
from django.views.decorators.cache import never_cache

from bench.floor_urls import PAGE, empty, http_session, row_write

IDP = os.environ.get("BENCH_IDP_URL", "http://127.0.0.1:18900")
CLIENT_ID = os.environ.get("BENCH_CLIENT_ID", "")
CLIENT_SECRET = os.environ.get("BENCH_CLIENT_SECRET", "")
REDIRECT_URI = os.environ.get("BENCH_APP_URL", "http://127.0.0.1:18901") + "/floor/callback/"

_keys: dict = {}


def _key(kid: str):
    if kid not in _keys:  # fetched once per process, as a JWKS cache does
        jwks = http_session().get(f"{IDP}/jwks", timeout=10).json()
        _keys.update({k["kid"]: jwt.PyJWK(k, algorithm="RS256").key for k in jwks["keys"]})
    return _keys[kid]


@never_cache
def login(request):
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(48)
    challenge = urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    request.session["floor"] = {"state": state, "nonce": nonce, "verifier": verifier}
    query = urlencode(
        {
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT_URI,
            "scope": "openid email profile",
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge.decode(),
            "code_challenge_method": "S256",
        }
    )
    return HttpResponseRedirect(f"{IDP}/authorize?{query}")


@never_cache
def callback(request):
    started = request.session.pop("floor", None)
    if not started or not secrets.compare_digest(request.GET.get("state", ""), started["state"]):
        return HttpResponseBadRequest("state")
    tokens = http_session().post(
        f"{IDP}/token",
        data={
            "grant_type": "authorization_code",
            "code": request.GET.get("code", ""),
            "redirect_uri": REDIRECT_URI,
            "code_verifier": started["verifier"],
        },
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=10,
    )
    tokens.raise_for_status()
    answer = tokens.json()
    token = answer["id_token"]
    claims = jwt.decode(
        token,
        key=_key(jwt.get_unverified_header(token)["kid"]),
        algorithms=["RS256"],
        audience=CLIENT_ID,
        issuer=IDP,
        options={"require": ["exp", "iat", "sub"]},
    )
    if not secrets.compare_digest(claims.get("nonce", ""), started["nonce"]):
        return HttpResponseBadRequest("nonce")
    profile = http_session().get(
        f"{IDP}/userinfo",
        headers={"Authorization": f"Bearer {answer['access_token']}"},
        timeout=10,
    )
    profile.raise_for_status()
    email = profile.json()["email"]
    row_write(claims["sub"])  # the participant: one row
    request.session.cycle_key()
    request.session["email"] = email
    return HttpResponseRedirect("/floor/form/")


@never_cache
def form(request):
    context = {"title": "Bench", "name": "Bench IdP", "email": request.session.get("email", "")}
    return HttpResponse(PAGE.render(context, request))


urlpatterns = [
    path("", empty),  # the harness waits for an answer here
    path("floor/login/", login),
    path("floor/callback/", callback),
    path("floor/form/", form),
]

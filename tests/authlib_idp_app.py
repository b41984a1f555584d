"""A second, independent OAuth 2.0 / OpenID Connect server for the end-to-end tests: Authlib's
authorization server behind a plain WSGI app, run by `tests/authlib_idp_server.py` in a
subprocess on 127.0.0.1 (`python -m tests.authlib_idp_app --port N`).

Not the development IdP (django-oauth-toolkit): another implementation, with its own reading of
the specifications. Its client authentication only percent-decodes the Basic credentials, as
Authlib does; it verifies PKCE whenever a challenge was sent; it signs RS256 id_tokens (without
`kid`) and, for clients that ask, RFC 9068 JWT access tokens.

Two tenants share the clients and the users, each its own issuer:

- `/t/acme`: serves its discovery document at `/t/acme/.well-known/openid-configuration`;
- `/t/bare`: has none (no discovery, no JWKS URI to find): id_tokens then go unchecked by keys.

Under each: `authorize` (GET: a login form; POST: log in and answer the client), `token`,
`userinfo` (OIDC), `api/me` (a REST profile: numeric `id`, `first_name`, `last_name`),
`jwks`. `POST /admin/clients` (Bearer admin token) registers or resets a client.

Users are the development IdP's demo participants (devidp/accounts/demo.py, plain data).
"""

import argparse
import hmac
import html
import json
import os
import secrets
import sys
import time
from dataclasses import dataclass, field
from socketserver import ThreadingMixIn
from urllib.parse import parse_qsl
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from authlib.oauth2 import AuthorizationServer, OAuth2Error, OAuth2Request
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from joserfc.jwk import RSAKey

from devidp.accounts.demo import DEMO_PARTICIPANTS, DEMO_PASSWORD

TENANTS = {"acme": True, "bare": False}  # tenant -> serves a discovery document
AUTH_METHODS = ("client_secret_basic", "client_secret_post")
# What the token answer may carry besides the tokens, as some IdPs do (see the fixtures).
TOKEN_EXTRAS = ("", "user_id", "strava", "slack")


@dataclass
class User:
    username: str
    profile: dict

    def get_user_id(self) -> str:
        return self.profile["subject"]


@dataclass
class Client(ClientMixin):
    client_id: str
    client_secret: str
    redirect_uri: str
    auth_method: str
    jwt_access_token: bool = False
    token_extras: str = ""

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return self.redirect_uri

    def get_allowed_scope(self, scope):
        return scope

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri == self.redirect_uri

    def check_client_secret(self, client_secret):
        return hmac.compare_digest(client_secret.encode(), self.client_secret.encode())

    def check_endpoint_auth_method(self, method, endpoint):
        # One method per client, as registered: a client sending the other one is refused.
        return endpoint != "token" or method == self.auth_method

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type == "authorization_code"


@dataclass
class Code:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: User
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_nonce(self):
        return self.nonce

    def get_auth_time(self):
        return self.auth_time

    def get_acr(self):
        return None

    def get_amr(self):
        return None


CLIENTS: dict[str, Client] = {}
CODES: dict[str, Code] = {}
TOKENS: dict[str, tuple[User, str]] = {}  # access token -> (user, scope)
USERS = {name: User(name, profile) for name, profile in DEMO_PARTICIPANTS.items()}
KEY = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"}, private=True)


def claims_for(user: User, scope: str) -> dict:
    """The OIDC claims a scope releases (the development IdP's table, in short)."""
    scopes = scope.split()
    profile = user.profile
    claims = {"sub": user.get_user_id()}
    if "profile" in scopes:
        claims.update(
            given_name=profile["first_name"],
            family_name=profile["last_name"],
            name=f"{profile['first_name']} {profile['last_name']}",
            locale=profile["locale"],
        )
    if "email" in scopes:
        claims.update(email=profile["email"], email_verified=True)
    if "phone" in scopes and profile["phone_number"]:
        claims["phone_number"] = profile["phone_number"]
    return claims


def numeric_id(user: User) -> int:
    """A REST API's integer id for the user (like GitHub's or Strava's)."""
    return 1000 + sorted(USERS).index(user.username)


def token_extras(client: Client, user: User) -> dict:
    if client.token_extras == "user_id":
        return {"user_id": f"u-{numeric_id(user)}"}
    if client.token_extras == "strava":
        profile = user.profile
        return {
            "athlete": {
                "id": numeric_id(user),
                "firstname": profile["first_name"],
                "lastname": profile["last_name"],
                "city": profile["locality"],
            }
        }
    if client.token_extras == "slack":
        return {
            "ok": True,
            "team": {"id": "T0ACME", "name": "Acme"},
            "authed_user": {
                "id": f"U{numeric_id(user)}",
                "access_token": "xoxp-" + secrets.token_hex(8),
                "token_type": "user",
            },
        }
    return {}


# ---------------------------------------------------------------------------- Authlib's parts
class CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = list(AUTH_METHODS)

    def save_authorization_code(self, code, request):
        data = request.payload.data
        CODES[code] = Code(
            code=code,
            client_id=request.client.client_id,
            redirect_uri=request.payload.redirect_uri,
            scope=request.payload.scope or "",
            user=request.user,
            nonce=data.get("nonce"),
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
        )

    def query_authorization_code(self, code, client):
        found = CODES.get(code)
        if found is not None and found.client_id == client.client_id:
            return found
        return None

    def delete_authorization_code(self, authorization_code):
        CODES.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code):
        return authorization_code.user


class IdToken(OpenIDCode):
    def __init__(self, issuer: str):
        super().__init__(require_nonce=False)
        self.issuer = issuer

    def exists_nonce(self, nonce, request):
        return any(code.nonce == nonce for code in CODES.values())

    def resolve_client_private_key(self, client):
        return KEY

    def get_client_algorithm(self, client):
        return "RS256"

    def get_client_claims(self, client):
        return {"iss": self.issuer, "aud": [client.get_client_id()], "exp": int(time.time()) + 300}

    def generate_user_info(self, user, scope):
        return UserInfo(claims_for(user, scope))


class AccessTokens(JWTBearerTokenGenerator):
    def get_jwks(self):
        return KEY

    def get_extra_claims(self, client, grant_type, user, scope):
        return claims_for(user, scope) if user else {}


class Server(AuthorizationServer):
    def __init__(self, issuer: str):
        super().__init__()
        self.issuer = issuer
        opaque = BearerTokenGenerator(lambda *args, **kwargs: secrets.token_urlsafe(32))
        jwt_tokens = AccessTokens(issuer)

        def generate(grant_type, client, user=None, scope=None, **kwargs):
            tokens = jwt_tokens if client.jwt_access_token else opaque
            token = tokens(grant_type, client, user=user, scope=scope, **kwargs)
            token.update(token_extras(client, user))
            return token

        self.register_token_generator("default", generate)
        self.register_grant(CodeGrant, [CodeChallenge(required=False), IdToken(issuer)])

    def query_client(self, client_id):
        return CLIENTS.get(client_id)

    def save_token(self, token, request):
        TOKENS[token["access_token"]] = (request.user, token.get("scope", ""))

    def send_signal(self, name, *args, **kwargs):
        pass

    def create_oauth2_request(self, request):
        return request

    def handle_response(self, status, body, headers):
        if isinstance(body, dict):
            body = json.dumps(body)
            headers = [*headers, ("Content-Type", "application/json")]
        return status, body, headers


class WSGIRequest(OAuth2Request):
    """What Authlib reads of a WSGI request: method, URL, headers, query and form."""

    def __init__(self, environ: dict):
        self.args_ = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        self.form_ = {}
        if environ["REQUEST_METHOD"] == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length).decode("utf-8")
            self.form_ = dict(parse_qsl(body, keep_blank_values=True))
        headers = {
            key[5:].replace("_", "-").title(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        uri = f"http://{environ['HTTP_HOST']}{environ['PATH_INFO']}"
        if environ.get("QUERY_STRING"):
            uri += "?" + environ["QUERY_STRING"]
        super().__init__(environ["REQUEST_METHOD"], uri, headers=headers)
        self.payload = BasicOAuth2Payload({**self.args_, **self.form_})

    @property
    def args(self):
        return self.args_

    @property
    def form(self):
        return self.form_


# ---------------------------------------------------------------------------- the WSGI app
def respond(start_response, status: int, body, headers=()):
    if isinstance(body, dict):
        body = json.dumps(body)
        headers = [*headers, ("Content-Type", "application/json")]
    reasons = {200: "OK", 302: "Found", 400: "Bad Request", 401: "Unauthorized"}
    start_response(f"{status} {reasons.get(status, 'Status')}", list(headers))
    return [body.encode("utf-8") if isinstance(body, str) else body]


LOGIN_PAGE = """<!doctype html><title>Acme login</title>
<form id="login-form" method="post" action="">
<input type="hidden" name="query" value="{query}">
<input name="username"><input name="password" type="password">
<button type="submit">Log in</button></form>"""


class App:
    def __init__(self, base_url: str, admin_token: str):
        self.base_url = base_url
        self.admin_token = admin_token
        self.servers = {tenant: Server(f"{base_url}/t/{tenant}") for tenant in TENANTS}

    def __call__(self, environ, start_response):
        path = environ["PATH_INFO"]
        if path == "/admin/clients":
            return self.register_client(environ, start_response)
        parts = path.strip("/").split("/", 2)
        if len(parts) < 3 or parts[0] != "t" or parts[1] not in TENANTS:
            return respond(start_response, 404, "not found", [("Content-Type", "text/plain")])
        tenant, endpoint = parts[1], parts[2]
        server = self.servers[tenant]
        handler = {
            "authorize": self.authorize,
            "token": self.token,
            "userinfo": self.userinfo,
            "api/me": self.rest_profile,
            "jwks": self.jwks,
            ".well-known/openid-configuration": self.discovery,
        }.get(endpoint)
        if handler is None or (endpoint.startswith(".well-known") and not TENANTS[tenant]):
            return respond(start_response, 404, "not found", [("Content-Type", "text/plain")])
        return handler(server, environ, start_response)

    def authorize(self, server, environ, start_response):
        request = WSGIRequest(environ)
        if request.method == "GET":
            try:
                server.get_consent_grant(request)
            except OAuth2Error as error:
                return respond(start_response, 400, {"error": error.error})
            page = LOGIN_PAGE.format(query=html.escape(environ.get("QUERY_STRING", "")))
            return respond(start_response, 200, page, [("Content-Type", "text/html")])
        user = USERS.get(request.form.get("username", ""))
        if user is None or request.form.get("password") != DEMO_PASSWORD:
            return respond(start_response, 401, "wrong login", [("Content-Type", "text/plain")])
        # The authorization request travels in the form: answer it for this user.
        environ = {**environ, "REQUEST_METHOD": "GET", "QUERY_STRING": request.form["query"]}
        status, body, headers = server.create_authorization_response(
            WSGIRequest(environ), grant_user=user
        )
        return respond(start_response, status, body, headers)

    def token(self, server, environ, start_response):
        status, body, headers = server.create_token_response(WSGIRequest(environ))
        return respond(start_response, status, body, headers)

    def _bearer_user(self, environ):
        header = environ.get("HTTP_AUTHORIZATION", "")
        if not header.startswith("Bearer "):
            return None
        return TOKENS.get(header.removeprefix("Bearer "))

    def userinfo(self, server, environ, start_response):
        found = self._bearer_user(environ)
        if found is None or "openid" not in found[1].split():
            return respond(start_response, 401, {"error": "invalid_token"})
        return respond(start_response, 200, claims_for(*found))

    def rest_profile(self, server, environ, start_response):
        found = self._bearer_user(environ)
        if found is None:
            return respond(start_response, 401, {"error": "invalid_token"})
        user = found[0]
        return respond(
            start_response,
            200,
            {
                "id": numeric_id(user),
                "first_name": user.profile["first_name"],
                "last_name": user.profile["last_name"],
                "email": user.profile["email"],
            },
        )

    def jwks(self, server, environ, start_response):
        return respond(start_response, 200, {"keys": [KEY.as_dict(private=False)]})

    def discovery(self, server, environ, start_response):
        issuer = server.issuer
        return respond(
            start_response,
            200,
            {
                "issuer": issuer,
                "authorization_endpoint": f"{issuer}/authorize",
                "token_endpoint": f"{issuer}/token",
                "userinfo_endpoint": f"{issuer}/userinfo",
                "jwks_uri": f"{issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "profile", "email", "phone"],
                "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
                "code_challenge_methods_supported": ["S256"],
            },
        )

    def register_client(self, environ, start_response):
        expected = f"Bearer {self.admin_token}"
        if not hmac.compare_digest(environ.get("HTTP_AUTHORIZATION", ""), expected):
            return respond(start_response, 401, {"error": "unauthorized"})
        length = int(environ.get("CONTENT_LENGTH") or 0)
        data = json.loads(environ["wsgi.input"].read(length))
        if data.get("auth_method") not in AUTH_METHODS or data.get("token_extras", "") not in (
            TOKEN_EXTRAS
        ):
            return respond(start_response, 400, {"error": "invalid_client_metadata"})
        CLIENTS[data["client_id"]] = Client(
            client_id=data["client_id"],
            client_secret=data["client_secret"],
            redirect_uri=data["redirect_uri"],
            auth_method=data["auth_method"],
            jwt_access_token=bool(data.get("jwt_access_token")),
            token_extras=data.get("token_extras", ""),
        )
        return respond(start_response, 200, {"client_id": data["client_id"]})


class ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        sys.stderr.write("authlib-idp: " + (format % args) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # Authlib refuses plain http unless told: this server only ever listens on loopback.
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"
    base_url = f"http://127.0.0.1:{args.port}"
    app = App(base_url, admin_token=os.environ["AUTHLIB_IDP_ADMIN_TOKEN"])
    with make_server(
        "127.0.0.1", args.port, app, server_class=ThreadingServer, handler_class=QuietHandler
    ) as httpd:
        print(f"authlib-idp: serving {base_url}", flush=True)
        httpd.serve_forever()


if __name__ == "__main__":
    main()

"""What a relying party does against the development IdP, in a few plain HTTP calls."""

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, quote_plus, urlencode, urlsplit

import requests

TIMEOUT = 10
ALL_SCOPES = "openid profile email address phone campaign"


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorization_url(devidp, client_id: str, redirect_uri: str, **params: str) -> str:
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": ALL_SCOPES,
        "state": secrets.token_urlsafe(16),
        "nonce": secrets.token_urlsafe(16),
        **params,
    }
    return f"{devidp.authorize_url}?{urlencode(query)}"


def callback_params(location: str) -> dict[str, str]:
    """The query of the redirect to the client, one value per parameter."""
    params = parse_qs(urlsplit(location).query)
    assert all(len(values) == 1 for values in params.values()), params
    return {name: values[0] for name, values in params.items()}


def basic_authorization(client_id: str, client_secret: str) -> str:
    """RFC 6749 §2.3.1: form-urlencode id and secret, then Base64 "id:secret"."""
    credentials = f"{quote_plus(client_id)}:{quote_plus(client_secret)}"
    return "Basic " + base64.b64encode(credentials.encode("utf-8")).decode("ascii")


def token_request(
    devidp,
    *,
    code: str,
    redirect_uri: str,
    client_id: str,
    client_secret: str,
    auth: str = "post",
    code_verifier: str | None = None,
) -> requests.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    headers = {}
    if auth == "post":
        data.update(client_id=client_id, client_secret=client_secret)
    else:
        headers["Authorization"] = basic_authorization(client_id, client_secret)
    if code_verifier is not None:
        data["code_verifier"] = code_verifier
    return requests.post(devidp.token_url, data=data, headers=headers, timeout=TIMEOUT)


def userinfo(devidp, access_token: str) -> requests.Response:
    return requests.get(
        devidp.userinfo_url,
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=TIMEOUT,
    )

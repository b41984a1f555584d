"""A fast OpenID Connect provider for the login benchmark: every endpoint answers at once.

    python bench/idp_server.py --port 9400 --client-id bench --client-secret s3cret \
        --redirect-uri http://127.0.0.1:8400/oauth/callback

Runs in its own process so that the benchmark can read its CPU time apart from the app's.
Standard library plus PyJWT/cryptography; no Django. It plays a real IdP closely enough that the
app's checks all run: the authorization endpoint redirects straight back with `code`, `state`
and `iss`; the token endpoint checks the client secret, the redirect URI and the PKCE verifier
and returns an RS256 id_token (a key generated at start, nonce echoed); userinfo needs the access
token; the JWKS publishes the key. The participant is whoever the `login_hint` names, so the
benchmark knows which profile each journey must end with (`profile_of`).
"""

import argparse
import base64
import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

KID = "bench-key-1"


def profile_of(subject: str) -> dict:
    """The profile the stub gives `subject`; the benchmark checks the stored values against it."""
    tag = hashlib.sha256(subject.encode()).hexdigest()[:8]
    return {
        "sub": subject,
        "given_name": f"Ada{tag}",
        "family_name": f"Lovelace{tag}",
        "email": f"{subject}@idp.bench.test",
        "locale": "en-GB",
    }


class _State:
    def __init__(self, *, issuer: str, client_id: str, client_secret: str, redirect_uri: str):
        self.issuer = issuer
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": KID, "use": "sig", "alg": "RS256"})
        self.jwks = json.dumps({"keys": [jwk]}).encode()
        self.lock = threading.Lock()
        self.codes: dict[str, dict] = {}
        self.access_tokens: dict[str, str] = {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The headers and the body leave in two writes: with Nagle's algorithm the body waited for
    # the client's delayed acknowledgement of the headers, 40 ms on every kept-alive answer.
    disable_nagle_algorithm = True
    state: _State

    def log_message(self, *args):  # quiet: the benchmark prints the figures
        pass

    def _send(self, status: int, body: bytes = b"", *, headers: dict | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data: dict) -> None:
        self._send(
            status,
            json.dumps(data).encode(),
            headers={"Content-Type": "application/json", "Cache-Control": "no-store"},
        )

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path == "/authorize":
            return self._authorize({k: v[0] for k, v in parse_qs(url.query).items()})
        if url.path == "/jwks":
            return self._send(200, self.state.jwks, headers={"Content-Type": "application/json"})
        if url.path == "/userinfo":
            token = self.headers.get("Authorization", "").removeprefix("Bearer ")
            with self.state.lock:
                subject = self.state.access_tokens.pop(token, None)
            if subject is None:
                return self._json(401, {"error": "invalid_token"})
            return self._json(200, profile_of(subject))
        return self._send(404)

    def _authorize(self, query: dict) -> None:
        s = self.state
        if query.get("client_id") != s.client_id or query.get("redirect_uri") != s.redirect_uri:
            return self._send(400, b"unknown client or redirect_uri")
        code = secrets.token_urlsafe(24)
        with s.lock:
            s.codes[code] = {
                "subject": query.get("login_hint") or secrets.token_hex(8),
                "nonce": query.get("nonce"),
                "challenge": query.get("code_challenge"),
            }
        target = f"{s.redirect_uri}?" + urlencode(
            {"code": code, "state": query.get("state", ""), "iss": s.issuer}
        )
        self._send(302, headers={"Location": target})

    def do_POST(self):
        if urlsplit(self.path).path != "/token":
            return self._send(404)
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        s = self.state
        if form.get("client_id") != s.client_id or form.get("client_secret") != s.client_secret:
            return self._json(401, {"error": "invalid_client"})
        with s.lock:
            grant = s.codes.pop(form.get("code", ""), None)
        if grant is None or form.get("redirect_uri") != s.redirect_uri:
            return self._json(400, {"error": "invalid_grant"})
        if grant["challenge"]:
            verifier = form.get("code_verifier", "").encode()
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=")
            if challenge.decode() != grant["challenge"]:
                return self._json(400, {"error": "invalid_grant"})
        now = int(time.time())
        claims = {
            "iss": s.issuer,
            "aud": s.client_id,
            "sub": grant["subject"],
            "iat": now,
            "exp": now + 300,
            "nonce": grant["nonce"],
            **{k: v for k, v in profile_of(grant["subject"]).items() if k != "sub"},
        }
        access_token = secrets.token_urlsafe(24)
        with s.lock:
            s.access_tokens[access_token] = grant["subject"]
        id_token = jwt.encode(claims, s.key, algorithm="RS256", headers={"kid": KID})
        self._json(
            200,
            {
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": id_token,
                "scope": "openid email profile",
            },
        )


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # A burst of 50 participants must not overflow the listen queue.
    request_queue_size = 256


def serve(*, host: str, port: int, client_id: str, client_secret: str, redirect_uri: str):
    Handler.state = _State(
        issuer=f"http://{host}:{port}",
        client_id=client_id,
        client_secret=client_secret,
        redirect_uri=redirect_uri,
    )
    server = _Server((host, port), Handler)
    print(f"idp stub ready on {host}:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--redirect-uri", required=True)
    args = parser.parse_args()
    serve(
        host=args.host,
        port=args.port,
        client_id=args.client_id,
        client_secret=args.client_secret,
        redirect_uri=args.redirect_uri,
    )

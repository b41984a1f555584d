"""id_token and JWT access token validation, and the JWKS cache behind it.

OpenID Connect Core §3.1.3.7, with these choices:

- Keys come only from the integration's configured (or discovered) `jwks_uri`, fetched through
  the egress guard. Token headers that name other keys (`jku`, `x5u`, `jwk`, `x5c`) are ignored.
- Allowed algorithms are the asymmetric ones (RS*, PS*, ES*). `none` and every HS* are refused:
  an HS256 token "signed" with the IdP's public key (algorithm confusion) never verifies, and we
  do not offer client-secret-keyed id_tokens.
- The JWKS is cached per `jwks_uri` in Django's cache (shared by every process when the cache is
  Redis). An unknown `kid` refetches it once, at most once per cooldown per `jwks_uri`, so a
  stream of tokens with made-up `kid`s cannot make us hammer the IdP. A warm cache keeps logins
  working while the JWKS endpoint is down. A cache that is down costs no login: each process
  keeps its own copy of the keys it saw, fetches them when it has none, and refetches on an
  unknown `kid` at most once per cooldown.
- A token without `kid` is tried against each key of the right type; it is accepted only when
  one of them verifies it.
- Keys of an unknown type, or that PyJWT cannot load, are skipped (RFC 7517 §5).
- Without any JWKS URI (an IdP that publishes no keys and no discovery document), an id_token
  received directly from the token endpoint over TLS may stand on that channel instead of its
  signature (OIDC Core §3.1.3.7 (6)): the caller says so with `unsigned_over_tls`, and every
  other check still runs (`aud`, `azp`, `exp`, `iat`, `sub`, `nonce`, and `iss` when an issuer
  is known). `alg: none` is refused even then.
- A JWT access token that names the participant is held to RFC 9068 §4 (`access_token_validate`):
  signature with the IdP's keys, `typ` `at+jwt` when present, `iss`, `exp`, and our client id in
  `aud` or `client_id`.
"""

import hashlib
import hmac
import ipaddress
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt
from django.conf import settings
from django.core.cache import cache
from jwt.exceptions import PyJWKError, PyJWTError
from jwt.utils import base64url_decode

from core.json_input import JSONDepthError, json_depth_check, json_loads_bounded
from integrations.egress.policy import EgressError, Purpose
from integrations.egress.transport import send

logger = logging.getLogger(__name__)

ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)
# Every JWS algorithm an unsigned-over-TLS id_token may name: its signature is not checked, but
# `none` (and anything unregistered) is still no id_token at all (RFC 7518 §3.1).
REGISTERED_ALGORITHMS = ASYMMETRIC_ALGORITHMS | {"HS256", "HS384", "HS512", "EdDSA", "Ed25519"}
ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
_KEY_TYPE_FOR_ALG_PREFIX = {"RS": "RSA", "PS": "RSA", "ES": "EC"}
JWKS_MAX_BYTES = 256 * 1024
SUB_MAX_LENGTH = 255


class TokenError(Exception):
    """A token failed validation. `code` is stable and safe to show; `detail` is for the log."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class KeySource:
    """Where the keys of one IdP live, and how long we wait for them."""

    jwks_uri: str
    connect_timeout: float = 5.0
    read_timeout: float = 10.0


# ---------------------------------------------------------------------------- JWKS cache
def _cache_key(prefix: str, jwks_uri: str) -> str:
    return f"{prefix}:{hashlib.sha256(jwks_uri.encode()).hexdigest()}"


def _jwks_fetch(source: KeySource) -> dict:
    try:
        response = send(
            "GET",
            source.jwks_uri,
            purpose=Purpose.IDP,
            timeout=(source.connect_timeout, source.read_timeout),
            # A JWKS endpoint that trickles its answer must not hold the login for long.
            total_timeout=source.connect_timeout + source.read_timeout,
            max_bytes=JWKS_MAX_BYTES,
            headers={"Accept": "application/json"},
        )
    except EgressError as exc:
        raise TokenError("jwks_unavailable", f"JWKS fetch failed: {exc.reason}") from exc
    if response.status_code != 200:
        raise TokenError("jwks_unavailable", f"JWKS answered HTTP {response.status_code}")
    try:
        jwks = json_loads_bounded(response.content)
    except JSONDepthError as exc:
        raise TokenError(
            "jwks_unavailable", f"JWKS is nested more than {exc.max_depth} levels deep"
        ) from exc
    except ValueError as exc:
        raise TokenError("jwks_unavailable", "JWKS is not JSON") from exc
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise TokenError("jwks_unavailable", "JWKS has no 'keys' list")
    return jwks


def jwks_get(*, source: KeySource, refresh: bool = False) -> dict:
    """The JWKS of `source`, from the cache when possible.

    `refresh=True` asks for a fresh copy (unknown `kid`); it is honoured at most once per
    cooldown per `jwks_uri`, otherwise the cached copy is returned. Raises TokenError.

    A shared cache that fails (Redis down) never fails the login: the keys come from this
    process's own copy (`process_jwks`), or are fetched and kept there.
    """
    key = _cache_key("jwks", source.jwks_uri)
    try:
        cached = cache.get(key)
    # Cache clients raise their own errors (redis.exceptions.*), not Django ones.
    except Exception:
        logger.warning("JWKS cache unavailable: using this process's copy", exc_info=True)
        return process_jwks.get(source, refresh=refresh)
    if cached is not None and not refresh:
        process_jwks.keep(source.jwks_uri, cached)
        return cached
    if cached is not None:
        cooldown_key = _cache_key("jwks-refetch", source.jwks_uri)
        # cache.add is atomic: only one process wins the refetch slot per cooldown.
        if not _cache_call(
            cache.add, cooldown_key, True, timeout=settings.JWKS_REFETCH_COOLDOWN_SECONDS
        ):
            logger.info("jwks refetch skipped: cooldown active")
            return cached
    try:
        jwks = _jwks_fetch(source)
    except TokenError:
        if cached is not None:
            return cached
        raise
    process_jwks.keep(source.jwks_uri, jwks, fetched=True)
    _cache_call(cache.set, key, jwks, timeout=settings.JWKS_CACHE_SECONDS)
    if cached is None:
        # A first fetch also starts the cooldown: an unknown kid right after it is not refetched.
        _cache_call(
            cache.add,
            _cache_key("jwks-refetch", source.jwks_uri),
            True,
            timeout=settings.JWKS_REFETCH_COOLDOWN_SECONDS,
        )
    return jwks


def _cache_call(method, *args, **kwargs) -> bool:
    """A cache write that may fail (the cache went down mid-login): the keys we hold are good
    whatever happens to the cache. False when it failed (no cooldown slot won either)."""
    try:
        return bool(method(*args, **kwargs))
    except Exception:
        logger.warning("JWKS cache unavailable: keys not shared", exc_info=True)
        return False


class ProcessJWKS:
    """Each process's own copy of the key sets it saw, for when the shared cache is down.

    While the cache answers it is only written (a copy of what the cache holds); while it does
    not, keys are read from here, fetched when this process has none younger than
    JWKS_CACHE_SECONDS, and an unknown `kid` refetches at most once per cooldown per process.
    Bounded: JWKS URIs come from the integrations, not from participants.
    """

    MAX_ENTRIES = 500

    def __init__(self) -> None:
        # jwks_uri -> (keys, when they were fetched or first seen, when last refetched)
        self._entries: dict[str, tuple[dict, float, float]] = {}
        self._lock = threading.Lock()

    def keep(self, jwks_uri: str, jwks: dict, *, fetched: bool = False) -> None:
        entry = self._entries.get(jwks_uri)
        now = time.monotonic()
        if (
            not fetched
            and entry is not None
            and entry[0] == jwks
            and now - entry[1] < settings.JWKS_CACHE_SECONDS
        ):
            return  # the same keys, still young: they keep their age
        with self._lock:
            if len(self._entries) >= self.MAX_ENTRIES and jwks_uri not in self._entries:
                self._entries.clear()
            self._entries[jwks_uri] = (jwks, now, now if fetched else float("-inf"))

    def get(self, source: KeySource, *, refresh: bool) -> dict:
        now = time.monotonic()
        entry = self._entries.get(source.jwks_uri)
        if entry is not None and now - entry[1] >= settings.JWKS_CACHE_SECONDS:
            entry = None  # expired, as the shared copy would have
        if entry is not None and not refresh:
            return entry[0]
        if entry is not None and now - entry[2] < settings.JWKS_REFETCH_COOLDOWN_SECONDS:
            logger.info("jwks refetch skipped: cooldown active (process copy)")
            return entry[0]
        try:
            jwks = _jwks_fetch(source)
        except TokenError:
            if entry is not None:
                return entry[0]
            raise
        self.keep(source.jwks_uri, jwks, fetched=True)
        return jwks

    def clear(self) -> None:
        self._entries.clear()


process_jwks = ProcessJWKS()


class ParsedKeys:
    """The usable keys of each key set this process last saw, parsed once: PyJWK builds a key
    object from a JWK's numbers, and the same key set arrives on every callback. Reused only
    for a key set equal to the one they were parsed from (a rotation parses again); bounded like
    ProcessJWKS. The key objects are immutable, shared by every thread."""

    MAX_ENTRIES = 500

    def __init__(self) -> None:
        # (jwks_uri, alg) -> (the key set, its usable keys)
        self._entries: dict[tuple[str, str], tuple[dict, list]] = {}

    def usable_keys(self, jwks_uri: str, jwks: dict, alg: str) -> list[tuple[str | None, Any]]:
        entry = self._entries.get((jwks_uri, alg))
        if entry is not None and entry[0] == jwks:
            return entry[1]
        keys = _usable_keys(jwks, alg)
        if len(self._entries) >= self.MAX_ENTRIES:
            self._entries.clear()
        self._entries[(jwks_uri, alg)] = (jwks, keys)
        return keys

    def clear(self) -> None:
        self._entries.clear()


parsed_keys = ParsedKeys()


def _usable_keys(jwks: dict, alg: str) -> list[tuple[str | None, Any]]:
    """(kid, key) pairs that may verify a token signed with `alg`; unknown keys are skipped."""
    wanted_kty = _KEY_TYPE_FOR_ALG_PREFIX.get(alg[:2])
    keys = []
    for data in jwks.get("keys", []):
        if not isinstance(data, dict) or data.get("kty") != wanted_kty:
            continue
        if data.get("use", "sig") != "sig" or data.get("alg", alg) != alg:
            continue
        try:
            jwk = jwt.PyJWK(data, algorithm=alg)
        except (PyJWKError, PyJWTError, ValueError, TypeError, KeyError):
            continue
        kid = data.get("kid")
        keys.append((kid if isinstance(kid, str) else None, jwk.key))
    return keys


# ---------------------------------------------------------------------------- signatures
def _segments_read(token: str) -> dict:
    """The header, with header and payload refused when nested deeper than json_input's bound
    before PyJWT parses them: PyJWT reads the header before any signature check, and its
    json.loads has no bound of its own (older releases let RecursionError through)."""
    header_segment, payload_segment, _signature = token.split(".")
    header = _segment_read(header_segment, "header", json_loads_bounded)
    _segment_read(payload_segment, "payload", json_depth_check)
    if not isinstance(header, dict):
        raise TokenError("id_token_malformed", "the header is not a JSON object")
    if not isinstance(header.get("kid", ""), str):
        raise TokenError("id_token_malformed", "kid is not a string")
    return header


def _segment_read(segment: str, part: str, read: Callable[[bytes], Any]) -> Any:
    try:
        return read(base64url_decode(segment))
    except JSONDepthError as exc:
        raise TokenError(
            "id_token_too_deep", f"the {part} is nested more than {exc.max_depth} levels deep"
        ) from None
    except ValueError as exc:
        # Not base64url, not text or not JSON: PyJWT would refuse it just the same.
        raise TokenError("id_token_malformed", f"{part} cannot be decoded") from exc


def _header(token: str) -> dict:
    """The header, read to choose the algorithm and the key, nothing more: `jwt.decode` reads it
    again and checks the signature over it, with its algorithms pinned to the one chosen here.
    Read from its own segment (jwt.get_unverified_header would decode the whole token, the
    signature included, which jwt.decode then does again)."""
    if not isinstance(token, str) or token.count(".") != 2:
        # Five parts would be a JWE: we do not accept encrypted tokens.
        raise TokenError("id_token_malformed", "not a three-part JWS")
    return _segments_read(token)


def _algorithm(header: dict) -> str:
    alg = header.get("alg")
    if alg not in ASYMMETRIC_ALGORITHMS:
        raise TokenError("id_token_unsupported_alg", f"alg {str(alg)[:20]!r} is not allowed")
    return alg


def _verify(token: str, key, alg: str, *, leeway: int) -> dict:
    """Signature, exp and iat; the claims checks with our own error codes follow."""
    return jwt.decode(
        token,
        key=key,
        algorithms=[alg],
        leeway=leeway,
        options={
            "verify_aud": False,
            "verify_iss": False,
            "require": ["exp", "iat"],
        },
    )


def _decode_with_keys(token: str, keys, alg: str, *, leeway: int) -> dict:
    last_error: Exception | None = None
    for _kid, key in keys:
        try:
            return _verify(token, key, alg, leeway=leeway)
        except jwt.exceptions.InvalidSignatureError as exc:
            last_error = exc
    raise TokenError("id_token_invalid_signature", "no key verifies the signature") from last_error


def _signed_claims(token: str, *, source: KeySource, leeway: int, refetch: bool) -> dict:
    header = _header(token)
    alg = _algorithm(header)
    kid = header.get("kid")
    jwks = jwks_get(source=source)
    keys = parsed_keys.usable_keys(source.jwks_uri, jwks, alg)
    if kid is not None:
        keys = [(k, key) for k, key in keys if k == kid]
        if not keys and refetch:
            # The IdP may have rotated its keys since we cached them (OIDC Core §10.1.1).
            jwks = jwks_get(source=source, refresh=True)
            usable = parsed_keys.usable_keys(source.jwks_uri, jwks, alg)
            keys = [(k, key) for k, key in usable if k == kid]
    if not keys:
        raise TokenError("id_token_unknown_key", "no key in the JWKS matches kid and alg")
    try:
        return _decode_with_keys(token, keys, alg, leeway=leeway)
    except jwt.exceptions.ExpiredSignatureError as exc:
        raise TokenError("id_token_expired", "exp has passed (beyond the leeway)") from exc
    except jwt.exceptions.ImmatureSignatureError as exc:
        raise TokenError(
            "id_token_not_yet_valid", "iat or nbf in the future beyond the leeway: clock skew?"
        ) from exc
    except jwt.exceptions.MissingRequiredClaimError as exc:
        raise TokenError("id_token_missing_claim", f"missing {exc.claim}") from exc
    except jwt.exceptions.InvalidSubjectError as exc:
        raise TokenError("id_token_invalid_subject", "sub is not a string") from exc
    except jwt.exceptions.InvalidTokenError as exc:
        raise TokenError("id_token_malformed", type(exc).__name__) from exc


def tls_stands_in_for_signatures(token_endpoint: str) -> bool:
    """May an id_token from this token endpoint go without a signature check (no keys known)?

    Only when the token endpoint's answer came over TLS: https, whose certificate the egress
    guard verifies. Plain http to a loopback IdP counts only where development opened it
    (ALLOW_HTTP_LOOPBACK_ENDPOINTS, in force with DEBUG alone): there the token never leaves
    the machine, which is what TLS would have given; anywhere else an http answer could have
    been written by anyone on the path.
    """
    parts = urlsplit(token_endpoint)
    if parts.scheme == "https":
        return True
    host = (parts.hostname or "").lower()
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost" or host.endswith(".localhost")
    return parts.scheme == "http" and loopback and settings.ALLOW_HTTP_LOOPBACK_ENDPOINTS


def _unsigned_claims(token: str, *, leeway: int) -> dict:
    """The claims of an id_token whose signature the TLS channel stands in for; exp and iat are
    still checked. Only for a token read from the token endpoint's own answer."""
    header = _header(token)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in REGISTERED_ALGORITHMS:
        raise TokenError("id_token_unsupported_alg", f"alg {str(alg)[:20]!r} is not allowed")
    try:
        return jwt.decode(
            token,
            options={
                "verify_signature": False,
                "verify_exp": True,
                "verify_iat": True,
                "require": ["exp", "iat"],
            },
            leeway=leeway,
        )
    except jwt.exceptions.ExpiredSignatureError as exc:
        raise TokenError("id_token_expired", "exp has passed (beyond the leeway)") from exc
    except jwt.exceptions.ImmatureSignatureError as exc:
        raise TokenError(
            "id_token_not_yet_valid", "iat or nbf in the future beyond the leeway: clock skew?"
        ) from exc
    except jwt.exceptions.MissingRequiredClaimError as exc:
        raise TokenError("id_token_missing_claim", f"missing {exc.claim}") from exc
    except jwt.exceptions.InvalidTokenError as exc:
        raise TokenError("id_token_malformed", type(exc).__name__) from exc


# ---------------------------------------------------------------------------- id_token
def _check_claims(
    claims: dict,
    *,
    issuer: str,
    client_id: str,
    nonce: str | None,
    max_age: int,
    leeway: int,
) -> None:
    # Simple string comparison, no normalisation (RFC 9207 §2.4 spirit; OIDC Core §3.1.3.7 (2)).
    # No issuer is known only for an unsigned id_token (id_token_validate refuses it otherwise).
    if issuer and (not isinstance(claims.get("iss"), str) or claims["iss"] != issuer):
        raise TokenError("id_token_wrong_issuer", "iss differs from the expected issuer")
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud
    if not isinstance(audiences, list) or client_id not in audiences:
        raise TokenError("id_token_wrong_audience", "aud does not contain our client_id")
    if any(a != client_id for a in audiences):
        # We trust no other audience (OIDC Core §3.1.3.7 (3)).
        raise TokenError("id_token_wrong_audience", "aud contains untrusted audiences")
    if ("azp" in claims or len(audiences) > 1) and claims.get("azp") != client_id:
        raise TokenError("id_token_wrong_audience", "azp differs from our client_id")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > SUB_MAX_LENGTH:
        raise TokenError("id_token_invalid_subject", "sub missing, not a string or too long")
    iat = claims.get("iat")
    if isinstance(iat, int | float) and iat < time.time() - max_age - leeway:
        raise TokenError("id_token_expired", "iat too old: clock skew or a replayed token?")
    if nonce is not None:
        received = claims.get("nonce")
        if not isinstance(received, str) or not _equal(received, nonce):
            raise TokenError("id_token_nonce_mismatch", "nonce missing or different")


def _equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def id_token_validate(
    *,
    token: str,
    source: KeySource | None,
    issuer: str,
    client_id: str,
    nonce: str | None,
    unsigned_over_tls: bool = False,
) -> dict:
    """The claims of a valid id_token; raises TokenError with a stable `code` otherwise.

    `issuer` is the one bound to the login attempt when it started, `nonce` the one we sent
    (None when we sent none). `unsigned_over_tls`: there are no keys, and the caller read the
    token from the token endpoint's answer over TLS (see the module docstring); without it a
    token is never accepted without its signature.
    """
    leeway = settings.ID_TOKEN_LEEWAY_SECONDS
    if source is None or not source.jwks_uri:
        if not unsigned_over_tls:
            raise TokenError("id_token_no_keys", "the integration has no JWKS URI")
        claims = _unsigned_claims(token, leeway=leeway)
    else:
        if not issuer:
            raise TokenError("id_token_wrong_issuer", "the integration has no issuer configured")
        claims = _signed_claims(token, source=source, leeway=leeway, refetch=True)
    _check_claims(
        claims,
        issuer=issuer,
        client_id=client_id,
        nonce=nonce,
        max_age=settings.ID_TOKEN_MAX_AGE_SECONDS,
        leeway=leeway,
    )
    return claims


# ---------------------------------------------------------------------------- access token
def looks_like_jwt(token: Any) -> bool:
    return isinstance(token, str) and token.count(".") == 2 and token.startswith("eyJ")


def access_token_claims(*, token: str, source: KeySource | None, issuer: str) -> dict | None:
    """The claims of a JWT access token when we can verify it, else None.

    Access tokens are meant for the resource server, not for us: their claims only feed the
    profile mapping, never the participant's identity. Unverifiable ones (opaque, foreign keys,
    no JWKS) are ignored rather than trusted.
    """
    if not looks_like_jwt(token) or source is None or not source.jwks_uri:
        return None
    try:
        claims = _signed_claims(
            token, source=source, leeway=settings.ID_TOKEN_LEEWAY_SECONDS, refetch=False
        )
    except TokenError as exc:
        logger.info("access token claims ignored: %s", exc.code)
        return None
    if issuer and claims.get("iss") != issuer:
        logger.info("access token claims ignored: iss differs")
        return None
    return claims


def access_token_validate(*, token: str, source: KeySource | None, issuer: str, client_id: str):
    """The claims of a JWT access token that may name the participant (RFC 9068 §4).

    Stricter than `access_token_claims`: the token must be a JWT signed by a key at the IdP's
    JWKS URI, with `typ` `at+jwt` when the header has one, `iss` equal to the integration's
    issuer, an `exp` to come, and our client id in `aud` or `client_id`: a token the IdP issued
    to another client, or for an API alone, names nobody to us. Raises TokenError with
    `access_token_*` codes (or `jwks_unavailable`).
    """
    if not isinstance(token, str) or token.count(".") != 2:
        raise TokenError("access_token_not_jwt", "the access token is not a JWT")
    if source is None or not source.jwks_uri:
        raise TokenError("access_token_no_keys", "the integration has no JWKS URI")
    if not issuer:
        raise TokenError("access_token_wrong_issuer", "the integration has no issuer configured")
    try:
        typ = _header(token).get("typ")
        claims = _signed_claims(
            token, source=source, leeway=settings.ID_TOKEN_LEEWAY_SECONDS, refetch=True
        )
    except TokenError as exc:
        if exc.code == "jwks_unavailable":
            raise
        code = exc.code.replace("id_token_", "access_token_", 1)
        raise TokenError(code, exc.detail) from exc
    if typ is not None and (not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES):
        raise TokenError("access_token_wrong_type", "typ is not at+jwt")
    if claims.get("iss") != issuer:
        raise TokenError("access_token_wrong_issuer", "iss differs from the expected issuer")
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if client_id not in audiences and claims.get("client_id") != client_id:
        raise TokenError(
            "access_token_wrong_audience", "neither aud nor client_id names our client id"
        )
    return claims

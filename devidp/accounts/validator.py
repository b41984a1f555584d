"""The development IdP's OAuth2Validator: profile claims by scope, exact redirect URIs."""

from oauth2_provider.oauth2_validators import OAuth2Validator

from devidp.accounts.claims import CUSTOM_SCOPE, LOYALTY_ID_CLAIM, profile_claims
from devidp.accounts.models import Profile


class DevIdPValidator(OAuth2Validator):
    # DOT releases a claim only when the scope named here was granted. Only the claims this IdP
    # gives are listed, so that discovery's claims_supported is true.
    oidc_claim_scope = {
        "sub": "openid",
        "preferred_username": "profile",
        "given_name": "profile",
        "family_name": "profile",
        "name": "profile",
        "gender": "profile",
        "birthdate": "profile",
        "locale": "profile",
        "email": "email",
        "email_verified": "email",
        "address": "address",
        "phone_number": "phone",
        "optin_newsletter": CUSTOM_SCOPE,
        "optin_partners": CUSTOM_SCOPE,
        LOYALTY_ID_CLAIM: CUSTOM_SCOPE,
    }

    def get_additional_claims(self, request):
        profile = Profile.objects.select_related("user").filter(user=request.user).first()
        if profile is None:
            # A user made outside the seed command (e.g. createsuperuser): names and e-mail only.
            user = request.user
            claims = {
                "given_name": user.first_name,
                "family_name": user.last_name,
                "name": user.get_full_name(),
                "email": user.email,
            }
            return {key: value for key, value in claims.items() if value}
        return profile_claims(profile)

    def get_discovery_claims(self, request):
        # DOT can only list claims it can compute without a request; ours need the user.
        return sorted(self.oidc_claim_scope)

    def validate_redirect_uri(self, client_id, redirect_uri, request, *args, **kwargs):
        # Simple string comparison (OIDC Core §3.1.2.1, RFC 9700 §4.1.3). DOT also lets any
        # port through for http://127.0.0.1 (RFC 8252 §7.3, for native apps); our clients are
        # web apps, and tests must see a wrong port refused.
        registered = request.client.redirect_uris.split()
        return redirect_uri in registered and super().validate_redirect_uri(
            client_id, redirect_uri, request, *args, **kwargs
        )

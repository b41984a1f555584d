"""The claims the development IdP gives about a participant, by scope.

The same claims go into the id_token and the userinfo response (DOT builds both from
`get_additional_claims`). Shapes follow what real IdPs send: a nested OIDC `address`, a spaced
phone number, `optin_newsletter` as the *string* "true" (Keycloak), `optin_partners` as a real
boolean, and a claim named by a URL (Auth0).
"""

from devidp.accounts.models import Profile

LOYALTY_ID_CLAIM = "https://example.com/claims/loyalty_id"
CUSTOM_SCOPE = "campaign"


def profile_claims(profile: Profile) -> dict:
    """Every claim of the participant that has a value; empty ones are left out, as IdPs do."""
    user = profile.user
    address = {
        "street_address": profile.street_address,
        "locality": profile.locality,
        "postal_code": profile.postal_code,
        "country": profile.country,
    }
    claims = {
        "sub": str(profile.subject),
        "preferred_username": user.username,
        "given_name": user.first_name,
        "family_name": user.last_name,
        "name": user.get_full_name(),
        "email": user.email,
        "email_verified": bool(user.email),
        "gender": profile.gender,
        "birthdate": profile.birthdate.isoformat() if profile.birthdate else "",
        "locale": profile.locale,
        "phone_number": profile.phone_number,
        "address": {key: value for key, value in address.items() if value},
        "optin_newsletter": "true" if profile.optin_newsletter else "false",
        "optin_partners": profile.optin_partners,
        LOYALTY_ID_CLAIM: profile.loyalty_id,
    }
    return {key: value for key, value in claims.items() if value not in ("", {}, None)}

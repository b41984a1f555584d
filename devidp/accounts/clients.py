"""OAuth clients of the development IdP: confidential, authorization code, exact redirect URIs."""

from django.db import transaction
from oauth2_provider.models import Application

from devidp.accounts.models import ClientPolicy


@transaction.atomic
def client_register(
    *,
    client_id: str,
    client_secret: str,
    redirect_uris: list[str],
    pkce_required: bool,
    algorithm: str = Application.RS256_ALGORITHM,
    name: str = "",
) -> Application:
    """Create the client, or reset an existing one to exactly these settings (idempotent).

    Raises django.core.exceptions.ValidationError for an invalid redirect URI or algorithm.
    """
    application = Application.objects.filter(client_id=client_id).first() or Application(
        client_id=client_id
    )
    application.name = name or client_id
    application.client_type = Application.CLIENT_CONFIDENTIAL
    application.authorization_grant_type = Application.GRANT_AUTHORIZATION_CODE
    # DOT compares the redirect_uri of a request with these exactly.
    application.redirect_uris = " ".join(redirect_uris)
    application.post_logout_redirect_uris = ""
    application.algorithm = algorithm
    # HS256 signs with the secret itself, which must then be kept in clear.
    application.hash_client_secret = algorithm != Application.HS256_ALGORITHM
    application.client_secret = client_secret
    application.skip_authorization = False
    application.full_clean(exclude=["user"])
    application.save()
    ClientPolicy.objects.update_or_create(
        application=application, defaults={"pkce_required": pkce_required}
    )
    return application

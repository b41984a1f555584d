"""Which clients must use PKCE: DOT calls `PKCE_REQUIRED` with the client id."""

PKCE_CLIENT_ID_PREFIX = "pkce-"


def pkce_required(client_id: str) -> bool:
    """Required for a client seeded with `--pkce-required`, or whose id starts with `pkce-`."""
    if client_id.startswith(PKCE_CLIENT_ID_PREFIX):
        return True
    # Imported here: settings import this module before the app registry is ready.
    from devidp.accounts.models import ClientPolicy

    return ClientPolicy.objects.filter(
        application__client_id=client_id, pkce_required=True
    ).exists()
